"""torch -> ONNX with every dynamic axis kept: the dynamo exporter (torch.export + onnxscript) first,
the legacy TorchScript exporter when dynamo cannot capture the model; which one ran, and why,
is recorded. `onnx.checker` must pass on the result."""

from __future__ import annotations

import contextlib
import copy
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.api.common import Signature
from modelyard.worker.convert.errors import DYNAMIC_AXIS_LOST, EXPORT_FAILED, UNSUPPORTED_OPERATOR, ConversionError
from modelyard.worker.convert import shapes
from modelyard.worker.convert.shapes import Bounds, dynamic_axes, random_inputs

DEFAULT_OPSET = 18
EXAMPLE_BATCH = shapes.EXAMPLE_BATCH
EXTERNAL_DATA_BYTES = 1_800_000_000
"""Weights above this go to an external data file (protobuf's 2 GB limit)."""

_OPERATOR = re.compile(r"(aten(?:::|\.)[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?|[A-Za-z0-9_]+::[A-Za-z0-9_]+)")


@dataclass
class ExportResult:
    path: Path
    exporter: str
    """"dynamo" or "legacy"."""
    steps: list[str] = field(default_factory=list)
    """What was done, for lineage and reproduce.sh."""
    frozen: dict[str, object] = field(default_factory=dict)
    """Typed scalar arguments of a TorchScript source (`sr: int`), which its exporter bakes into
    the graph at the value exported with: the output no longer takes them."""


def _parameter_bytes(module: Any) -> int:
    try:
        return sum(p.numel() * p.element_size() for p in module.parameters())
    except (AttributeError, RuntimeError):
        return 0


def _unsupported_operator(message: str) -> str | None:
    """The operator an exporter could not translate, from its error text."""
    for pattern in (
        r"[Uu]nsupported.*?operator[s]? ['`]?([\w:.]+)",
        r"operator ['`]?([\w:.]+)['`]? to ONNX opset version \d+ is not supported",
        r"[Nn]o (?:ONNX )?(?:function|decomposition|symbolic)[^'`]*['`]([\w:.]+)",
    ):
        match = re.search(pattern, message)
        if match:
            return match.group(1).rstrip(".")
    match = _OPERATOR.search(message) if "not supported" in message or "nsupported" in message else None
    return match.group(1) if match else None


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BOILERPLATE = re.compile(r"(Set TORCH_LOGS=.*|For more information.*|The above exception.*)$")


def _first_line(error: BaseException) -> str:
    """The exception's own words: no terminal colours, no torch boilerplate after them."""
    text = _BOILERPLATE.sub("", " ".join(_ANSI.sub("", str(error)).split())).strip()
    return f"{type(error).__name__}: {text[:600]}"


