"""Loading torch modules from stored versions, shared by conversion and evaluation.

Weights-only formats (a state dict, safetensors) load into the architecture of the version's
template; nothing here unpickles arbitrary objects (`weights_only=True`), and the files were
inspected when the version was imported (and are checksummed on every download since)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.api.modelversion import ModelVersion

STATE_FORMATS = ("pytorch-state-dict", "safetensors")


class ArchitectureMissing(ValueError):
    """Weights with no template to say which architecture they belong to."""


def template_of(version: ModelVersion, template_dir: Path | None = None) -> Any:
    """The version's resolved catalog template, or None when it was not imported from one."""
    if not version.spec.source.template:
        return None
    from modelyard.templates import load_catalog

    chosen = version.spec.source.template
    return load_catalog(template_dir).get(chosen.name).resolve(chosen.parameters or {})


def load_module(path: Path, format: str, template: Any, device: str = "cpu") -> Any:
    """The torch module in `path`, in eval mode, on `device`."""
    import torch

    if format == "torchscript":
        return torch.jit.load(str(path), map_location=device).eval()
    if format == "pytorch-exportedprogram":
        return torch.export.load(str(path)).module().to(device)
    if template is None:
        raise ArchitectureMissing(f"{path.name}: format {format} holds only weights; import it with "
                                  "source.template so that its architecture is known")
    module = template.build_module()
    if format == "safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
    module.load_state_dict(state, strict=True)
    return module.eval().to(device)


def exported_bounds(program: Any) -> list[tuple[str, dict[int, tuple[int, int | None]]]]:
    """Per user input of an ExportedProgram, in order: its name and axis -> (least, greatest or
    None) size, from its range constraints (the bounds given to torch.export.Dim)."""
    names = set(program.graph_signature.user_inputs)
    bounds = []
    for node in program.graph.nodes:
        if node.op != "placeholder" or node.name not in names:
            continue
        value = node.meta.get("val")
        axes: dict[int, tuple[int, int | None]] = {}
        for axis, size in enumerate(getattr(value, "shape", ())):
            if isinstance(size, int):
                continue
            ranges = program.range_constraints.get(size.node.expr)
            if ranges is not None:
                axes[axis] = (_size(ranges.lower) or 0, _size(ranges.upper))
        bounds.append((node.name, axes))
    return bounds


def _size(bound: Any) -> int | None:
    """A range bound as an int, None for infinity (sympy's oo or torch's int_oo)."""
    import sympy

    if not isinstance(bound, (int, sympy.Integer)):  # int_oo claims to be finite
        return None
    value = int(bound)
    return value if value < 2**62 else None
