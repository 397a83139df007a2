"""Sample inputs for verification, calibration and benchmarks: from an npz of real data when
one is given, else generated from the signature (seeded, so runs are reproducible)."""

from __future__ import annotations

import io
from typing import Iterator

import numpy as np

from modelyard.api.common import Signature, TensorSpec
from modelyard.worker.convert.errors import INVALID_CALIBRATION, ConversionError
from modelyard.worker.convert.layout import Layout, find

Batch = dict[str, np.ndarray]
"""Input name -> array whose first axis is the batch."""

DYNAMIC_DIM = 8
"""Size used for a dynamic dimension other than the batch (e.g. a sequence length)."""
SEED = 20261122


def take(array: np.ndarray, axis: int | None, start: int, stop: int) -> np.ndarray:
    """Samples start..stop of `array` along its batch axis (all of a shared input)."""
    if axis is None:
        return array
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, stop)
    return array[tuple(index)]


def samples_in(batch: Batch, axes: dict[str, int | None]) -> int:
    """How many samples `batch` holds (on its inputs' batch axes; the first axis where none has one)."""
    for name, array in batch.items():
        axis = axes.get(name, 0)
        if axis is not None and array.ndim > axis:
            return array.shape[axis]
    return 1


def generate(signature: Signature, batch: int, seed: int = SEED) -> Batch:
    """Random inputs shaped like the signature: `batch` samples on the batch axes, DYNAMIC_DIM on
    other dynamic axes (see random_array)."""
    layout = find(signature)
    rng = np.random.default_rng(seed)
    return {t.name: random_array(rng, t.dtype, tuple(
        batch if axis == layout.inputs.get(t.name) else DYNAMIC_DIM if size == -1 else size
        for axis, size in enumerate(t.shape))) for t in signature.inputs}


def random_array(rng: np.random.Generator, dtype: str, shape: tuple[int, ...], rows: int | None = None) -> np.ndarray:
    """Normal floats, random booleans, integers below `rows` (the table an id input indexes)
    or, not knowing it, 0 and 1 (valid indices for any table)."""
    # np.asarray: a rank-0 draw is a numpy scalar, which onnxruntime refuses as an input
    if dtype in ("float32", "float16", "bfloat16"):
        return np.asarray(rng.standard_normal(shape), dtype=np.float32 if dtype == "bfloat16" else dtype)
    if dtype == "bool":
        return np.asarray(rng.integers(0, 2, shape), dtype=bool)
    return np.asarray(rng.integers(0, rows or 2, shape), dtype=dtype)


def load_npz(data: bytes, signature: Signature, where: str, layout: Layout | None = None) -> Batch:
    """Arrays named like the signature's inputs from an npz. Each holds its samples on the
    input's batch axis (layout.py: the first axis, unless the model says otherwise); an input
    with none (a scalar such as a sample rate) holds one value for every sample, or one per
    sample, all equal; a model with no batch axis at all takes its samples on an extra first axis."""
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
    layout = layout or find(signature)
    batch: Batch = {}
    counts: dict[str, tuple[int, int]] = {}
    for tensor in signature.inputs:
        array = np.asarray(arrays[tensor.name])
        dtype = tensor.dtype if tensor.dtype != "bfloat16" else "float32"
        axis = layout.inputs.get(tensor.name)
        if not layout.batched:
            _check_shape(where, tensor, array.shape[1:], tensor.shape, "samples of shape", "on an extra first axis")
            counts[tensor.name] = (len(array) if array.ndim else 0, 0)
        elif axis is None:
            array = _shared(where, tensor, array)
        else:
            want = [-1 if a == axis else size for a, size in enumerate(tensor.shape)]
            _check_shape(where, tensor, array.shape, want, "shape", f"with its samples on axis {axis}")
            counts[tensor.name] = (array.shape[axis], axis)
        batch[tensor.name] = array.astype(dtype, copy=False)
    if len({count for count, _ in counts.values()}) > 1 or any(count == 0 for count, _ in counts.values()):
        held = ", ".join(f"{name} {count} on axis {axis}" for name, (count, axis) in counts.items())
        raise ConversionError(INVALID_CALIBRATION, f"{where}: inputs must hold the same, non-zero number of samples "
                                                   f"on their batch axes; they hold {held}")
    return batch


def _check_shape(where: str, tensor: TensorSpec, have: tuple[int, ...], want: list[int], what: str, how: str) -> None:
    if len(have) != len(want) or any(w not in (-1, h) for w, h in zip(want, have, strict=True)):
        raise ConversionError(
            INVALID_CALIBRATION,
            f"{where}: {tensor.name} has {what} {list(have)}; the model takes {tensor.name} as {tensor.shape} "
            f"(-1: any size), given {how}",
        )


def _shared(where: str, tensor: TensorSpec, array: np.ndarray) -> np.ndarray:
    """An input shared by every sample: one value, or one per sample (which must agree)."""
    if list(array.shape) == [s if s != -1 else h for s, h in zip(tensor.shape, array.shape, strict=False)] \
            and array.ndim == len(tensor.shape):
        return array
    if array.ndim == len(tensor.shape) + 1:
        if len(array) and all(np.array_equal(array[0], row) for row in array[1:]):
            return array[0]
        raise ConversionError(
            INVALID_CALIBRATION,
            f"{where}: {tensor.name} holds different values for different samples; it has no batch axis (shape "
            f"{tensor.shape}), so one value serves every sample of a run: give one value, or convert per value",
        )
    raise ConversionError(
        INVALID_CALIBRATION,
        f"{where}: {tensor.name} has shape {list(array.shape)}; the model takes it as {tensor.shape}, shared by every "
        f"sample (it has no batch axis): give one value of that shape, or one per sample on an extra first axis",
    )


def chunks(batch: Batch, size: int, layout: Layout | None = None) -> Iterator[Batch]:
    """`batch` in pieces of at most `size` samples, cut on each input's batch axis (one sample
    a piece, as the model takes it, where it has none)."""
    axes = layout.inputs if layout is not None else {}
    if layout is not None and not layout.batched:
        for sample in range(len(next(iter(batch.values())))):
            yield {name: array[sample] for name, array in batch.items()}
        return
    total = samples_in(batch, axes)
    for start in range(0, total, size):
        yield {name: take(array, axes.get(name, 0), start, start + size) for name, array in batch.items()}
