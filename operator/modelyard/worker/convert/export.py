"""torch -> ONNX with a dynamic batch: the dynamo exporter (torch.export + onnxscript) first,
the legacy TorchScript exporter when dynamo cannot capture the model; which one ran, and why,
is recorded. `onnx.checker` must pass on the result."""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.api.common import Signature
from modelyard.worker.convert.errors import EXPORT_FAILED, UNSUPPORTED_OPERATOR, ConversionError
from modelyard.worker.convert.inputs import batch_dynamic, generate

DEFAULT_OPSET = 18
EXAMPLE_BATCH = 2
"""Batch size of the example input: torch.export specialises a dimension of size 1."""
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


def _first_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:600]}"


def export_onnx(module: Any, signature: Signature, path: Path, opset: int | None = None) -> ExportResult:
    """Export `module` (eager, ExportedProgram module or TorchScript) to `path`."""
    import torch

    opset = opset or DEFAULT_OPSET
    dynamic = batch_dynamic(signature)
    example = generate(signature, EXAMPLE_BATCH if dynamic else 1)
    args = tuple(torch.from_numpy(example[t.name]) for t in signature.inputs)
    inputs = [t.name for t in signature.inputs]
    outputs = [t.name for t in signature.outputs] or None
    external = _parameter_bytes(module) > EXTERNAL_DATA_BYTES
    steps: list[str] = []
    path.parent.mkdir(parents=True, exist_ok=True)

    dynamo_error: BaseException | None = None
    if not isinstance(module, torch.jit.ScriptModule):
        batch = torch.export.Dim("batch", min=1)
        shapes = tuple({0: batch} if t.shape and t.shape[0] == -1 else {} for t in signature.inputs) if dynamic else None
        try:
            with _quiet():
                torch.onnx.export(
                    module, args, str(path), dynamo=True, opset_version=opset, input_names=inputs,
                    output_names=outputs, dynamic_shapes=shapes, external_data=external, optimize=True,
                )
            steps.append(f"torch.onnx.export(dynamo=True, opset_version={opset}, dynamic batch={dynamic}, optimize=True)")
            return ExportResult(path, "dynamo", steps)
        except Exception as error:  # noqa: BLE001 - any capture failure falls back, recorded
            dynamo_error = error
            steps.append(f"dynamo export failed ({_first_line(error)[:300]}); fell back to the legacy exporter")
    else:
        steps.append("source is TorchScript, which torch.export cannot capture: legacy exporter")

    axes = {name: {0: "batch"} for name in inputs + (outputs or [])} if dynamic else None
    try:
        with _quiet():
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
    return ExportResult(path, "legacy", steps)


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
