"""External build tools: TensorRT's `trtexec` (tensorrt-plan) and CANN's `atc` (ascend-om).

The exact command is built first, recorded in lineage and reproduce.sh, and run only if the tool
is on PATH; otherwise the job fails naming the tool and that command (never a silent fallback
to another format)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from modelyard.api.common import Signature
from modelyard.api.conversionjob import AscendOptions
from modelyard.worker.convert.errors import TOOL_FAILED, TOOL_MISSING, UNSUPPORTED_CONVERSION, ConversionError

TRT_OPT_BATCH = 8
TRT_MAX_BATCH = 32
ASCEND_BATCHES = (1, 2, 4, 8, 16, 32)
"""Batch sizes an OM model with a dynamic batch is built for (atc --dynamic_batch_size)."""
TIMEOUT_S = 3600


def _fixed_dims(signature: Signature, what: str) -> None:
    for tensor in signature.inputs:
        if any(d == -1 for d in tensor.shape[1:]):
            raise ConversionError(
                UNSUPPORTED_CONVERSION,
                f"{what} needs fixed input shapes except the batch; input {tensor.name} has shape {tensor.shape}: "
                f"declare its dimensions in the source's signature",
            )


def _dims(shape: list[int], batch: int | None) -> list[int]:
    return [batch if i == 0 and d == -1 and batch is not None else d for i, d in enumerate(shape)]


def trtexec_command(onnx_path: Path, plan: Path, signature: Signature, fp16: bool = True) -> list[str]:
    """`trtexec` building a plan with a batch profile of 1 / TRT_OPT_BATCH / TRT_MAX_BATCH."""
    _fixed_dims(signature, "tensorrt-plan")
    command = ["trtexec", f"--onnx={onnx_path}", f"--saveEngine={plan}"]
    if any(t.shape and t.shape[0] == -1 for t in signature.inputs):
        for flag, batch in (("minShapes", 1), ("optShapes", TRT_OPT_BATCH), ("maxShapes", TRT_MAX_BATCH)):
            shapes = ",".join(f"{t.name}:{'x'.join(map(str, _dims(t.shape, batch)))}" for t in signature.inputs)
            command.append(f"--{flag}={shapes}")
    if fp16:
        command.append("--fp16")
    command.append("--skipInference")
    return command


def atc_command(onnx_path: Path, output_stem: Path, signature: Signature, ascend: AscendOptions) -> list[str]:
    """CANN `atc` converting ONNX (`--framework=5`) to an OM model at `<output_stem>.om`."""
    _fixed_dims(signature, "ascend-om")
    dynamic = any(t.shape and t.shape[0] == -1 for t in signature.inputs)
    shapes = ";".join(f"{t.name}:{','.join(map(str, t.shape))}" for t in signature.inputs)
    command = [
        "atc", f"--model={onnx_path}", "--framework=5", f"--output={output_stem}",
        f"--soc_version={ascend.soc_version}", f"--precision_mode={ascend.precision_mode}",
        f"--input_shape={shapes}",
    ]
    if dynamic:
        command.append(f"--dynamic_batch_size={','.join(map(str, ASCEND_BATCHES))}")
    return command


def render(command: list[str]) -> str:
    """The command as a shell line (what lineage, messages and reproduce.sh show)."""
    return shlex.join(command)


def run_tool(command: list[str], cwd: Path) -> str:
    """Run the command; ToolMissing when its program is not on PATH, ToolFailed (with the end of
    its output) when it fails. Returns the rendered command."""
    tool = command[0]
    line = render(command)
    if shutil.which(tool) is None:
        raise ConversionError(
            TOOL_MISSING,
            f"{tool} is not installed in the worker image (not on PATH); use an image with it for this target. "
            f"The command that would have run: {line}",
        )
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    if completed.returncode != 0:
        tail = (completed.stdout + completed.stderr).strip()[-1500:]
        raise ConversionError(TOOL_FAILED, f"{tool} exited with {completed.returncode}: {line}\n{tail}")
    return line
