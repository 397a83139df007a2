"""Where each input and output of a model holds its samples: its batch axis.

Not always the first: a recurrent model's state is `[layers, batch, hidden]` (silero-vad's
`[2, batch, 128]`), and a rank-0 input (a sample rate) has none: it is shared by every sample of a
run. Verification, calibration and benchmarks split, join and pad samples along these axes.

Found in this order: `batchAxis` declared in the signature (-1: shared); the symbolic dimension
two or more of the model's inputs share (`batch`, `N`: the one named in the most inputs, a name
with "batch" or the earlier axis breaking ties); else axis 0 where it is dynamic, and for an input whose first
axis is fixed, its one dynamic axis when other inputs are batched. A model none of whose inputs
has a batch axis is run one sample at a time (its samples are an extra leading axis in an npz).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from modelyard.api.common import Signature, TensorSpec

Symbols = dict[str, list[str | None]]
"""Tensor name -> each axis's symbolic name (an ONNX dim_param), None where it has none."""


@dataclass(frozen=True)
class Layout:
    inputs: dict[str, int | None]
    """Input name -> its batch axis; None: shared by every sample (no batch axis)."""
    outputs: dict[str, int | None]
    """Output name -> its batch axis; None: not known (runs are stacked, not joined)."""

    @property
    def batched(self) -> bool:
        return any(axis is not None for axis in self.inputs.values())

    def describe(self) -> str:
        """`state` on axis 1, `sr` shared: only what differs from axis 0 ("" when unbatched)."""
        if not self.batched:
            return ""
        odd = [f"{n} on axis {a}" if a is not None else f"{n} shared by every sample"
               for n, a in self.inputs.items() if a != 0]
        return ", ".join(odd)


def find(signature: Signature, symbols: Symbols | None = None) -> Layout:
    symbols = symbols or {}
    batch = _batch_symbol(signature.inputs, symbols)
    inputs = {t.name: _input_axis(t, symbols.get(t.name), batch) for t in signature.inputs}
    if any(a is not None for a in inputs.values()):
        # an input with its first axis fixed and one dynamic axis, beside batched ones: its batch
        inputs = {t.name: inputs[t.name] if inputs[t.name] is not None or t.batch_axis is not None
                  else _lone_dynamic(t) for t in signature.inputs}
    batched = {a for a in inputs.values() if a is not None}
    outputs = {t.name: _output_axis(t, symbols.get(t.name), batch, batched) for t in signature.outputs}
    return Layout(inputs, outputs)


def _batch_symbol(inputs: list[TensorSpec], symbols: Symbols) -> str | None:
    """The symbol two or more inputs share (one input says nothing the first axis does not); a
    name used twice in one tensor (`?`) names no axis in particular."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for tensor in inputs:
        names = symbols.get(tensor.name) or []
        for axis, name in enumerate(names):
            if name and names.count(name) == 1:
                counts[name] += 1
                first[name] = min(first.get(name, axis), axis)
    shared = [n for n in counts if counts[n] >= 2]
    if not shared:
        return None
    return max(shared, key=lambda n: (counts[n], "batch" in n.lower() or n == "N", -first[n]))


def _input_axis(tensor: TensorSpec, names: list[str | None] | None, batch: str | None) -> int | None:
    if tensor.batch_axis is not None:
        return tensor.batch_axis if tensor.batch_axis >= 0 else None
    if not tensor.shape:
        return None
    if batch is not None and names and batch in names:
        return names.index(batch)
    return 0 if tensor.shape[0] == -1 else None


def _lone_dynamic(tensor: TensorSpec) -> int | None:
    dynamic = [axis for axis, size in enumerate(tensor.shape) if size == -1]
    return dynamic[0] if len(dynamic) == 1 else None


def _output_axis(tensor: TensorSpec, names: list[str | None] | None, batch: str | None,
                 input_axes: set[int]) -> int | None:
    if tensor.batch_axis is not None:
        return tensor.batch_axis if tensor.batch_axis >= 0 else None
    if batch is not None and names and batch in names:
        return names.index(batch)
    if input_axes == {0} and tensor.shape and tensor.shape[0] == -1:
        return 0
    return None


def symbols_of(model: object) -> Symbols:
    """The dim_params of an ONNX ModelProto's inputs and outputs."""
    found: Symbols = {}
    graph = model.graph  # type: ignore[attr-defined]
    for value in [*graph.input, *graph.output]:
        found[value.name] = [d.dim_param or None for d in value.type.tensor_type.shape.dim]
    return found
