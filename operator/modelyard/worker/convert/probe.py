"""Load a converted ONNX model in a child process first: onnxruntime can crash the whole process
(SIGSEGV) on a graph it should reject, and a crash must become a clear failure, not a dead
worker."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from modelyard.worker.convert.errors import CONVERSION_FAILED, ConversionError

TIMEOUT_S = 300
_SCRIPT = (
    "import sys, onnxruntime as ort; o = ort.SessionOptions(); o.log_severity_level = 3; "
    "ort.InferenceSession(sys.argv[1], o, providers=['CPUExecutionProvider'])"
)


def probe(path: Path, what: str) -> None:
    completed = subprocess.run([sys.executable, "-c", _SCRIPT, str(path)], capture_output=True, text=True,
                               timeout=TIMEOUT_S, check=False)
    if completed.returncode == 0:
        return
    if completed.returncode < 0:
        name = signal.Signals(-completed.returncode).name
        raise ConversionError(
            CONVERSION_FAILED,
            f"onnxruntime crashed ({name}) loading the {what} model; its operators lack working {what} kernels "
            f"here: choose another format for this model",
        )
    tail = completed.stderr.strip().splitlines()[-1:] or ["no output"]
    said = tail[0].replace(str(path), path.name)  # the worker's scratch folder means nothing to a user
    raise ConversionError(CONVERSION_FAILED, f"onnxruntime cannot load the {what} model: {said[:800]}")


_TORCHSCRIPT = (
    "import sys, numpy as np, torch; m = torch.jit.load(sys.argv[1], map_location='cpu'); "
    "d = np.load(sys.argv[2]); m(*(torch.from_numpy(d[k]) for k in d.files))"
)


def probe_torchscript(path: Path, example: dict) -> None:
    """Load and run a traced module in a child process (a module traced from an ExportedProgram
    can crash the process when called, e.g. an LSTM whose weights the export re-assigned)."""
    import numpy as np

    inputs = path.with_name(path.stem + ".probe.npz")
    np.savez(inputs, **example)
    try:
        completed = subprocess.run([sys.executable, "-c", _TORCHSCRIPT, str(path), str(inputs)], capture_output=True,
                                   text=True, timeout=TIMEOUT_S, check=False)
    finally:
        inputs.unlink()
    if completed.returncode < 0:
        name = signal.Signals(-completed.returncode).name
        raise ConversionError(
            CONVERSION_FAILED,
            f"the traced TorchScript model crashes ({name}) when run; tracing this model does not produce a "
            f"working TorchScript module: export TorchScript from the original code (torch.jit.script) or choose an ONNX format",
        )
    if completed.returncode != 0:
        tail = completed.stderr.strip().splitlines()[-1:] or ["no output"]
        shapes = ", ".join(f"{name}{list(array.shape)}" for name, array in example.items())
        raise ConversionError(
            CONVERSION_FAILED,
            f"the traced TorchScript model fails at input shapes {shapes}, which the source accepts: tracing fixed "
            f"sizes it saw (a traced ExportedProgram keeps no dynamic axis) ({tail[0][:600]}); export TorchScript "
            f"from the original code (torch.jit.script) or choose an ONNX format")
