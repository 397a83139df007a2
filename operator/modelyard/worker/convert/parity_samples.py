"""`parity.npz`: samples of a conversion's verification, stored with the output version, so that a
live endpoint serving it can later be checked against what was verified (`python -m
modelyard.worker parity`).

Up to MAX_SAMPLES verification inputs at batch 1, at the sizes verification ran at (the user's
inputs when given), and the CONVERTED model's own outputs on them, computed here with the runtime
that verified it. Layout, readable with `numpy.load(..., allow_pickle=False)`:

- `input:<name>`, `expected:<name>`: the samples of one size stacked on a new first axis (sample
  i is `array[i]`, a batch-1 input). Samples at a second size use the suffix `@1`, and so on:
  `input:<name>@1`.
- `atol`, `rtol`: the element-wise tolerance a live answer must keep (`|a - b| <= atol + rtol *
  |b|`; integer outputs must be equal), `format`: the output's format, `samples`: how many.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Callable

import numpy as np

from modelyard.worker.convert.inputs import Batch, take
from modelyard.worker.convert.runners import Runner
from modelyard.worker.convert.shapes import Case
from modelyard.worker.convert.verify import DEFAULTS, Tolerance

FILE = "parity.npz"
MAX_SAMPLES = 8
INT8_FALLBACK = DEFAULTS["fp16"][:2]
"""INT8 verification judges agreement with the source, not element-wise closeness. The live
check compares the same quantized model with itself, whose integer kernels may round a value one
step apart on another CPU: the fp16 tolerance (1e-2, 1e-2) applies, tight enough to refuse a
different model or precision."""


def tolerance_of(tol: Tolerance) -> tuple[float, float]:
    """(atol, rtol) a live endpoint is held to: the verification's own, when element-wise."""
    if tol.atol is None and tol.rtol is None:
        return INT8_FALLBACK
    return float(tol.atol or 0.0), float(tol.rtol or 0.0)


def batch_one(case: Case, data: Batch) -> list[Batch]:
    """The case's samples, one input per sample at batch 1 (shared inputs as they are)."""
    if not case.batched:
        return [{name: np.asarray(array[i]) for name, array in data.items()} for i in range(case.samples)]
    return [{name: take(array, case.axis(name), i, i + 1) for name, array in data.items()} for i in range(case.samples)]


def choose(chosen: list[Case], data: Callable[[Case], Batch], limit: int = MAX_SAMPLES) -> list[Batch]:
    """Up to `limit` distinct samples, taken in turn from each verified case (so every verified
    size is represented)."""
    per_case = [batch_one(case, data(case)) for case in chosen]
    picked: list[Batch] = []
    seen: set[str] = set()
    for i in range(max((len(s) for s in per_case), default=0)):
        for samples in per_case:
            if i >= len(samples) or len(picked) >= limit:
                continue
            key = _fingerprint(samples[i])
            if key not in seen:
                seen.add(key)
                picked.append(samples[i])
    return picked


def record(converted: Runner, samples: list[Batch], input_names: list[str], output_names: list[str], tol: Tolerance,
           format: str) -> bytes:
    """The npz bytes: the samples (the inputs the output version takes: an input its converter
    froze is left out) and the converted model's outputs on each."""
    groups: dict[tuple, list[tuple[Batch, dict[str, np.ndarray]]]] = {}
    for full in samples:
        outputs = converted(full)
        sample = {name: full[name] for name in input_names if name in full}
        names = output_names if len(output_names) == len(outputs) else [f"output_{i}" for i in range(len(outputs))]
        shape = tuple((n, a.shape, str(a.dtype)) for n, a in sorted(sample.items()))
        groups.setdefault(shape, []).append((sample, dict(zip(names, outputs, strict=True))))
    arrays: dict[str, np.ndarray] = {}
    for index, members in enumerate(groups.values()):
        suffix = f"@{index}" if index else ""
        for name in members[0][0]:
            arrays[f"input:{name}{suffix}"] = np.stack([np.asarray(s[name]) for s, _ in members])
        for name in members[0][1]:
            arrays[f"expected:{name}{suffix}"] = np.stack([np.asarray(o[name]) for _, o in members])
    atol, rtol = tolerance_of(tol)
    arrays.update(atol=np.float64(atol), rtol=np.float64(rtol), format=np.array(format), samples=np.int64(len(samples)))
    return _npz(arrays)


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    """An npz (np.load reads it) whose integer, boolean and text arrays are deflated and whose
    floats are stored: float tensors barely compress (7 % of a ResNet's inputs) and deflating
    them took 0.2 s there, several seconds for a detector's 640x640 samples."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", allowZip64=True) as archive:
        for name, array in arrays.items():
            array = np.asanyarray(array)
            info = zipfile.ZipInfo(f"{name}.npy")
            info.compress_type = zipfile.ZIP_STORED if array.dtype.kind in "fc" else zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    return buffer.getvalue()


def _fingerprint(sample: Batch) -> str:
    digest = hashlib.sha256()
    for name in sorted(sample):
        array = np.ascontiguousarray(sample[name])
        digest.update(f"{name}{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
