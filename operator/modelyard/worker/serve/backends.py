"""One small class per runtime, with the contract of KServe's `Model`: loaded once, then
`predict` maps input name -> array to output name -> array. The server owns the protocol,
health and metrics.

Each format runs on the runtime that verified it in the conversion (worker/convert/runners.py);
a format the built-in server does not run is refused with what serves it, never a fallback."""

from __future__ import annotations

import os
import threading
import warnings
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from modelyard.api.common import Signature
from modelyard.worker.convert.runners import flatten, zipmaps_of
from modelyard.worker.convert.zipmap import as_tensor
from modelyard.worker.serve.artifact import runtime_format
from modelyard.worker.serve.errors import ServeError
from modelyard.worker.serve.tensors import Tensor, from_signature

SERVED = ("onnx", "onnx-fp16", "onnx-int8", "openvino", "torchscript")
ELSEWHERE = {
    "tensorrt-plan": "Triton Inference Server's TensorRT backend (a ModelDeployment with backend kserve, Triton "
                     "runtime, on a gpu node)",
    "ascend-om": "MindIE or a KServe runtime with CANN on an Ascend node",
}
OPENVINO_PRECISION = "MODELYARD_OPENVINO_PRECISION"
"""Environment override of OpenVINO's inference precision (default f32)."""
_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
              "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int16)": "int16", "tensor(int8)": "int8",
              "tensor(uint8)": "uint8", "tensor(bool)": "bool"}


class Backend(ABC):
    """A loaded model."""

    platform: str
    """The model metadata's `platform`, as Triton names it."""
    description: str
    inputs: list[Tensor]
    outputs: list[Tensor]
    """What the runtime itself declares (the signature, where the version has one, wins)."""

    @abstractmethod
    def predict(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Infer one request; thread-safe."""


class OnnxRuntime(Backend):
    platform = "onnxruntime_onnx"

    def __init__(self, path: Path, device: str, threads: int):
        import onnxruntime as ort

        available = ort.get_available_providers()
        if device == "gpu":
            providers = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in available]
            if not providers:
                raise ServeError("AcceleratorUnavailable", "--device gpu needs onnxruntime's CUDAExecutionProvider or "
                                 f"TensorrtExecutionProvider, which this image lacks (available: {', '.join(available)}); "
                                 "use a worker image with onnxruntime-gpu on a node with the device")
        else:
            providers = ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Concurrent requests share the cores: threads spinning between requests would take
        # them from the request being computed.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as error:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise ServeError("InvalidModel", f"onnxruntime cannot load {path.name}: {error}") from None
        if self._session.get_providers()[0] != providers[0]:
            raise ServeError("AcceleratorUnavailable", f"onnxruntime could not start {providers[0]} (got "
                             f"{', '.join(self._session.get_providers())}); check the driver and CUDA libraries")
        self.inputs = _ort_tensors(self._session.get_inputs())
        declared = self._session.get_outputs()
        # A ZipMap's maps are served as the tensor the version's signature describes (zipmap.py).
        self._zipped = zipmaps_of(path) if any(o.type.startswith("seq(") for o in declared) else {}
        self.outputs = [Tensor(o.name, "float32", (-1, len(self._zipped[o.name].labels))) if o.name in self._zipped
                        else _ort_tensors([o])[0] for o in declared]
        self._names = [t.name for t in self.outputs]
        self.description = f"onnxruntime {ort.__version__} ({self._session.get_providers()[0]}, {threads} threads)"

    def predict(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        found = self._session.run(self._names, feed)
        return {name: as_tensor(value, self._zipped[name]) if name in self._zipped else value
                for name, value in zip(self._names, found, strict=True)}


class OpenVino(Backend):
    platform = "openvino"

    def __init__(self, xml: Path, device: str, threads: int):
        import openvino as ov

        if device != "cpu":
            raise ServeError("AcceleratorUnavailable", f"the built-in server runs OpenVINO models on cpu, not {device}")
        # f32: the precision the conversion verified at. OpenVINO's CPU plugin otherwise runs
        # bf16 on CPUs that have it (AVX512_BF16, AMX), and the endpoint would compute something
        # other than what was verified. The override exists for nodes where that is wanted.
        precision = os.environ.get(OPENVINO_PRECISION) or "f32"
        try:
            self._compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": precision,
                                                                       "INFERENCE_NUM_THREADS": threads})
        except Exception as error:  # noqa: BLE001
            raise ServeError("InvalidModel", f"openvino cannot load {xml.name} at precision {precision}: {error}") from None
        self._local = threading.local()
        self.inputs = [_ov_tensor(port) for port in self._compiled.inputs]
        self.outputs = [_ov_tensor(port) for port in self._compiled.outputs]
        self.description = f"openvino {ov.__version__} (CPU, {precision}, {threads} threads)"

    def predict(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # One infer request per serving thread: a request object is not safe to share.
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        result = request.infer(feed)
        return {t.name: np.array(result[port]) for t, port in zip(self.outputs, self._compiled.outputs, strict=True)}


class TorchScript(Backend):
    platform = "pytorch_libtorch"

    def __init__(self, path: Path, device: str, threads: int, signature: Signature | None):
        import torch

        if signature is None:
            raise ServeError("SignatureMissing", f"{path.name}: a torchscript file does not record its inputs; "
                             "the ModelVersion needs spec.signature to be served")
        if device == "gpu" and not torch.cuda.is_available():
            raise ServeError("AcceleratorUnavailable", "--device gpu but torch sees no CUDA device on this node")
        self._device = torch.device("cuda" if device == "gpu" else "cpu")
        torch.set_num_threads(threads)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                # torch.jit.load reads the TorchScript archive, no pickled Python objects
                self._module = torch.jit.load(str(path), map_location=self._device).eval()
        except Exception as error:  # noqa: BLE001
            raise ServeError("InvalidModel", f"torch cannot load {path.name} as torchscript: {error}") from None
        self._torch = torch
        self.inputs, self.outputs = from_signature(signature)
        self.description = f"torch {torch.__version__} (torchscript, {self._device.type}, {threads} threads)"

    def predict(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        args = [torch.from_numpy(np.array(feed[t.name])).to(self._device) for t in self.inputs]
        with torch.inference_mode():
            values = flatten(self._module(*args))
        return {t.name: v.detach().cpu().numpy() for t, v in zip(self.outputs, values, strict=False)}


def open_backend(format: str, path: Path, device: str, threads: int, signature: Signature | None) -> Backend:
    """The backend that runs `format`; a clear refusal for every other format."""
    if format not in SERVED:
        where = ELSEWHERE.get(format, "a ConversionJob to onnx, openvino or torchscript first, then this server")
        raise ServeError("FormatNotServed", f"the built-in server does not run format {format}; it runs "
                         f"{', '.join(SERVED)}. Serve {format} with {where}")
    kind = runtime_format(format)
    if kind == "onnx":
        return OnnxRuntime(path, device, threads)
    if kind == "openvino":
        return OpenVino(path, device, threads)
    return TorchScript(path, device, threads, signature)


def _ort_tensors(args: list) -> list[Tensor]:
    return [Tensor(a.name, _ORT_TYPES.get(a.type, a.type),
                   tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (a.shape or ()))) for a in args]


def _ov_tensor(port) -> Tensor:  # noqa: ANN001 - an openvino port
    shape = tuple(d.get_length() if d.is_static else -1 for d in port.get_partial_shape())
    return Tensor(port.get_any_name(), port.get_element_type().to_dtype().name, shape)
