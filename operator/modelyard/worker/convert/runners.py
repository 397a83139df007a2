"""Run a model on numpy inputs, whatever its runtime: torch eager, TorchScript, onnxruntime,
OpenVINO, TensorRT. Every runner takes a batch (input name -> array) and returns the outputs
as a list of arrays in signature order."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from modelyard.api.common import Signature
from modelyard.worker.convert.errors import TOOL_MISSING, ConversionError
from modelyard.worker.convert.inputs import Batch
from modelyard.worker.convert.zipmap import as_tensor, zipmaps

Runner = Callable[[Batch], list[np.ndarray]]


def flatten(value: Any) -> list[Any]:
    """A model's outputs as a flat list (tuples, lists and dicts in order)."""
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in flatten(item)]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in flatten(item)]
    return [value]


def script_scalars(module: Any) -> dict[str, Any]:
    """A TorchScript module's typed scalar arguments (`forward(self, x, sr: int)`) -> the Python
    type each takes: a rank-0 tensor there is refused by TorchScript."""
    schema = getattr(getattr(module, "forward", None), "schema", None)
    kinds = {"IntType": int, "FloatType": float, "BoolType": bool}
    return {a.name: kinds[a.type.kind()] for a in (schema.arguments if schema is not None else [])
            if a.type.kind() in kinds}


def torch_runner(module: Any, signature: Signature, device: str = "cpu") -> Runner:
    """Eager torch or TorchScript module."""
    import torch

    names = [t.name for t in signature.inputs]
    scalars = script_scalars(module)

    def argument(batch: Batch, name: str) -> Any:
        value = np.ascontiguousarray(batch[name])
        if name in scalars:
            # shared by every sample of the batch (the input has no batch axis)
            return scalars[name](value.reshape(-1)[0].item())
        return torch.from_numpy(value).to(device)

    def run(batch: Batch) -> list[np.ndarray]:
        with torch.inference_mode():
            outputs = module(*(argument(batch, n) for n in names))
        return [o.detach().float().cpu().numpy() if o.is_floating_point() else o.cpu().numpy() for o in flatten(outputs)]

    return run


def providers(hardware: str) -> list[str]:
    """onnxruntime execution providers for the hardware, best first; the CPU provider is the only
    one on CPU and ARM nodes."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = {"gpu": ["CUDAExecutionProvider"], "ascend": ["CANNExecutionProvider"]}.get(hardware, [])
    return [p for p in wanted if p in available] + ["CPUExecutionProvider"]


def onnx_session(path: Path, hardware: str = "cpu") -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=providers(hardware))


def onnx_runner(path: Path, hardware: str = "cpu") -> Runner:
    session = onnx_session(path, hardware)
    names = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    zipped = zipmaps_of(path) if any(o.type.startswith("seq(") for o in session.get_outputs()) else {}

    def run(batch: Batch) -> list[np.ndarray]:
        found = session.run(None, {n: batch[n] for n in names})
        return [as_tensor(o, zipped[name]) if name in zipped else np.asarray(o) for name, o in zip(outputs, found, strict=True)]

    return run


def zipmaps_of(path: Path) -> dict[str, Any]:
    import onnx

    return zipmaps(onnx.load(str(path), load_external_data=False))


def openvino_runner(xml: Path, hardware: str = "cpu") -> Runner:
    """OpenVINO on CPU at fp32 inference precision (its CPU plugin otherwise picks bf16 on CPUs
    that have it, which would make verification depend on the node)."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    names = [port.get_any_name() for port in compiled.inputs]

    def run(batch: Batch) -> list[np.ndarray]:
        result = compiled({n: batch[n] for n in names})
        return [np.asarray(result[port]) for port in compiled.outputs]

    return run


def tensorrt_runner(plan: Path, signature: Signature) -> Runner:
    """A TensorRT engine through the `tensorrt` Python package with CUDA tensors from torch."""
    try:
        import tensorrt as trt
        import torch
    except ImportError:
        raise ConversionError(
            TOOL_MISSING, "verifying a tensorrt-plan needs the `tensorrt` Python package and a CUDA build of torch in the worker image"
        ) from None
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(plan.read_bytes())
    context = engine.create_execution_context()

    def run(batch: Batch) -> list[np.ndarray]:
        tensors = {}
        for tensor in signature.inputs:
            value = torch.from_numpy(np.ascontiguousarray(batch[tensor.name])).cuda()
            context.set_input_shape(tensor.name, tuple(value.shape))
            tensors[tensor.name] = value
        for tensor in signature.outputs:
            shape = tuple(context.get_tensor_shape(tensor.name))
            tensors[tensor.name] = torch.empty(shape, dtype=getattr(torch, tensor.dtype), device="cuda")
        for name, value in tensors.items():
            context.set_tensor_address(name, value.data_ptr())
        context.execute_async_v3(torch.cuda.current_stream().cuda_stream)
        torch.cuda.synchronize()
        return [tensors[t.name].float().cpu().numpy() for t in signature.outputs]

    return run
