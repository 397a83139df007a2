"""Real-model conversion coverage: every corpus model converted to each target through local mode,
as a user would (manifests applied with `modelyard local apply`, a file:// store, the user's own
inputs as `spec.verify.inputsUri`), then every output registered as verified checked again here,
independently of the pipeline: the stored model run with onnxruntime (OpenVINO for `openvino`)
against the original on the same npz, judged by this module's own rules.

A cell is `verified` (registered and confirmed), `wrong` (registered as verified, refuted here:
outside tolerance, or unable to run the inputs the source runs), or `refused` (no output
registered; the job's reason and message say why). bench/coverage.py prints and documents the
matrix; tests/integration/test_coverage.py runs its quick slice."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from tests.support import corpus
from tests.support.corpus import run
from tests.support.corpus.catalog import Entry

TARGETS = ("onnx", "onnx-fp16", "onnx-int8", "onnx-int8-static", "openvino")
"""Cells per model; `onnx-int8-static` only where calibration data is natural (entry.calibration)."""
FP32_TARGETS = ("onnx", "openvino")
APPLY_TIMEOUT_S = 1800

# The independent check's rules. fp32: element-wise, atol scaled by the output's magnitude
# (logits of hundreds and probabilities alike); fp16: the product's documented default
# (atol = rtol = 1e-2) and cosine 0.99 for embeddings; int8: the documented rules (classifier
# top-1 agreement >= 0.9, embedding cosine >= 0.95, other outputs within 10 % of their range).
FP32_ATOL, FP32_RTOL = 1e-4, 1e-3
FP16_ATOL, FP16_RTOL, FP16_MIN_COSINE = 1e-2, 1e-2, 0.99
INT8_MIN_TOP1, INT8_MIN_COSINE, INT8_RANGE_FRACTION = 0.9, 0.95, 0.1
LABELS_MIN_AGREEMENT = 0.9


@dataclass
class Cell:
    model: str
    target: str
    phase: str | None = None
    reason: str | None = None
    message: str | None = None
    registered: bool = False
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    speedup_batch1: float | None = None
    checked: str | None = None
    """The independent check: None (not registered), `ok: ...` or `refuted: ...`."""
    outcome: str = "refused"
    """verified | wrong | refused."""
    seconds: float | None = None


@dataclass
class ModelResult:
    entry: str
    cells: list[Cell] = field(default_factory=list)
    import_phase: str | None = None
    import_message: str | None = None
    seconds: float = 0.0


def dns(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


MODEL_TASKS = {"image-classification": "image-classification", "object-detection": "object-detection",
               "face-detection": "object-detection", "text-detection": "image-segmentation",
               "layout-analysis": "object-detection", "tabular-classification": "tabular-classification",
               "file-type-detection": "text-classification"}
"""Corpus task -> the Model's `spec.task` (its enum); the rest are `other`."""


def targets_of(entry: Entry, targets: tuple[str, ...] = TARGETS) -> list[str]:
    return [t for t in targets if t != "onnx-int8-static" or entry.calibration]


def _classifiers(entry: Entry) -> list[str]:
    return [name for name, kind in entry.outputs.items() if kind == "classifier"]


