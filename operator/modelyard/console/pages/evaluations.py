"""An evaluation's page: its gates, its metrics beside the baseline's with the deltas, and from
its report (report.json in the store) the confusion matrix as a heatmap, the worst classes and
the most confused pairs."""

from __future__ import annotations

from typing import Any

from modelyard.console import links
from modelyard.console.pages.common import Page, conditions, latest, message, meta, phase, reason, verdict
from modelyard.console.reading import Snapshot, StoreFiles, finished_tag
from modelyard.views import compare
from modelyard.views.charts import heatmap_svg
from modelyard.views.table import lookup

HEADLINE = ("accuracy", "f1", "precision", "recall", "top5", "latencyP50Ms", "latencyP95Ms", "latencyP99Ms", "throughput")


def _baseline(snap: Snapshot, body: dict[str, Any], report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The baseline's metrics: measured in the same job (the report's), else the baseline
    version's latest evaluation on the same dataset."""
    namespace = body["metadata"].get("namespace") or ""
    name = lookup(body, ".spec.baselineRef.name")
    if not name:
        return None
    found = {"version": name, "href": links.version(namespace, name) if snap.find("ModelVersion", namespace, name) else None,
             "tolerance": lookup(body, ".spec.baselineRef.tolerance")}
    measured = (report or {}).get("baseline") or {}
    if measured.get("metrics"):
        return {**found, "metrics": measured["metrics"], "from": "measured in this job", "backend": measured.get("backend")}
    dataset = lookup(body, ".spec.dataset.uri")
    others = [e for e in snap.in_namespace("EvaluationJob", namespace)
              if lookup(e, ".spec.modelVersionRef.name") == name and lookup(e, ".spec.dataset.uri") == dataset
              and lookup(e, ".status.results")]
    chosen = latest(others)
    if chosen is None:
        return {**found, "metrics": {}, "from": "no evaluation of the baseline on this dataset yet"}
    return {**found, "metrics": lookup(chosen, ".status.results"), "from": f"EvaluationJob {chosen['metadata']['name']}",
            "evaluationHref": links.evaluation(namespace, chosen["metadata"]["name"])}


def metric_rows(results: dict[str, Any], baseline: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each metric with the baseline's value and the change (better or worse by its direction)."""
    base = (baseline or {}).get("metrics") or {}
    names = [k for k in HEADLINE if k in results] + sorted(k for k in results if k not in HEADLINE)
    rows = []
    for name in names:
        better = compare.better_of(name)
        change = compare.delta(base.get(name), results[name], better) if name in base else None
        rows.append({"name": name, "value": results[name], "baseline": base.get(name), "delta": change, "better": better})
    return rows


def evaluation_page(snap: Snapshot, store: StoreFiles, namespace: str, name: str) -> Page:
    body = snap.get("EvaluationJob", namespace, name)
    version = lookup(body, ".spec.modelVersionRef.name") or ""
    version_body = snap.find("ModelVersion", namespace, version)
    model = lookup(version_body, ".spec.modelRef.name") if version_body else None
    report_uri = lookup(body, ".status.reportUri")
    report, report_error = (None, None)
    if report_uri:
        report, report_error = store.json(report_uri.rstrip("/") + "/report.json", finished_tag(body))
    diagnosis = (report or {}).get("diagnosis") or {}
    baseline = _baseline(snap, body, report)
    info = meta(body)
    info.update(version=version, versionHref=links.version(namespace, version) if version_body else None,
                model=model, modelHref=links.model(namespace, model) if model else None,
                phase=phase(body), reason=reason(body), verdict=verdict(body), message=message(body),
                hardware=lookup(body, ".spec.hardware") or "cpu", batchSize=lookup(body, ".spec.batchSize"),
                backend=(report or {}).get("backend") or (lookup(body, ".spec.backend.type") or "onnxruntime"),
                dataset=lookup(body, ".spec.dataset"), conditions=conditions(body),
                started=lookup(body, ".status.startTime"), completed=lookup(body, ".status.completionTime"))
    matrix = diagnosis.get("confusionMatrix")
    data = {
        "evaluation": info,
        "gates": [{k: g.get(k) for k in ("metric", "op", "value", "actual", "passed")} for g in lookup(body, ".status.gates") or []],
        "declaredGates": lookup(body, ".spec.gates") or [],
        "metrics": metric_rows(lookup(body, ".status.results") or {}, baseline),
        "baseline": None if baseline is None else {k: v for k, v in baseline.items() if k != "metrics"},
        "report": {"uri": report_uri, "read": report is not None, "error": report_error},
        "confusion": {"classNames": diagnosis.get("classNames") or [], "matrix": matrix} if matrix else None,
        "worstClasses": diagnosis.get("worstClasses") or [],
        "confusedPairs": diagnosis.get("confusedPairs") or [],
    }
    pictures = {}
    if matrix:
        pictures["confusion"] = heatmap_svg(matrix, diagnosis.get("classNames") or [], f"Confusion matrix of {name}")
    return Page("evaluation.html", f"Evaluation {name}", data, pictures)
