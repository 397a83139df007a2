"""Sample inputs for verification, calibration and benchmarks: from an npz of real data when
one is given, else generated from the signature (seeded, so runs are reproducible)."""

from __future__ import annotations

import io
from typing import Iterator

import numpy as np

from modelyard.api.common import Signature, TensorSpec
from modelyard.worker.convert.errors import INVALID_CALIBRATION, ConversionError

Batch = dict[str, np.ndarray]
"""Input name -> array whose first axis is the batch."""

DYNAMIC_DIM = 8
"""Size used for a dynamic dimension other than the batch (e.g. a sequence length)."""
SEED = 20261122


def batch_dynamic(signature: Signature) -> bool:
    """Whether every input takes any batch size (dimension 0 is -1)."""
    return all(t.shape and t.shape[0] == -1 for t in signature.inputs)


def _shape(tensor: TensorSpec, batch: int) -> tuple[int, ...]:
    if not tensor.shape:
        return ()
    first = batch if tensor.shape[0] == -1 else tensor.shape[0]
    return (first, *(DYNAMIC_DIM if d == -1 else d for d in tensor.shape[1:]))


def generate(signature: Signature, batch: int, seed: int = SEED) -> Batch:
    """Random inputs shaped like the signature (see random_array)."""
    rng = np.random.default_rng(seed)
    return {t.name: random_array(rng, t.dtype, _shape(t, batch)) for t in signature.inputs}


def random_array(rng: np.random.Generator, dtype: str, shape: tuple[int, ...], rows: int | None = None) -> np.ndarray:
    """Normal floats, random booleans, integers below `rows` (the table an id input indexes)
    or, not knowing it, 0 and 1 (valid indices for any table)."""
    if dtype in ("float32", "float16", "bfloat16"):
        return rng.standard_normal(shape).astype(np.float32 if dtype == "bfloat16" else dtype)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(0, rows or 2, shape).astype(dtype)


def load_npz(data: bytes, signature: Signature, where: str) -> Batch:
    """Arrays named like the signature's inputs from an npz; the first axis indexes samples."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (ValueError, OSError) as error:
        raise ConversionError(INVALID_CALIBRATION, f"{where} is not a readable npz file: {error}") from None
    names = [t.name for t in signature.inputs]
    missing = [n for n in names if n not in arrays]
    if missing and len(names) == 1 and len(arrays) == 1:
        arrays = {names[0]: next(iter(arrays.values()))}  # a single unnamed array feeds the single input
    elif missing:
        raise ConversionError(
            INVALID_CALIBRATION, f"{where} lacks input(s) {', '.join(missing)}; it holds {', '.join(sorted(arrays)) or 'nothing'}"
        )
    batch = {n: arrays[n] for n in names}
    counts = {len(a) for a in batch.values()}
    if len(counts) != 1 or 0 in counts:
        raise ConversionError(INVALID_CALIBRATION, f"{where}: inputs must hold the same, non-zero number of samples")
    for tensor in signature.inputs:
        array = batch[tensor.name]
        want = tensor.shape[1:] if tensor.shape and tensor.shape[0] == -1 else tensor.shape
        if len(array.shape) - 1 != len(want) or any(w not in (-1, a) for w, a in zip(want, array.shape[1:], strict=True)):
            raise ConversionError(
                INVALID_CALIBRATION,
                f"{where}: {tensor.name} has samples of shape {list(array.shape[1:])}, the signature says {want}",
            )
        batch[tensor.name] = array.astype(tensor.dtype if tensor.dtype != "bfloat16" else "float32", copy=False)
    return batch


def chunks(batch: Batch, size: int) -> Iterator[Batch]:
    """`batch` in pieces of at most `size` samples."""
    total = len(next(iter(batch.values())))
    for start in range(0, total, size):
        yield {name: array[start:start + size] for name, array in batch.items()}