def manifests(entry: Entry, folder: Path, targets: list[str]) -> tuple[Path, Path]:
    """Write the user's manifests for one model (Model, ModelVersion, a ConversionJob per target)
    and its npz; returns (manifest folder, npz)."""
    folder.mkdir(parents=True, exist_ok=True)
    npz = folder / f"{entry.name}-inputs.npz"
    corpus.write_inputs(entry, npz)
    source = corpus.source_path(entry, folder / "source")
    name = dns(entry.name)
    version: dict[str, Any] = {"modelRef": {"name": name}, "version": "1.0.0", "format": entry.import_format,
                               "source": {"uri": source.resolve().as_uri()}}
    signature = corpus.signature(entry)
    if signature:
        version["signature"] = signature
    docs: list[dict[str, Any]] = [
        {"apiVersion": "modelyard.dev/v1alpha1", "kind": "Model", "metadata": {"name": name},
         "spec": {"displayName": entry.name, "task": MODEL_TASKS.get(entry.task, "other"), "description": entry.description[:200]}},
        {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelVersion", "metadata": {"name": f"{name}-src"},
         "spec": version},
    ]
    for target in targets:
        spec: dict[str, Any] = {"sourceRef": {"name": f"{name}-src"},
                                "target": {"format": "onnx-int8" if target == "onnx-int8-static" else target,
                                           "hardware": "cpu"},
                                "verify": {"inputsUri": npz.resolve().as_uri(), "samples": entry.samples,
                                           "classifierOutputs": _classifiers(entry)}}
        if target == "onnx-int8-static":
            spec["target"]["quantization"] = {"mode": "static", "calibrationUri": npz.resolve().as_uri()}
            # the dynamic cell takes the default output version (1.0.0+onnx-int8.cpu)
            spec["output"] = {"version": "1.0.0+onnx-int8-static.cpu"}
        docs.append({"apiVersion": "modelyard.dev/v1alpha1", "kind": "ConversionJob",
                     "metadata": {"name": f"{name}-{target}"}, "spec": spec})
    (folder / "manifests").mkdir(exist_ok=True)
    (folder / "manifests" / f"{name}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return folder / "manifests", npz


def _modelyard(*argv: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from modelyard.cli import main; sys.exit(main(sys.argv[1:]))",
                           *argv], capture_output=True, text=True, timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _items(home: Path, kind: str) -> dict[str, dict[str, Any]]:
    done = _modelyard("local", "get", kind, "-o", "json", "--home", str(home))
    if done.returncode != 0:
        raise RuntimeError(f"modelyard local get {kind}: {done.stderr.strip()}")
    return {i["metadata"]["name"]: i for i in json.loads(done.stdout)["items"]}


def _reason(status: dict[str, Any]) -> str | None:
    conditions = status.get("conditions") or []
    for wanted in ("Ready", "Complete", "Failed"):
        for condition in conditions:
            if condition.get("type") == wanted and condition.get("reason"):
                return condition["reason"]
    return next((c["reason"] for c in conditions if c.get("reason")), None)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _first_line(text: str | None) -> str | None:
    text = ANSI.sub("", text or "").strip()
    return text.splitlines()[0][:1000] if text else None


def _stored_model(artifact_uri: str) -> Path:
    folder = Path(artifact_uri.removeprefix("file://"))
    for pattern in ("*.onnx", "*.xml"):
        found = sorted(p for p in folder.rglob(pattern) if p.is_file())
        if found:
            return found[0]
    raise FileNotFoundError(f"no .onnx or .xml under {folder}")


def _precision(target: str) -> str:
    return {"onnx-fp16": "fp16", "onnx-int8": "int8", "onnx-int8-static": "int8"}.get(target, "fp32")


def judge(kind: str, precision: str, ref: np.ndarray, out: np.ndarray) -> tuple[bool, str]:
    """One output of one run, by this module's rules: (passed, figures)."""
    if ref.shape != out.shape:
        return False, f"shape {list(out.shape)} where the source gives {list(ref.shape)}"
    if kind == "labels" or ref.dtype.kind in "iub":
        agreement = float(np.mean(ref == out)) if ref.size else 1.0
        return agreement >= (1.0 if precision == "fp32" else LABELS_MIN_AGREEMENT), f"agreement {agreement:.3f}"
    ref64, out64 = ref.astype(np.float64), out.astype(np.float64)
    finite = np.isfinite(ref64)
    diff = np.abs(ref64 - out64)[finite]
    max_abs = float(diff.max(initial=0.0))
    if not np.isfinite(out64[finite]).all():
        return False, "non-finite values where the source's are finite"
    scale = float(np.abs(ref64[finite]).max(initial=0.0))
    rows_ref, rows_out = ref64.reshape(ref.shape[0], -1), out64.reshape(out.shape[0], -1)
    norms = np.linalg.norm(rows_ref, axis=1) * np.linalg.norm(rows_out, axis=1)
    cosine = float(np.min(np.where(norms > 0, (rows_ref * rows_out).sum(1) / np.where(norms > 0, norms, 1), 1.0)))
    if precision == "fp32":
        ok = bool(np.all(diff <= FP32_ATOL * max(1.0, scale) + FP32_RTOL * np.abs(ref64[finite])))
        return ok, f"maxAbsDiff {max_abs:.3g} (scale {scale:.3g})"
    if precision == "fp16":
        if kind == "embedding":
            return cosine >= FP16_MIN_COSINE, f"min cosine {cosine:.4f}, maxAbsDiff {max_abs:.3g}"
        ok = bool(np.all(diff <= FP16_ATOL + FP16_RTOL * np.abs(ref64[finite])))
        return ok, f"maxAbsDiff {max_abs:.3g}"
    value_range = float(np.ptp(ref64[finite])) if finite.any() else 0.0
    within = max_abs <= INT8_RANGE_FRACTION * value_range
    if kind == "classifier":
        top1 = float(np.mean(rows_ref.argmax(1) == rows_out.argmax(1)))
        return top1 >= INT8_MIN_TOP1, f"top-1 agreement {top1:.3f}"
    if kind == "embedding":
        return cosine >= INT8_MIN_COSINE, f"min cosine {cosine:.4f}, maxAbsDiff {max_abs:.3g}"
    return within, f"maxAbsDiff {max_abs:.3g} on a range of {value_range:.3g}"


def independent_check(entry: Entry, target: str, stored: Path, arrays: dict[str, np.ndarray],
                      reference: list[dict[str, np.ndarray]]) -> tuple[bool, str]:
    """The stored model against the source's outputs on the same npz runs."""
    try:
        model = run.load(stored, entry)
        results = run.outputs(model, entry, arrays)
    except Exception as error:  # a registered model that cannot run the user's inputs is refuted
        return False, f"does not run the inputs the source runs: {type(error).__name__}: {_first_line(str(error))}"
    precision = _precision(target)
    worst: list[str] = []
    for position, name in enumerate(reference[0]):
        refs = [r[name] for r in reference]
        outs = [o.get(name, list(o.values())[position] if position < len(o) else None) for o in results]
        if any(o is None for o in outs):
            return False, f"output {name} missing"
        # judged over all samples at once where the runs stack (top-1 agreement is a fraction
        # of samples), else run by run
        try:
            pairs = [(np.concatenate(refs), np.concatenate(outs))] if len(refs) > 1 else [(refs[0], outs[0])]
        except ValueError:
            pairs = list(zip(refs, outs, strict=True))
        for ref, out in pairs:
            ok, figures = judge(entry.outputs.get(name, "values"), precision, ref, out)
            if not ok:
                return False, f"{name}: {figures}"
            worst.append(f"{name}: {figures}")
    return True, "; ".join(dict.fromkeys(worst))[:300]


def run_model(entry: Entry, workdir: Path, targets: tuple[str, ...] = TARGETS,
              log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)) -> ModelResult:
    """Convert one corpus model to each target through local mode and check what was registered."""
    started = time.monotonic()
    folder, home = workdir / entry.name, workdir / entry.name / "home"
    cells = targets_of(entry, targets)
    manifest_dir, npz = manifests(entry, folder, cells)
    log(f"coverage: {entry.name}: applying {len(cells)} conversions ({', '.join(cells)})")
    try:
        done = _modelyard("local", "apply", "-f", str(manifest_dir), "--home", str(home), timeout=APPLY_TIMEOUT_S)
        (folder / "apply.log").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    except subprocess.TimeoutExpired:
        log(f"coverage: {entry.name}: local apply did not finish in {APPLY_TIMEOUT_S} s")
    name = dns(entry.name)
    result = ModelResult(entry.name)
    versions = _items(home, "modelversions")
    source = versions.get(f"{name}-src", {}).get("status", {})
    result.import_phase, result.import_message = source.get("phase"), _first_line(source.get("message"))
    jobs = _items(home, "conversionjobs")
    arrays = dict(np.load(npz))
    reference = None
    for target in cells:
        status = jobs.get(f"{name}-{target}", {}).get("status") or {}
        cell = Cell(entry.name, target, status.get("phase"), _reason(status), _first_line(status.get("message")))
        verification, benchmark = status.get("verification") or {}, status.get("benchmark") or {}
        cell.max_abs_diff, cell.max_rel_diff = verification.get("maxAbsDiff"), verification.get("maxRelDiff")
        cell.speedup_batch1 = benchmark.get("speedupBatch1")
        cell.registered = cell.phase == "Succeeded" and bool(status.get("outputVersion"))
        if cell.phase is None and result.import_phase != "Ready":
            cell.reason = cell.reason or "SourceNotReady"
            cell.message = cell.message or f"the source version is {result.import_phase}: {result.import_message}"
        if cell.registered:
            if reference is None:
                original = run.load(corpus.runnable_path(entry), entry)
                reference = run.outputs(original, entry, arrays)
            artifact = (status.get("artifact") or {}).get("uri") or \
                versions.get(status["outputVersion"], {}).get("status", {}).get("artifact", {}).get("uri")
            ok, detail = independent_check(entry, target, _stored_model(artifact), arrays, reference)
            cell.checked = ("ok: " if ok else "refuted: ") + detail
            cell.outcome = "verified" if ok else "wrong"
        result.cells.append(cell)
        log(f"coverage: {entry.name} {target}: {cell.outcome}"
            + (f" (maxAbsDiff {cell.max_abs_diff:.3g}, speed-up {cell.speedup_batch1})" if cell.registered and
               cell.max_abs_diff is not None else "")
            + (f" [{cell.reason}] {cell.message}" if not cell.registered else "")
            + (f" -- check {cell.checked}" if cell.outcome == "wrong" else ""))
    result.seconds = time.monotonic() - started
    return result


def summary(results: list[ModelResult]) -> dict[str, int]:
    cells = [c for r in results for c in r.cells]
    fp32 = [c for c in cells if c.target in FP32_TARGETS]
    return {
        "models": len(results),
        "cells": len(cells),
        "verified": sum(c.outcome == "verified" for c in cells),
        "refused": sum(c.outcome == "refused" for c in cells),
        "wrong": sum(c.outcome == "wrong" for c in cells),
        "fp32_verified": sum(c.outcome == "verified" for c in fp32),
        "fp32_cells": len(fp32),
    }


def to_json(results: list[ModelResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
