"""The input shapes a conversion is checked at: the batch axis and every other dynamic axis
at two sizes where the source takes them, and only at sizes it is shown to take.

With the user's data (verify.inputsUri, calibration) the sizes are the data's own: batch 1 and
batch N at its spatial or sequence sizes (a detector's 320x320 images are never cropped to 8
pixels), then each other dynamic axis at twice its size (zero-padded), a case kept only where the
source runs at it. Without data: batch 1 and batch N, the other dynamic axes at the first two
sizes of SIZES the source runs at. An axis checked at one size only is said so in
`status.verification.axes`; the output keeps it dynamic. Samples are split, joined and padded
along each input's own batch axis (layout.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

import numpy as np

from modelyard.api.common import Signature, TensorSpec
from modelyard.worker.convert.inputs import SEED, Batch, random_array, samples_in, take
from modelyard.worker.convert.layout import Layout, find

SMALL = 8
LARGE = 64
SIZES = (SMALL, LARGE, 32, 224, 320, 640)
"""Sizes tried, in order, for a dynamic axis other than the batch when no data is given."""
RUN = 16
"""Samples per run in the large case (its batch size)."""
EXAMPLE_BATCH = 2
"""Batch size of an example an exporter traces: torch.export specialises a dimension of size 1."""
GROWN_SAMPLES = 4
"""Samples checked at the grown size (twice the data's own, batch 1)."""
Bounds = dict[str, dict[int, tuple[int, int | None]]]
"""Input name -> axis -> (least, greatest or None for unbounded) size the source accepts."""


@dataclass(frozen=True)
class Case:
    """One shape the models are run at. Its data holds its samples on each input's batch axis
    when the model is batched (runs take `run` samples; an input with no batch axis is shared by
    every run), else on an extra leading axis (one run per sample, each the whole input), as
    calibration npz files are laid out."""

    label: str
    batched: bool
    run: int
    """Samples per run."""
    samples: int
    shapes: dict[str, tuple[int, ...]]
    """Each input's shape in one run."""
    axes: dict[str, int | None] = field(default_factory=dict)
    """Each input's batch axis (absent: 0; None: shared by every sample)."""
    optional: bool = False
    """A second size the source may refuse: then the case is dropped, not failed."""

    def describe(self) -> str:
        return ", ".join(f"{name}{list(shape)}" for name, shape in self.shapes.items())

    def axis(self, name: str) -> int | None:
        return self.axes.get(name, 0)

    def sample_shape(self, name: str) -> tuple[int, ...]:
        """`name`'s shape holding all of this case's samples."""
        shape = self.shapes[name]
        if not self.batched:
            return (self.samples, *shape)
        axis = self.axis(name)
        if axis is None:
            return shape
        return (*shape[:axis], self.samples, *shape[axis + 1:])

    def runs(self, data: Batch) -> Iterator[Batch]:
        for start in range(0, self.samples, self.run):
            if self.batched:
                yield {name: take(array, self.axis(name), start, start + self.run) for name, array in data.items()}
            else:
                yield {name: array[start] for name, array in data.items()}


def dynamic_axes(tensor: TensorSpec) -> list[int]:
    return [axis for axis, size in enumerate(tensor.shape) if size == -1]


def clamp(size: int, bound: tuple[int, int | None] | None) -> int:
    if bound is None:
        return size
    low, high = bound
    return max(low, size) if high is None else min(max(low, size), high)


Accepts = Callable[[dict[str, tuple[int, ...]]], bool]
"""Whether the source runs at these input shapes (batch 1)."""


def cases(signature: Signature, samples: int, bounds: Bounds | None = None, given: Batch | None = None,
          layout: Layout | None = None, accepts: Accepts | None = None) -> list[Case]:
    """The cases to verify at, as the module says: from `given` data's own sizes, else at sizes
    `accepts` confirms (SMALL and LARGE when no probe is given)."""
    bounds = bounds or {}
    layout = layout or find(signature)
    batched = layout.batched
    rows = max(min(samples, RUN), 2)
    if given is not None:
        # the user's own samples, not copies of them (batch N, and how many are compared)
        count = samples_in(given, layout.inputs) if batched else len(next(iter(given.values())))
        samples = max(min(samples, count), 1)
        if batched:
            rows = max(min(rows, count), 2)
        first = _sizes(signature, layout, bounds, lambda name, axis: _native(given, layout, name, axis))
        second = _sizes(signature, layout, bounds, lambda name, axis: 2 * _native(given, layout, name, axis))
    else:
        first, second = _probed(signature, layout, bounds, accepts)
    found = [_case("small", signature, layout, first, 1, samples)]
    if batched:
        # optional: a model that declares a dynamic batch yet runs only at 1 (a Reshape to a fixed
        # size) is verified at batch 1, and the status says its batch was checked at one size
        large = _case("large", signature, layout, first if given is not None else second, rows, samples)
        found.append(replace(large, optional=True))
    if given is not None and second != first:
        found.append(replace(_case("grown", signature, layout, second, 1, min(samples, GROWN_SAMPLES)), optional=True))
    elif given is None and not batched and second != first:
        found.append(_case("large", signature, layout, second, 1, samples))
    unique: list[Case] = []
    for case in found:
        if all(case.shapes != kept.shapes for kept in unique):
            unique.append(case)
    return unique


Sizes = dict[tuple[str, int], int]
"""(input, axis) -> size, for the dynamic axes other than the batch."""


def _sizes(signature: Signature, layout: Layout, bounds: Bounds, size: Callable[[str, int], int]) -> Sizes:
    return {(t.name, axis): clamp(size(t.name, axis), bounds.get(t.name, {}).get(axis))
            for t in signature.inputs for axis in dynamic_axes(t) if axis != layout.inputs.get(t.name)}


def _native(given: Batch, layout: Layout, name: str, axis: int) -> int:
    array = given[name]
    return array.shape[axis] if layout.batched or array.ndim == 0 else array.shape[axis + 1]


def _probed(signature: Signature, layout: Layout, bounds: Bounds, accepts: Accepts | None) -> tuple[Sizes, Sizes]:
    """The first two sizes of SIZES the source runs at (batch 1), for every non-batch dynamic
    axis together; one when only one works; SMALL and LARGE when there is nothing to probe."""
    options = [_sizes(signature, layout, bounds, lambda _n, _a, s=s: s) for s in SIZES]
    if not options[0] or accepts is None:
        return options[0], options[1]
    working: list[Sizes] = []
    for option in options:
        if all(option != w for w in working) and accepts(_case("probe", signature, layout, option, 1, 1).shapes):
            working.append(option)
            if len(working) == 2:
                break
    if not working:
        from modelyard.worker.convert.errors import VERIFICATION_FAILED, ConversionError

        tried = ", ".join(str(s) for s in SIZES)
        raise ConversionError(
            VERIFICATION_FAILED,
            f"the source model fails at every size tried ({tried}) on its dynamic axes other than the batch with "
            "generated inputs: give real inputs in spec.verify.inputsUri (their own sizes are used), or declare the "
            "sizes it needs in the source's spec.signature")
    return working[0], working[-1]


def _case(label: str, signature: Signature, layout: Layout, sizes: Sizes, rows: int, samples: int) -> Case:
    shapes = {}
    for tensor in signature.inputs:
        batch = layout.inputs.get(tensor.name) if layout.batched else None
        shapes[tensor.name] = tuple(rows if axis == batch else sizes.get((tensor.name, axis), size)
                                    for axis, size in enumerate(tensor.shape))
    run = rows if layout.batched else 1
    return Case(label, layout.batched, run, samples, shapes, dict(layout.inputs))


def fit(data: Batch, case: Case) -> Batch:
    """The case's samples from `data` (cycled when it holds fewer), cropped or zero-padded to the
    case's sizes on every other axis; an input shared by every sample is kept as it is."""
    fitted: Batch = {}
    for name in case.shapes:
        array = data[name]
        axis = case.axis(name) if case.batched else 0
        if axis is None:
            fitted[name] = array
            continue
        index = np.arange(case.samples) % array.shape[axis]
        array = np.take(array, index, axis=axis)
        want = case.sample_shape(name)
        for other in range(len(want)):
            if other != axis:
                array = _resize(array, other, want[other])
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


def axes_checked(signature: Signature, chosen: list[Case]) -> list[dict[str, object]]:
    """Every dynamic axis with the sizes it was checked at (status.verification.axes)."""
    found: list[dict[str, object]] = []
    for tensor in signature.inputs:
        for axis in dynamic_axes(tensor):
            sizes = sorted({case.shapes[tensor.name][axis] for case in chosen})
            entry: dict[str, object] = {"input": tensor.name, "axis": axis, "sizes": sizes}
            if chosen and chosen[0].batched and chosen[0].axis(tensor.name) == axis:
                entry["batch"] = True
            found.append(entry)
    return found


def one_size_note(axes: list[dict[str, object]]) -> str:
    """What the status says of axes checked at one size only ("" when none)."""
    single = [f"{a['input']}[{a['axis']}] at {a['sizes'][0]}" for a in axes if len(a["sizes"]) == 1]  # type: ignore[arg-type,index]
    if not single:
        return ""
    return (f"checked at one size only: {', '.join(single)} (the source was not shown to take another); the output "
            "keeps these axes dynamic, verified at that size")


def generate(signature: Signature, case: Case, seed: int = SEED, vocabulary: dict[str, int] | None = None) -> Batch:
    """Seeded random data for the case (see inputs.random_array)."""
    return random_inputs(signature, {t.name: case.sample_shape(t.name) for t in signature.inputs}, seed, vocabulary)


def example(signature: Signature, bounds: Bounds | None = None, batch: int = 2,
            layout: Layout | None = None) -> dict[str, tuple[int, ...]]:
    """The shapes an export traces at: `batch` on the batch axes (torch.export fixes a size-1
    axis), SMALL on other dynamic axes, within the source's bounds."""
    bounds = bounds or {}
    layout = layout or find(signature)
    return {
        t.name: tuple(
            size if size != -1 else clamp(batch if axis == layout.inputs.get(t.name) else SMALL,
                                          bounds.get(t.name, {}).get(axis))
            for axis, size in enumerate(t.shape))
        for t in signature.inputs
    }


def example_at(signature: Signature, sizes: dict[str, tuple[int, ...]], batch: int,
               layout: Layout | None = None) -> dict[str, tuple[int, ...]]:
    """`sizes` (one case's shapes) with `batch` on the batch axes."""
    layout = layout or find(signature)
    return {t.name: tuple(batch if axis == layout.inputs.get(t.name) and layout.batched else size
                          for axis, size in enumerate(sizes[t.name])) for t in signature.inputs}


def random_inputs(signature: Signature, shapes: dict[str, tuple[int, ...]], seed: int = SEED,
                  vocabulary: dict[str, int] | None = None) -> Batch:
    rng = np.random.default_rng(seed)
    rows = vocabulary or {}
    return {t.name: random_array(rng, t.dtype, shapes[t.name], rows.get(t.name)) for t in signature.inputs}


def weak_inputs(signature: Signature, vocabulary: dict[str, int]) -> list[str]:
    """Integer inputs generated as 0/1 for want of a known table size."""
    return [t.name for t in signature.inputs if t.dtype.startswith(("int", "uint")) and t.name not in vocabulary]
