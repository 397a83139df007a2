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
from modelyard.worker.convert.errors import TOOL_FAILED, TOOL_MISSING, ConversionError
from modelyard.worker.convert.shapes import LARGE, Bounds, clamp, dynamic_axes

TRT_OPT_BATCH = 8
TRT_MAX_BATCH = 32
TRT_MAX_DIM = 512
"""Greatest size of a dynamic non-batch axis in a TensorRT profile when the source sets none."""
ASCEND_BATCHES = (1, 2, 4, 8, 16, 32)
"""Batch sizes an OM model with a dynamic batch is built for (atc --dynamic_batch_size)."""
ASCEND_DIMS = (8, 16, 32, 64, 128, 256, 512)
"""Sizes of the other dynamic axes an OM model is built for (atc --dynamic_dims gears)."""
TIMEOUT_S = 3600


def _size(axis: int, shape: list[int], batch: int, other: int, bound: tuple[int, int | None] | None) -> int:
    if shape[axis] != -1:
        return shape[axis]
    return clamp(batch if axis == 0 else other, bound)


def _profile(signature: Signature, bounds: Bounds, batch: int, other: int) -> str:
    return ",".join(
        f"{t.name}:{'x'.join(str(_size(a, t.shape, batch, other, bounds.get(t.name, {}).get(a))) for a in range(len(t.shape)))}"
        for t in signature.inputs)


def trtexec_command(onnx_path: Path, plan: Path, signature: Signature, fp16: bool = True,
                    bounds: Bounds | None = None) -> list[str]:
    """`trtexec` building a plan whose optimisation profile spans every dynamic axis: the batch
    1 / TRT_OPT_BATCH / TRT_MAX_BATCH, other axes from their least size (1) through LARGE to
    TRT_MAX_DIM, within the source's bounds."""
    bounds = bounds or {}
    command = ["trtexec", f"--onnx={onnx_path}", f"--saveEngine={plan}"]
    if any(-1 in t.shape for t in signature.inputs):
        for flag, batch, other in (("minShapes", 1, 1), ("optShapes", TRT_OPT_BATCH, LARGE),
                                   ("maxShapes", TRT_MAX_BATCH, TRT_MAX_DIM)):
            command.append(f"--{flag}={_profile(signature, bounds, batch, other)}")
    if fp16:
        command.append("--fp16")
    command.append("--skipInference")
    return command


def atc_command(onnx_path: Path, output_stem: Path, signature: Signature, ascend: AscendOptions,
                bounds: Bounds | None = None) -> list[str]:
    """CANN `atc` converting ONNX (`--framework=5`) to an OM model at `<output_stem>.om`. A
    dynamic batch alone is built for ASCEND_BATCHES; other dynamic axes make it an ND model with
    `--dynamic_dims` gears (every batch with every ASCEND_DIMS size, the same size for the same
    axis of every input, within the source's bounds)."""
    bounds = bounds or {}
    shapes = ";".join(f"{t.name}:{','.join(map(str, t.shape))}" for t in signature.inputs)
    command = [
        "atc", f"--model={onnx_path}", "--framework=5", f"--output={output_stem}",
        f"--soc_version={ascend.soc_version}", f"--precision_mode={ascend.precision_mode}",
        f"--input_shape={shapes}",
    ]
    others = any(-1 in t.shape[1:] for t in signature.inputs)
    if others:
        gears = []
        for batch in ASCEND_BATCHES:
            for other in ASCEND_DIMS:
                gear = ",".join(str(_size(a, t.shape, batch, other, bounds.get(t.name, {}).get(a)))
                                for t in signature.inputs for a in dynamic_axes(t))
                if gear not in gears:
                    gears.append(gear)
        command += ["--input_format=ND", f"--dynamic_dims={';'.join(gears)}"]
    elif any(t.shape and t.shape[0] == -1 for t in signature.inputs):
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
