"""What a model takes and returns, as the evaluation sees it: name, numpy dtype, shape."""

from __future__ import annotations

from dataclasses import dataclass

# KServe v2 / Triton datatypes and ONNX Runtime type strings -> numpy dtype names.
_V2 = {"FP32": "float32", "FP16": "float16", "FP64": "float64", "BF16": "bfloat16", "INT64": "int64",
       "INT32": "int32", "INT16": "int16", "INT8": "int8", "UINT8": "uint8", "BOOL": "bool"}
_ORT = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
        "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int16)": "int16", "tensor(int8)": "int8",
        "tensor(uint8)": "uint8", "tensor(bool)": "bool"}
V2_OF_NUMPY = {numpy: v2 for v2, numpy in _V2.items()}


@dataclass(frozen=True)
class TensorInfo:
    """One input or output; -1 marks a dynamic dimension."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    def describe(self) -> str:
        dims = ", ".join("?" if d < 0 else str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]"


def _dims(shape: object) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (shape or ()))  # type: ignore[union-attr]


def from_signature(specs: list) -> list[TensorInfo]:  # list[modelyard.api.common.TensorSpec]
    return [TensorInfo(s.name, s.dtype, tuple(s.shape)) for s in specs]


def from_ort(args: list) -> list[TensorInfo]:  # onnxruntime NodeArg
    return [TensorInfo(a.name, _ORT.get(a.type, a.type), _dims(a.shape)) for a in args]


def from_v2(entries: list[dict]) -> list[TensorInfo]:
    """Tensors of a KServe v2 model metadata answer."""
    return [TensorInfo(e["name"], _V2.get(e["datatype"], e["datatype"].lower()), _dims([int(d) for d in e["shape"]]))
            for e in entries]