def export_onnx(module: Any, signature: Signature, path: Path, opset: int | None = None,
                bounds: Bounds | None = None, sizes: dict[str, tuple[int, ...]] | None = None,
                layout: Any = None, values: dict[str, Any] | None = None) -> ExportResult:
    """Export `module` (eager, ExportedProgram module or TorchScript) to `path`, every axis the
    signature marks dynamic (-1) kept dynamic. The example it traces is at `sizes` (the shapes
    verification runs at first: a face detector that needs 12x12 pixels fails at 8x8) with a
    batch of EXAMPLE_BATCH, else at the signature's sizes."""
    import torch

    opset = opset or DEFAULT_OPSET
    at = shapes.example(signature, bounds, EXAMPLE_BATCH, layout)
    if sizes:
        at = shapes.example_at(signature, sizes, EXAMPLE_BATCH, layout)
    example = random_inputs(signature, at)
    from modelyard.worker.convert.runners import script_scalars

    # TorchScript's typed scalars (`sr: int`) are called with Python values, the user's own where
    # given: the exporter keeps them as rank-0 inputs, or bakes the value in (then `frozen`).
    scalars = {n: kind((values[n] if values and n in values else example[n]).reshape(-1)[0].item())
               for n, kind in script_scalars(module).items()}
    args = tuple(scalars[t.name] if t.name in scalars else torch.from_numpy(example[t.name]) for t in signature.inputs)
    inputs = [t.name for t in signature.inputs]
    outputs = [t.name for t in signature.outputs] or None
    dynamic = {t.name: dynamic_axes(t) for t in signature.inputs + signature.outputs if t.name not in scalars}
    external = _parameter_bytes(module) > EXTERNAL_DATA_BYTES
    steps: list[str] = []
    path.parent.mkdir(parents=True, exist_ok=True)
    described = ", ".join(f"{name}{axes}" for name, axes in dynamic.items() if axes and name in inputs) or "none"

    dynamo_error: BaseException | None = None
    if not isinstance(module, torch.jit.ScriptModule):
        # AUTO lets torch.export find which axes are tied (input_ids and attention_mask share the
        # sequence length) and their bounds; an axis it finds static is caught by keeps_dynamic.
        auto = torch.export.Dim.AUTO
        wanted = tuple({axis: auto for axis in dynamic[t.name]} for t in signature.inputs)
        try:
            with _quiet():
                program = torch.onnx.export(
                    module, args, dynamo=True, opset_version=opset, input_names=inputs,
                    dynamic_shapes=wanted if any(wanted) else None, optimize=True,
                )
            if outputs:
                # after the export: the exporter names intermediate values after the graph's
                # nodes, so a declared name such as `embedding` can already be taken (given to
                # the exporter as output_names, it names two values alike). In memory: a load
                # and save of the file cost 0.17 s for a ResNet-18.
                name_program_outputs(program.model, outputs)
            program.save(str(path), external_data=external)
            steps.append(f"torch.onnx.export(dynamo=True, opset_version={opset}, dynamic axes: {described}, optimize=True)")
            return ExportResult(path, "dynamo", steps)
        except Exception as error:  # noqa: BLE001 - any capture failure falls back, recorded
            dynamo_error = error
            steps.append(f"dynamo export failed ({_first_line(error)[:300]}); fell back to the legacy exporter")
    else:
        steps.append("source is TorchScript, which torch.export cannot capture: legacy exporter")
        from modelyard.worker.convert.torchscript import refuse_hidden_state

        state = refuse_hidden_state(module, args)
        if state:
            steps.append(state)
            # the exporter runs the module once for its example outputs: a copy keeps the
            # source's attributes where verification and the benchmark find them
            module = copy.deepcopy(module)

    axes = {name: {axis: f"{name}_{axis}" if axis else "batch" for axis in found}
            for name, found in dynamic.items() if found and (name in inputs or name in (outputs or []))} or None
    try:
        with _quiet(), python_not(opset):
            torch.onnx.export(
                module, args, str(path), dynamo=False, opset_version=opset, input_names=inputs,
                output_names=outputs, dynamic_axes=axes,
            )
    except Exception as error:  # noqa: BLE001 - becomes a message naming the operator when possible
        messages = [str(error)] + ([str(dynamo_error)] if dynamo_error else [])
        operator = next((op for op in map(_unsupported_operator, messages) if op), None)
        if operator:
            raise ConversionError(
                UNSUPPORTED_OPERATOR,
                f"operator {operator} cannot be exported to ONNX opset {opset} by either exporter; "
                f"replace it in the model or choose format torchscript ({_first_line(error)[:400]})",
            ) from None
        detail = f"; dynamo: {_first_line(dynamo_error)[:400]}" if dynamo_error else ""
        raise ConversionError(EXPORT_FAILED, f"ONNX export failed: legacy: {_first_line(error)[:400]}{detail}") from None
    steps.append(f"torch.onnx.export(dynamo=False, opset_version={opset}, dynamic_axes={axes})")
    shaped = _declared_output_shapes(path, signature)
    if shaped:
        steps.append(f"output(s) {', '.join(shaped)} given the signature's shape (the exporter found none)")
    frozen = _baked(path, scalars)
    if frozen:
        steps.append("TorchScript scalar argument(s) exported at " + ", ".join(f"{n}={v!r}" for n, v in frozen.items())
                     + ": the ONNX model computes for that value only")
    return ExportResult(path, "legacy", steps, frozen)


NOT_SYMBOLIC = "aten::__not_"
"""How the legacy exporter looks `aten::__not__` up: it strips one trailing underscore from every
operator name (as it does for in-place ops, `add_` -> `add`), so a symbolic registered under
`aten::__not__` is never called."""


@contextlib.contextmanager
def python_not(opset: int):
    """`not n` on a TorchScript int or float, exportable for the duration of one export.

    TorchScript writes `not n` as `aten::__not__(aten::Bool(n))`, and the legacy exporter erases
    `aten::Bool` (number types become tensors), so torch's own symbolic meets an integer tensor
    and refuses it. Python's truthiness is `n != 0`, which ONNX's Cast to bool computes (NaN is
    true, as in Python). Registered for this export only: the registry is the process's, and an
    override at one opset also answers for every opset above it."""
    import torch

    torch.onnx.register_custom_op_symbolic(NOT_SYMBOLIC, _not, opset)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic(NOT_SYMBOLIC, opset)


