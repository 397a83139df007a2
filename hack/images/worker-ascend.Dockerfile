# syntax=docker/dockerfile:1.7
# The Ascend worker: Huawei CANN (the `atc` model compiler) with the worker package.
# The CANN image must carry Python >= 3.11 (the package's floor); the build checks both.
ARG CANN_IMAGE=ascendai/cann:8.1.rc1-910b-ubuntu22.04-py3.11

FROM ${CANN_IMAGE}
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG ASCEND_ENV=/usr/local/Ascend/ascend-toolkit/set_env.sh
USER root
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# Jobs override the entrypoint, so CANN's environment (PATH, LD_LIBRARY_PATH, ASCEND_*) is
# loaded by the `python` the Job runs: a wrapper that sources set_env.sh first.
RUN python3 -c "import sys; assert sys.version_info >= (3, 11), sys.version" \
    && python3 -m pip install --no-cache-dir --extra-index-url "${TORCH_INDEX_URL}" '.[worker]' \
    && rm -rf /src \
    && mkdir -p /opt/modelyard/bin \
    && printf '#!/bin/sh\n. %s\nexec %s "$@"\n' "${ASCEND_ENV}" "$(command -v python3)" > /opt/modelyard/bin/python \
    && chmod 0755 /opt/modelyard/bin/python \
    && { sh -c ". ${ASCEND_ENV} && command -v atc" > /dev/null || { echo "no atc in ${CANN_IMAGE}" >&2; exit 1; }; }
ENV PATH=/opt/modelyard/bin:$PATH
WORKDIR /work
USER 65532:65532
ENV HOME=/tmp MPLCONFIGDIR=/tmp/matplotlib XDG_CACHE_HOME=/tmp/.cache PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ENTRYPOINT []
CMD ["python", "-m", "modelyard.worker", "--help"]
