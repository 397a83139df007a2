"""run_evaluate: dataset + version (+ baseline) -> metrics, verdict, report in the store."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from modelyard.api import API_VERSION
from modelyard.api.evaluationjob import BackendSpec, EvaluationJobSpec
from modelyard.api.modelversion import ModelVersion
from modelyard.storage.base import Store
from modelyard.storage.config import S3Settings
from modelyard.worker.evaluate.backends import check_format, default_backend, open_backend
from modelyard.worker.evaluate.datasets import fetch_dataset, open_dataset
from modelyard.worker.evaluate.diagnosis import diagnose
from modelyard.worker.evaluate.errors import EvaluationError
from modelyard.worker.evaluate.facts import model_facts
from modelyard.worker.evaluate.gates import check_gates, compare_to_baseline, verdict
from modelyard.worker.evaluate.loop import Measurement, measure
from modelyard.worker.evaluate.metrics import ClassificationTally
from modelyard.worker.evaluate.model import fetch_model, model_size
from modelyard.worker.evaluate.report import draw, report_prefix, write_report
from modelyard.worker.source import redact

# spec.metrics entry -> the result keys it selects (confusionMatrix lives in the report only).
SELECTS = {"accuracy": ("accuracy",), "top5": ("top5",), "precision": ("precision",), "recall": ("recall",),
           "f1": ("f1",), "throughput": ("throughput",), "confusionMatrix": ()}
ALWAYS = ("samples", "sizeBytes", "mae", "rmse", "r2")


@dataclass
class EvaluateJob:
    """Everything one evaluation needs; the operator passes the objects (workers never call the API)."""

    namespace: str
    name: str
    """The EvaluationJob."""
    spec: EvaluationJobSpec
    version: ModelVersion
    """The evaluated version; its files are read from the store and verified."""
    baseline: ModelVersion | None
    """The version of spec.baselineRef, when set."""
    store: Store
    workdir: Path
    s3: S3Settings | None = None
    """Settings for an s3:// dataset."""
    progress: Callable[[str], None] | None = None
    """Called with short stage strings, e.g. `batch 12/40`."""


@dataclass
class Run:
    """One version's evaluation."""

    version: ModelVersion
    measurement: Measurement
    metrics: dict[str, float]
    backend: str
    class_names: list[str] | None


def _evaluate(job: EvaluateJob, version: ModelVersion, data: Path, label: str) -> Run:
    say = job.progress or (lambda _: None)
    spec = job.spec
    backend_spec = spec.backend or BackendSpec(type=default_backend(version.spec.format))
    facts = model_facts(version)
    model_file, size = None, None
    if backend_spec.type == "triton":
        size = model_size(job.store, job.namespace, version)
    else:
        check_format(backend_spec.type, version.spec.format)
        say(f"{label}downloading model {version.name}")
        model_file, manifest = fetch_model(job.store, job.namespace, version, job.workdir / f"model-{version.name}")
        size = manifest.size_bytes
    say(f"{label}loading model")
    backend = open_backend(backend_spec, spec.hardware, version, model_file)
    where = f"dataset {redact(spec.dataset.uri)}"
    try:
        with open_dataset(spec.dataset, data, backend.inputs, job.workdir, facts.preprocessing) as dataset:
            measurement = measure(backend, dataset, spec.batch_size, facts.task, where, say, label)
            names = dataset.class_names
    finally:
        backend.close()
    metrics = {**measurement.tally.summary(), **measurement.latency.summary(), "samples": measurement.samples}
    if size is not None:
        metrics["sizeBytes"] = size
    return Run(version, measurement, metrics, backend.description, names)


def _select(metrics: dict[str, float], job: EvaluateJob) -> dict[str, float]:
    """The metrics spec.metrics asks for (all when empty), plus those the gates need."""
    if not job.spec.metrics:
        return metrics
    wanted = set(ALWAYS) | {g.metric for g in job.spec.gates}
    for name in job.spec.metrics:
        wanted.update(SELECTS.get(name, ()))
    if "latency" in job.spec.metrics:
        wanted.update(k for k in metrics if k.startswith("latency"))
    return {k: v for k, v in metrics.items() if k in wanted}


def run_evaluate(job: EvaluateJob) -> dict[str, Any]:
    """Evaluate, check the gates, write the report; returns the result (also stored as result.json)."""
    started = time.monotonic()
    say = job.progress or (lambda _: None)
    spec = job.spec
    if spec.baseline_ref and job.baseline is None:
        raise EvaluationError("BaselineMissing", f"baselineRef {spec.baseline_ref.name} is set but its ModelVersion "
                              "was not given to the worker")
    say("fetching dataset")
    data = fetch_dataset(spec.dataset, job.workdir, job.s3)
    candidate = _evaluate(job, job.version, data, "")
    baseline = _evaluate(job, job.baseline, data, "baseline ") if spec.baseline_ref and job.baseline else None
    metrics = _select(candidate.metrics, job)
    gates = check_gates(spec.gates, metrics)
    if baseline is not None:
        gates += compare_to_baseline(metrics, _select(baseline.metrics, job), spec.baseline_ref.tolerance)
    passed, message = verdict(gates)
    say("writing report")
    prefix = report_prefix(job.namespace, job.version.spec.model_ref.name, job.name)
    tally = candidate.measurement.tally
    diagnosis = diagnose(tally, candidate.class_names) if isinstance(tally, ClassificationTally) else None
    images = draw(diagnosis, candidate.measurement.latency, metrics)
    result = {
        "ok": True, "kind": "evaluate", "phase": "Succeeded", "reason": "GatesPassed" if passed else "GatesFailed",
        "message": message, "passed": passed, "metrics": metrics, "gates": gates,
        "reportUri": job.store.describe(prefix) + "/", "durationSeconds": round(time.monotonic() - started, 3),
    }
    loop = candidate.measurement
    report = {
        "apiVersion": API_VERSION, "kind": "EvaluationReport", "evaluation": f"{job.namespace}/{job.name}",
        "version": job.version.name, "model": job.version.spec.model_ref.name, "format": job.version.spec.format,
        "dataset": {"uri": redact(spec.dataset.uri), "format": spec.dataset.format, "samples": loop.samples,
                    "sha256": spec.dataset.sha256},
        "backend": candidate.backend, "hardware": spec.hardware, "batchSize": spec.batch_size,
        "task": "classification" if diagnosis else "regression",
        "timing": {"loopSeconds": loop.loop_seconds, "inferenceSeconds": float(sum(loop.latency.seconds)),
                   "batches": len(loop.latency.seconds)},
        "result": result, "diagnosis": diagnosis,
        "baseline": {"version": baseline.version.name, "backend": baseline.backend, "metrics": baseline.metrics}
        if baseline else None,
    }
    write_report(job.store, prefix, report, images)
    return result
