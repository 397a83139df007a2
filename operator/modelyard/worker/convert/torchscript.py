"""TorchScript by tracing the source module on an example batch (a TorchScript source is copied)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from modelyard.api.common import Signature
from modelyard.worker.convert import shapes
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
