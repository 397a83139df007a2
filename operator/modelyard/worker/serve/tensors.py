"""Tensors as the Open Inference Protocol names them, and requests checked against the signature."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelyard.api.common import Signature
from modelyard.worker.serve.errors import BadRequest

DATATYPES = {"float32": "FP32", "float16": "FP16", "float64": "FP64", "bfloat16": "BF16", "int64": "INT64",
             "int32": "INT32", "int16": "INT16", "int8": "INT8", "uint8": "UINT8", "uint16": "UINT16",
             "uint32": "UINT32", "uint64": "UINT64", "bool": "BOOL"}
"""numpy dtype name -> OIP datatype."""
DTYPES = {v: k for k, v in DATATYPES.items() if k != "bfloat16"}
"""OIP datatype -> numpy dtype name (BF16 has no numpy dtype: not accepted on the wire)."""


@dataclass(frozen=True)
class Tensor:
    """One input or output of the served model; -1 marks a dynamic dimension."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def datatype(self) -> str:
        return DATATYPES.get(self.dtype, self.dtype.upper())

    def metadata(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    def expected(self) -> str:
        return f"{self.datatype}{list(self.shape)}"


def from_signature(signature: Signature) -> tuple[list[Tensor], list[Tensor]]:
    def tensors(specs: list) -> list[Tensor]:
        # bfloat16 travels as FP32 (numpy has no bfloat16), as the conversion's samples do
        return [Tensor(s.name, "float32" if s.dtype == "bfloat16" else s.dtype, tuple(s.shape)) for s in specs]

    return tensors(signature.inputs), tensors(signature.outputs)


def datatype_of(array: np.ndarray) -> str:
    return DATATYPES.get(str(array.dtype), "BYTES")


def decode(name: str, datatype: str, shape: list[int], data: bytes | memoryview) -> np.ndarray:
    """A raw little-endian tensor (gRPC raw contents, HTTP binary extension) as an array."""
    dtype = _dtype(name, datatype)
    count = int(np.prod(shape)) if shape else 1
    if len(data) != count * dtype.itemsize:
        raise BadRequest(f"input {name}: {len(data)} bytes of data for shape {list(shape)} of {datatype} "
                         f"(expected {count * dtype.itemsize})")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def from_list(name: str, datatype: str, shape: list[int], values: list) -> np.ndarray:
    """A JSON (or typed gRPC contents) tensor as an array."""
    dtype = _dtype(name, datatype)
    try:
        array = np.asarray(values, dtype=dtype).reshape(shape)
    except (ValueError, TypeError) as error:
        raise BadRequest(f"input {name}: its data does not fill shape {list(shape)} of {datatype} ({error})") from None
    return array


def _dtype(name: str, datatype: str) -> np.dtype:
    if datatype not in DTYPES:
        raise BadRequest(f"input {name}: datatype {datatype} is not served (use one of {', '.join(sorted(DTYPES))})")
    return np.dtype(DTYPES[datatype])


def check(feed: dict[str, np.ndarray], inputs: list[Tensor]) -> None:
    """Every input present, none unknown, each of the signature's datatype and shape."""
    known = {t.name: t for t in inputs}
    unknown = [n for n in feed if n not in known]
    if unknown:
        raise BadRequest(f"unknown input {', '.join(unknown)}; the model takes "
                         f"{', '.join(f'{t.name} {t.expected()}' for t in inputs)}")
    missing = [t.name for t in inputs if t.name not in feed]
    if missing:
        raise BadRequest(f"missing input {', '.join(missing)}; the model takes "
                         f"{', '.join(f'{t.name} {t.expected()}' for t in inputs)}")
    for tensor in inputs:
        array = feed[tensor.name]
        if datatype_of(array) != tensor.datatype:
            raise BadRequest(f"input {tensor.name}: datatype {datatype_of(array)}, expected {tensor.datatype} "
                             f"(shape {list(tensor.shape)})")
        shape = array.shape
        if len(shape) != len(tensor.shape) or any(w not in (-1, s) for w, s in zip(tensor.shape, shape, strict=True)):
            raise BadRequest(f"input {tensor.name}: shape {list(shape)}, expected {list(tensor.shape)} "
                             "(-1: any size)")
