"""The input shapes a conversion is checked at: every dynamic axis at two sizes.

A converted model is only as verified as the shapes it ran at. One shape hides an export that
fixed the sequence length at the example's size; so verification runs a small case (batch 1,
other dynamic axes SMALL) and a large case (a full batch, other dynamic axes LARGE), each
size kept within the bounds the source declares for its axis (torch.export's range
constraints). Given data (verify.inputsUri, calibration) is cropped or zero-padded on dynamic
axes only; its native size is the large case when it is larger than SMALL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from modelyard.api.common import Signature, TensorSpec
from modelyard.worker.convert.inputs import SEED, Batch, batch_dynamic, random_array

SMALL = 8
LARGE = 64
RUN = 16
"""Samples per run in the large case (its batch size)."""
Bounds = dict[str, dict[int, tuple[int, int | None]]]
"""Input name -> axis -> (least, greatest or None for unbounded) size the source accepts."""


@dataclass(frozen=True)
class Case:
    """One shape the models are run at. Its data has a leading sample axis: the batch axis
    when the batch is dynamic (runs take `run` samples), else an extra axis (one run per
    sample, each the whole fixed batch), as calibration npz files are laid out."""

    label: str
    batched: bool
    run: int
    """Samples per run."""
    samples: int
    shapes: dict[str, tuple[int, ...]]
    """Each input's shape in one run."""

    def describe(self) -> str:
        return ", ".join(f"{name}{list(shape)}" for name, shape in self.shapes.items())

    def sample_shape(self, name: str) -> tuple[int, ...]:
        """`name`'s shape holding all of this case's samples."""
        shape = self.shapes[name]
        return (self.samples, *shape[1:]) if self.batched else (self.samples, *shape)

    def runs(self, data: Batch) -> Iterator[Batch]:
        for start in range(0, self.samples, self.run):
            if self.batched:
                yield {name: array[start:start + self.run] for name, array in data.items()}
            else:
                yield {name: array[start] for name, array in data.items()}


def dynamic_axes(tensor: TensorSpec) -> list[int]:
    return [axis for axis, size in enumerate(tensor.shape) if size == -1]


def clamp(size: int, bound: tuple[int, int | None] | None) -> int:
    if bound is None:
        return size
    low, high = bound
    return max(low, size) if high is None else min(max(low, size), high)


def cases(signature: Signature, samples: int, bounds: Bounds | None = None, given: Batch | None = None) -> list[Case]:
    """The small and the large case (one case when no axis is dynamic). With `given` data its
    sizes on the non-batch dynamic axes decide, as the module says."""
    bounds = bounds or {}
    batched = batch_dynamic(signature)
    found: list[Case] = []
    for label, rows, other in (("small", 1, SMALL), ("large", max(min(samples, RUN), 2), LARGE)):
        shapes = {}
        for tensor in signature.inputs:
            axes = bounds.get(tensor.name, {})
            shape = []
            for axis, size in enumerate(tensor.shape):
                if size != -1:
                    shape.append(size)
                elif axis == 0 and batched:
                    shape.append(clamp(rows, axes.get(0)))
                else:
                    native = given[tensor.name].shape[axis if batched else axis + 1] if given is not None else None
                    shape.append(clamp(_given_size(native, other, label), axes.get(axis)))
            shapes[tensor.name] = tuple(shape)
        run = next(iter(shapes.values()))[0] if batched else 1
        case = Case(label, batched, run, samples, shapes)
        if not found or case.shapes != found[0].shapes:
            found.append(case)
    return found


def _given_size(native: int | None, default: int, label: str) -> int:
    if native is None:
        return default
    if label == "small":
        return min(SMALL, native)
    return native if native > SMALL else LARGE


def fit(data: Batch, case: Case) -> Batch:
    """The case's samples from `data` (cycled when it holds fewer), cropped or zero-padded to
    the case's sizes on every axis but the first (the sample axis)."""
    count = len(next(iter(data.values())))
    index = np.arange(case.samples) % count
    fitted: Batch = {}
    for name in case.shapes:
        array = data[name][index]
        want = case.sample_shape(name)
        for axis in range(1, len(want)):
            array = _resize(array, axis, want[axis])
        fitted[name] = array
    return fitted


def _resize(array: np.ndarray, axis: int, size: int) -> np.ndarray:
    have = array.shape[axis]
    if have == size:
        return array
    if have > size:
        return np.take(array, np.arange(size), axis=axis)
    padding = [(0, 0)] * array.ndim
    padding[axis] = (0, size - have)
    return np.pad(array, padding)


def record(chosen: list[Case]) -> list[dict[str, list[int]]]:
    """The shapes as status.verification.shapes holds them."""
    return [{name: list(shape) for name, shape in case.shapes.items()} for case in chosen]


def generate(signature: Signature, case: Case, seed: int = SEED, vocabulary: dict[str, int] | None = None) -> Batch:
    """Seeded random data for the case (see inputs.random_array)."""
    return random_inputs(signature, {t.name: case.sample_shape(t.name) for t in signature.inputs}, seed, vocabulary)


def example(signature: Signature, bounds: Bounds | None = None, batch: int = 2) -> dict[str, tuple[int, ...]]:
    """The shapes an export traces at: `batch` on a dynamic batch axis (torch.export fixes a
    size-1 axis), SMALL on other dynamic axes, within the source's bounds."""
    bounds = bounds or {}
    batched = batch_dynamic(signature)
    return {
        t.name: tuple(
            size if size != -1 else clamp(batch if axis == 0 and batched else SMALL, bounds.get(t.name, {}).get(axis))
            for axis, size in enumerate(t.shape))
        for t in signature.inputs
    }


def random_inputs(signature: Signature, shapes: dict[str, tuple[int, ...]], seed: int = SEED,
                  vocabulary: dict[str, int] | None = None) -> Batch:
    rng = np.random.default_rng(seed)
    rows = vocabulary or {}
    return {t.name: random_array(rng, t.dtype, shapes[t.name], rows.get(t.name)) for t in signature.inputs}


def weak_inputs(signature: Signature, vocabulary: dict[str, int]) -> list[str]:
    """Integer inputs generated as 0/1 for want of a known table size."""
    return [t.name for t in signature.inputs if t.dtype.startswith(("int", "uint")) and t.name not in vocabulary]
