"""torch: TorchScript, ExportedProgram, and weights (state dict, safetensors) loaded into their
template's architecture (worker/torchload.py).

No loader unpickles arbitrary Python objects; pickled modules (`torch.save(model)`) are not
accepted. Inputs come from the version's signature (TorchScript does not record one); an
ExportedProgram without a signature is described by its own input placeholders.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.worker.evaluate.backends.base import Backend
from modelyard.worker.evaluate.errors import EvaluationError
from modelyard.worker.evaluate.tensors import TensorInfo
from modelyard.worker.torchload import ArchitectureMissing, load_module


def _exported_inputs(program: object) -> list[TensorInfo]:
    names = set(program.graph_signature.user_inputs)  # type: ignore[attr-defined]
    found = []
    for node in program.graph.nodes:  # type: ignore[attr-defined]
        if node.op == "placeholder" and node.name in names:
            value = node.meta.get("val")
            shape = tuple(d if isinstance(d, int) else -1 for d in value.shape)
            found.append(TensorInfo(node.name, str(value.dtype).removeprefix("torch."), shape))
    return found


class TorchBackend(Backend):
    def __init__(self, path: Path, format: str, inputs: list[TensorInfo], outputs: list[TensorInfo], hardware: str = "cpu",
                 template: Any = None):
        import torch

        if hardware == "gpu" and not torch.cuda.is_available():
            raise EvaluationError("AcceleratorUnavailable", "hardware gpu but torch sees no CUDA device on this node")
        if hardware not in ("cpu", "gpu", "arm"):
            raise EvaluationError("AcceleratorUnavailable", f"the torch backend does not run on {hardware}; "
                                  "convert the version and use onnxruntime or triton")
        self._device = torch.device("cuda" if hardware == "gpu" else "cpu")
        try:
            if format == "torchscript":
                with warnings.catch_warnings():
                    # TorchScript is deprecated upstream, yet it is a format users ship.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    module = load_module(path, format, None, self._device.type)
            elif format == "pytorch-exportedprogram":
                program = torch.export.load(str(path))
                inputs = inputs or _exported_inputs(program)
                module = program.module().to(self._device)
            else:
                module = load_module(path, format, template, self._device.type)
        except ArchitectureMissing as error:
            raise EvaluationError("InvalidModel", str(error)) from None
        except Exception as error:  # noqa: BLE001 - torch raises many types for a bad file
            raise EvaluationError("InvalidModel", f"torch cannot load {path.name} as {format}: {error}") from None
        if not inputs:
            raise EvaluationError("SignatureMissing", f"{path.name}: a {format} file does not record its inputs; "
                                  "the ModelVersion needs spec.signature")
        self._module = module
        self._torch = torch
        self.inputs = inputs
        self.outputs = outputs
        self.description = f"torch {torch.__version__} ({format}, {self._device.type})"

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        torch = self._torch
        args = [torch.from_numpy(np.ascontiguousarray(feed[t.name])).to(self._device) for t in self.inputs]
        with torch.inference_mode():
            out = self._module(*args)
        if isinstance(out, (tuple, list)):
            out = out[0]
        elif isinstance(out, dict):
            out = next(iter(out.values()))
        return out.detach().cpu().numpy()
