# syntax=docker/dockerfile:1.7
# The read-only web console: the control plane package with its `console` extra (Flask, waitress),
# never torch or an inference runtime. Build context: the repository root (hack/build-images.sh).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[console]'

FROM ${PYTHON_IMAGE}
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir /wheels/*.whl \
    && python -c "import modelyard.console.app, sys; assert 'torch' not in sys.modules"
# Non-root, numeric (Kubernetes can check runAsNonRoot only against a numeric user);
# 65532 is modelyard.workloads.security.NON_ROOT_UID.
USER 65532:65532
ENV HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
EXPOSE 8090
ENTRYPOINT ["modelyard"]
CMD ["console", "--address=0.0.0.0", "--all-namespaces"]
