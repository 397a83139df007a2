# syntax=docker/dockerfile:1.7
# The GPU worker: CUDA and TensorRT (trtexec) from NVIDIA's TensorRT image, onnxruntime-gpu
# in place of the CPU onnxruntime, the worker package on top.
ARG TENSORRT_IMAGE=nvcr.io/nvidia/tensorrt:25.01-py3

FROM ${TENSORRT_IMAGE}
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG ONNXRUNTIME_GPU_VERSION=1.22.0
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# Export and verification run torch on the CPU; TensorRT builds and runs the engine on the GPU.
RUN python3 -m pip install --no-cache-dir --extra-index-url "${TORCH_INDEX_URL}" '.[worker]' \
    && python3 -m pip uninstall -y onnxruntime \
    && python3 -m pip install --no-cache-dir "onnxruntime-gpu==${ONNXRUNTIME_GPU_VERSION}" \
    && rm -rf /src \
    && ln -sf "$(command -v python3)" /usr/local/bin/python \
    && ln -sf /usr/src/tensorrt/bin/trtexec /usr/local/bin/trtexec \
    && trtexec --help > /dev/null \
    && python -c "import onnxruntime, modelyard.worker; assert 'CUDAExecutionProvider' in onnxruntime.get_available_providers()"
WORKDIR /work
USER 65532:65532
ENV HOME=/tmp MPLCONFIGDIR=/tmp/matplotlib XDG_CACHE_HOME=/tmp/.cache PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ENTRYPOINT []
CMD ["python", "-m", "modelyard.worker", "--help"]
