"""TorchScript: the target, by tracing the source module on an example batch (a TorchScript
source is copied); and, for an ONNX export of a TorchScript source, whether its forward keeps
state between calls, which a graph cannot."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

from modelyard.api.common import Signature
from modelyard.worker.convert import shapes
from modelyard.worker.convert.errors import UNSUPPORTED_CONVERSION, ConversionError
from modelyard.worker.convert.shapes import Bounds, random_inputs


def to_torchscript(module: Any, signature: Signature, path: Path, bounds: Bounds | None = None,
                   sizes: dict[str, tuple[int, ...]] | None = None) -> str:
    """Traced at `sizes` (the shapes verification runs at first) where given."""
    import torch

    if isinstance(module, torch.jit.ScriptModule):
        torch.jit.save(module, str(path))
        return "torch.jit.save (the source is TorchScript already)"
    example = random_inputs(signature, shapes.example_at(signature, sizes, shapes.EXAMPLE_BATCH) if sizes
                            else shapes.example(signature, bounds))
    args = tuple(torch.from_numpy(example[t.name]) for t in signature.inputs)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, args, check_trace=False)
    torch.jit.save(traced, str(path))
    return "torch.jit.trace(example batch, check_trace=False); torch.jit.save"


def written_attributes(module: Any) -> list[str]:
    """The module attributes forward (or a method or submodule it calls) assigns."""
    import torch

    graph = getattr(getattr(module, "forward", None), "graph", None)
    if graph is None:
        return []
    graph = graph.copy()
    torch._C._jit_pass_inline(graph)
    return sorted({node.s("name") for node in graph.findAllNodes("prim::SetAttr", True)})


def refuse_hidden_state(module: Any, args: tuple[Any, ...]) -> str | None:
    """Refuse a TorchScript module whose outputs depend on its earlier calls (silero-vad's keeps
    its recurrent state and audio context in attributes): the ONNX exporter bakes the attributes'
    values at export into the graph, so every call would compute as the first one after it, and
    verification would compare it with a source that moved on. Attributes written without
    changing what a second call returns (a counter, a cache) are exported at their values.
    Returns the step to record, or None when forward writes no attribute."""
    import torch

    from modelyard.worker.convert.runners import flatten

    written = written_attributes(module)
    if not written:
        return None
    # a copy: the source's own state stays where export and verification find it
    probe = copy.deepcopy(module)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            first, second = (flatten(probe(*args)) for _ in range(2))
    except Exception as error:  # noqa: BLE001 - verification, on the user's inputs, still compares
        return (f"forward assigns {', '.join(written)}; whether its outputs depend on earlier calls could not be "
                f"checked on the example ({type(error).__name__}): exported at their values")
    moved = [_difference(a, b) for a, b in zip(first, second, strict=True)]
    if any(moved):
        raise ConversionError(
            UNSUPPORTED_CONVERSION,
            f"the TorchScript module keeps state between calls: forward assigns {', '.join(written)}, and a second "
            f"call on the same inputs returned other outputs (max abs diff {max(moved):.3g}); an ONNX graph holds "
            f"no state, and its export would compute every call from the values held at export: choose format "
            f"torchscript, or convert a model whose forward takes the state as inputs and returns it",
        )
    return (f"forward assigns {', '.join(written)}, but a second call on the same inputs returned the same "
            f"outputs: exported at their values")


def _difference(a: Any, b: Any) -> float:
    """0 when two outputs agree (floats to within rounding), else their largest difference
    (inf for another shape or value that is no tensor)."""
    import torch

    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return 0.0 if a == b else float("inf")
    if a.shape != b.shape or a.dtype != b.dtype:
        return float("inf")
    if not a.is_floating_point():
        return 0.0 if torch.equal(a, b) else float((a.double() - b.double()).abs().max())
    if torch.allclose(a, b, rtol=1e-5, atol=1e-7, equal_nan=True):
        return 0.0
    return float((a.double() - b.double()).abs().nan_to_num(float("inf")).max())