def _not(g: Any, value: Any) -> Any:
    kind = value.type()
    if not (kind.kind() == "BoolType" or (kind.kind() == "TensorType" and kind.scalarType() == "Bool")):
        value = g.op("Cast", value, to_i=9)  # TensorProto.BOOL
    return g.op("Not", value)


def _declared_output_shapes(path: Path, signature: Signature) -> list[str]:
    """Give the graph outputs the legacy exporter left without a shape (an output of an If whose
    branches' shapes it could not infer) the signature's, which onnx.checker requires; the
    outputs' shapes are then compared with the source's at every verified case."""
    import onnx

    declared = {t.name: t.shape for t in signature.outputs}
    model = onnx.load(str(path), load_external_data=False)
    shaped = []
    for value in model.graph.output:
        tensor = value.type.tensor_type
        if not value.type.HasField("tensor_type") or tensor.HasField("shape") or value.name not in declared:
            continue
        for axis, size in enumerate(declared[value.name]):
            dim = tensor.shape.dim.add()
            if size >= 0:
                dim.dim_value = size
            else:
                dim.dim_param = f"{value.name}_{axis}" if axis else "batch"
        tensor.shape.SetInParent()
        shaped.append(value.name)
    if shaped:
        onnx.save(model, str(path))
    return shaped


def _baked(path: Path, scalars: dict[str, object]) -> dict[str, object]:
    """The scalar arguments the exported graph does not take: it computes for their value only."""
    if not scalars:
        return {}
    import onnx

    taken = {i.name for i in onnx.load(str(path), load_external_data=False).graph.input}
    return {n: v for n, v in scalars.items() if n not in taken}


def check(path: Path) -> None:
    """`onnx.checker` on the file (by path: works with external data and above 2 GB)."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=False)
    except Exception as error:  # noqa: BLE001
        raise ConversionError(EXPORT_FAILED, f"{path.name} fails onnx.checker: {_first_line(error)}") from None


@contextlib.contextmanager
def _quiet():
    """The exporters print progress and deprecation warnings; the worker's log stays readable."""
    import logging

    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def keeps_dynamic(signature: Signature, path: Path) -> None:
    """Refuse an ONNX model that fixed an axis the source takes at any size: verified at one
    size, it would be registered as the source's equivalent at all of them."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    found = {value.name: value.type.tensor_type.shape.dim for value in graph.input}
    for tensor in signature.inputs:
        dims = found.get(tensor.name)
        if dims is None:
            continue
        for axis in dynamic_axes(tensor):
            # Paddle writes -1 as a dim_value: onnxruntime reads it as dynamic, and so do we
            if axis < len(dims) and dims[axis].HasField("dim_value") and dims[axis].dim_value > 0:
                raise ConversionError(
                    DYNAMIC_AXIS_LOST,
                    f"input {tensor.name} axis {axis} is dynamic in the source, but the exported ONNX model fixes it "
                    f"at {dims[axis].dim_value}: the model's code specialises that axis when traced (e.g. a reshape "
                    f"to a constant size); declare the size in the source's spec.signature if it is really fixed",
                )


def name_program_outputs(model: Any, names: list[str]) -> None:
    """Give the graph's outputs `names`, in order; a value that already has one of those names
    is renamed out of the way first. On the exporter's in-memory model (onnx_ir), where renaming
    a value renames every use of it, subgraphs included."""
    import onnx_ir as ir

    graph = model.graph
    if len(graph.outputs) != len(names):
        raise ConversionError(
            EXPORT_FAILED, f"the exported model has {len(graph.outputs)} output(s), the signature declares {len(names)}: "
                           f"{', '.join(names)}")
    values = [*graph.inputs, *graph.initializers.values()]
    values += [v for node in ir.traversal.RecursiveGraphIterator(graph) for v in node.outputs]
    named = {v.name: v for v in values if v.name}
    for value, new in zip(list(graph.outputs), names, strict=True):
        if value.name == new:
            continue
        holder = named.get(new)
        if holder is not None and holder is not value:
            holder.name = _unused(f"{new}_intermediate", set(named))
            named[holder.name] = holder
        named.pop(value.name or "", None)
        value.name = new
        named[new] = value


def _unused(stem: str, taken: set[str]) -> str:
    index = 0
    while f"{stem}_{index}" in taken:
        index += 1
    return f"{stem}_{index}"
