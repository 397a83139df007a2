# syntax=docker/dockerfile:1.7
# The CPU worker (linux/amd64 and linux/arm64): import, convert (ONNX, INT8, OpenVINO,
# TorchScript) and evaluate. Jobs run `python -m modelyard.worker <command>`.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE}
# torch's default wheel on x86_64 is a multi-GB CUDA build; the CPU index has the same version.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir --extra-index-url "${TORCH_INDEX_URL}" '.[worker]' \
    && rm -rf /src \
    && python -c "import torch, onnxruntime, modelyard.worker; assert not torch.cuda.is_available()"
WORKDIR /work
USER 65532:65532
# The root filesystem is read-only in Jobs: caches go to the /tmp emptyDir.
ENV HOME=/tmp MPLCONFIGDIR=/tmp/matplotlib XDG_CACHE_HOME=/tmp/.cache PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ENTRYPOINT []
CMD ["python", "-m", "modelyard.worker", "--help"]
