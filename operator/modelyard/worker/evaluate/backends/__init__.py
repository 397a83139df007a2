"""Backends that run a model on batches: onnxruntime, torch, triton (KServe v2)."""

from __future__ import annotations

from pathlib import Path

from modelyard.api.evaluationjob import BackendSpec
from modelyard.api.modelversion import ModelVersion
from modelyard.worker.evaluate.backends.base import Backend
from modelyard.worker.evaluate.errors import EvaluationError
from modelyard.worker.evaluate.tensors import from_signature
from modelyard.worker.torchload import template_of

FORMATS = {"onnxruntime": ("onnx",),
           "torch": ("torchscript", "pytorch-exportedprogram", "pytorch-state-dict", "safetensors")}


def default_backend(format: str) -> str:
    """The backend for a version when the EvaluationJob names none: the one that runs its format."""
    return "torch" if format in FORMATS["torch"] else "onnxruntime"


def check_format(backend: str, format: str) -> None:
    """A clear error when a local backend cannot run the version's format."""
    if backend in FORMATS and format not in FORMATS[backend]:
        hint = ("convert it with a ConversionJob (target onnx), or evaluate it where it is served with backend triton"
                if backend == "onnxruntime" else "use backend onnxruntime for onnx, or triton for a served model")
        raise EvaluationError("BackendMismatch", f"backend {backend} runs {' or '.join(FORMATS[backend])} models but "
                              f"the version's format is {format}; {hint}")


def open_backend(spec: BackendSpec | None, hardware: str, version: ModelVersion, model_file: Path | None) -> Backend:
    """The backend the EvaluationJob asks for, loaded with the version's model file."""
    spec = spec or BackendSpec(type=default_backend(version.spec.format))
    if spec.type == "triton":
        from modelyard.worker.evaluate.backends.triton import TritonBackend

        return TritonBackend(spec.url or "", spec.model_name or "", spec.protocol)
    assert model_file is not None
    if spec.type == "onnxruntime":
        from modelyard.worker.evaluate.backends.onnxrt import OnnxRuntimeBackend

        return OnnxRuntimeBackend(model_file, hardware)
    from modelyard.worker.evaluate.backends.torchrt import TorchBackend

    signature = (version.status.signature if version.status else None) or version.spec.signature
    inputs = from_signature(signature.inputs) if signature else []
    outputs = from_signature(signature.outputs) if signature else []
    return TorchBackend(model_file, version.spec.format, inputs, outputs, hardware, template_of(version))


__all__ = ["Backend", "check_format", "default_backend", "open_backend"]
