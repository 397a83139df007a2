"""ONNX Runtime: CPUExecutionProvider, or CUDAExecutionProvider when the job runs on gpu.

On gpu, CUDA is requested explicitly and its absence is an error: ONNX Runtime otherwise falls
back to the CPU without a word, and the latencies would describe the wrong hardware.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelyard.worker.evaluate.backends.base import Backend
from modelyard.worker.evaluate.errors import EvaluationError
from modelyard.worker.evaluate.tensors import from_ort

PROVIDERS = {"cpu": "CPUExecutionProvider", "arm": "CPUExecutionProvider", "gpu": "CUDAExecutionProvider",
             "ascend": "CANNExecutionProvider"}


class OnnxRuntimeBackend(Backend):
    def __init__(self, path: Path, hardware: str = "cpu"):
        import onnxruntime as ort

        provider = PROVIDERS[hardware]
        available = ort.get_available_providers()
        if provider not in available:
            raise EvaluationError("AcceleratorUnavailable", f"hardware {hardware} needs onnxruntime's {provider}, which "
                                  f"this worker lacks (available: {', '.join(available)}); use a worker image with "
                                  "onnxruntime-gpu (or the matching build) on a node with the device")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(path), options, providers=[provider])
        except Exception as error:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise EvaluationError("InvalidModel", f"onnxruntime cannot load {path.name}: {error}") from None
        if self._session.get_providers()[0] != provider:
            raise EvaluationError("AcceleratorUnavailable", f"onnxruntime could not start {provider} on this node "
                                  f"(got {', '.join(self._session.get_providers())}); check the driver and CUDA libraries")
        self.inputs = from_ort(self._session.get_inputs())
        self.outputs = from_ort(self._session.get_outputs())
        self._first = [self.outputs[0].name]
        self.description = f"onnxruntime {ort.__version__} ({provider})"

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self._session.run(self._first, feed)[0]
