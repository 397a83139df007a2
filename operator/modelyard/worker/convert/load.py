"""Bring the source version into the work folder and load it (after inspection has proven it
safe: no pickles are ever loaded from a stored model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.api.common import Signature, TensorSpec
from modelyard.api.modelversion import ModelVersion
from modelyard.storage.base import Store
from modelyard.storage.layout import download_version, version_prefix
from modelyard.worker.convert.errors import INVALID_MODEL, ConversionError
from modelyard.worker.convert import shapes
from modelyard.worker.convert.layout import Layout, find
from modelyard.worker.convert.runners import Runner, onnx_runner, torch_runner
from modelyard.worker.torchload import ArchitectureMissing, load_module, template_of

TORCH_FORMATS = ("pytorch-exportedprogram", "torchscript", "pytorch-state-dict", "safetensors")


@dataclass
class Source:
    """The loaded source: a torch module (torch formats) or an ONNX file."""

    format: str
    path: Path
    """The model file."""
    signature: Signature
    size_bytes: int
    digest: str
    module: Any = None
    facts: Any = None
    bounds: dict[str, dict[int, tuple[int, int | None]]] = field(default_factory=dict)
    """Input name -> axis -> the sizes the source accepts, where it says (torch.export ranges)."""
    vocabulary: dict[str, int] = field(default_factory=dict)
    """Integer input name -> the rows of the table it indexes (ids are drawn below it)."""
    layout: Layout | None = None
    """Where each input and output holds its samples (layout.py)."""

    def runner(self, hardware: str) -> Runner:
        if self.module is not None:
            return torch_runner(self.module, self.signature)
        return onnx_runner(self.path, hardware)


def fetch(store: Store, namespace: str, version: ModelVersion, dest: Path) -> tuple[Path, int, str]:
    """Download and verify the source version's files; (folder, model bytes, digest)."""
    prefix = version_prefix(namespace, version.spec.model_ref.name, version.spec.version)
    manifest, digest = download_version(store, prefix, dest)
    size = sum(f.size_bytes for f in manifest.files if not f.path.endswith((".sh", ".pbtxt", ".json")))
    return dest, size, digest


def declared_signature(version: ModelVersion, template: Any) -> Signature | None:
    status = version.status.signature if version.status else None
    return status or version.spec.signature or (template.signature if template else None)


def load(folder: Path, version: ModelVersion, size: int, digest: str, template_dir: Path | None = None) -> Source:
    """Inspect (safety, signature) and load the source model."""
    from modelyard.worker.inspect import check_signature, find_model_file, inspect_model

    format = version.spec.format
    template = template_of(version, template_dir)
    facts = inspect_model(folder, format, template)
    signature = check_signature(declared_signature(version, template), facts.signature, facts.named_outputs,
                                facts.untyped)
    path = find_model_file(folder, format)
    if not signature.inputs:
        raise ConversionError(INVALID_MODEL, f"{path.name}: the source's signature names no inputs; declare spec.signature")
    module = program = None
    if format in TORCH_FORMATS:
        try:
            if format == "pytorch-exportedprogram":
                import torch

                # loaded once: its module runs, its graph says the inputs' bounds and tables
                program = torch.export.load(str(path))
                module = program.module()
            else:
                module = load_module(path, format, template)
        except ArchitectureMissing as error:
            raise ConversionError(INVALID_MODEL, str(error)) from None
        except Exception as error:  # noqa: BLE001 - a corrupt file must become a clear message
            raise ConversionError(INVALID_MODEL, f"{path.name} cannot be loaded as {format}: {type(error).__name__}: {error}") from None
    source = Source(format, path, signature, size, digest, module, facts)
    source.bounds, source.vocabulary = _input_facts(path, format, signature, program, module)
    source.layout = find(signature, facts.symbols)
    if not signature.outputs:
        source.signature = _with_outputs(source)
        source.layout = find(source.signature, facts.symbols)
    return source


def _input_facts(path: Path, format: str, signature: Signature, program: Any,
                 module: Any) -> tuple[dict[str, Any], dict[str, int]]:
    """(bounds, vocabulary) of the source's inputs, where its file (or ExportedProgram) says."""
    from modelyard.worker.convert import vocabulary

    if format == "onnx":
        return {}, vocabulary.onnx_sizes(path)
    if program is None:
        if format not in ("pytorch-state-dict", "safetensors") or not shapes.weak_inputs(signature, {}):
            return {}, {}
        # weights in a template's architecture: an eager module, whose embeddings show what they index
        probe = shapes.random_inputs(signature, shapes.example(signature))
        return {}, vocabulary.module_sizes(module, [probe[t.name] for t in signature.inputs], [t.name for t in signature.inputs])
    from modelyard.worker.torchload import exported_bounds

    found = exported_bounds(program)
    if len(found) != len(signature.inputs):
        return {}, {}
    # the signature may name the inputs otherwise (declared): matched by position
    names = {own: tensor.name for (own, _), tensor in zip(found, signature.inputs, strict=True)}
    bounds = {names[own]: axes for own, axes in found if axes}
    sizes = {names[own]: count for own, count in vocabulary.exported_sizes(program).items() if own in names}
    return bounds, sizes


def _with_outputs(source: Source) -> Signature:
    """Output names and shapes found by running the model at the small and the large shape (an
    output axis whose size follows the input's is dynamic; TorchScript records no outputs)."""
    chosen = shapes.cases(source.signature, 2, source.bounds, layout=source.layout)
    runs = [source.runner("cpu")(next(case.runs(shapes.generate(source.signature, case)))) for case in chosen]
    outputs = runs[-1]
    specs = []
    for index, array in enumerate(outputs):
        shape = [-1 if any(run[index].shape[axis] != size for run in runs) else size
                 for axis, size in enumerate(array.shape)]
        dtype = str(array.dtype) if str(array.dtype) in ("float32", "float16", "int64", "int32", "int8", "uint8", "bool") else "float32"
        specs.append(TensorSpec(name="output" if len(outputs) == 1 else f"output_{index}", dtype=dtype, shape=shape))
    return Signature(inputs=source.signature.inputs, outputs=specs)
