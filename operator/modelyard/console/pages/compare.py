"""Versions of a model side by side (views/compare.py: what differs, each number's change against
the first version), and one metric across every version of the model as a chart."""

from __future__ import annotations

from typing import Any

from modelyard.console import links
from modelyard.console.pages.common import Page, latest, number, semver_key, short_digest
from modelyard.console.pages.models import group
from modelyard.console.reading import NotFound, Snapshot
from modelyard.views import compare
from modelyard.views.charts import Point, metric_svg
from modelyard.views.table import lookup

MAX_COLUMNS = 12
DEFAULT_METRIC = "accuracy"
CHOICES = 200
"""Versions offered to pick from on the page (the newest; any other is named in the URL)."""


def _default(versions: list[dict[str, Any]], model: dict[str, Any]) -> list[str]:
    """Without a choice: the latest Ready version and the variants converted from it (else the
    two newest versions)."""
    by_name = {v["metadata"]["name"]: v for v in versions}
    head = lookup(model, ".status.latestReadyVersion")
    if head not in by_name:
        ordered = sorted(versions, key=lambda v: semver_key(lookup(v, ".spec.version")), reverse=True)
        return [v["metadata"]["name"] for v in ordered[:2]]
    children = sorted(n for n, v in by_name.items() if lookup(v, ".spec.lineage.parentVersion") == head)
    chosen = [head, *children][:MAX_COLUMNS]
    if len(chosen) < 2:
        others = sorted((v for n, v in by_name.items() if n != head), key=lambda v: semver_key(lookup(v, ".spec.version")), reverse=True)
        chosen += [v["metadata"]["name"] for v in others[:1]]
    return chosen


def _display(value: Any) -> str:
    if isinstance(value, str):
        return short_digest(value) if value.startswith("sha256:") else value
    return number(value)


def _delta_text(found: dict[str, Any] | None) -> str:
    if not found or found["verdict"] == "same":
        return ""
    text = f"{found['delta']:+.4g}"
    if found["percent"] is not None:
        text += f" ({found['percent']:+.1f}%)"
    return text


def compare_page(snap: Snapshot, namespace: str, model_name: str, chosen: list[str], only_differences: bool = False,
                 metric: str = "") -> Page:
    model = snap.get("Model", namespace, model_name)
    versions_by_model, evaluations = group(snap)
    versions = versions_by_model.get((namespace, model_name), [])
    by_name = {v["metadata"]["name"]: v for v in versions}
    chosen = list(dict.fromkeys(chosen or _default(versions, model)))[:MAX_COLUMNS]
    for name in chosen:
        if name not in by_name:
            raise NotFound("ModelVersion", name, namespace) if not snap.find("ModelVersion", namespace, name) else \
                NotFound(f"ModelVersion of Model {model_name}", name, namespace)
    conversions = {lookup(c, ".status.outputVersion"): c for c in snap.in_namespace("ConversionJob", namespace)
                   if lookup(c, ".status.outputVersion")}
    columns = []
    for name in chosen:
        version = by_name[name]
        training_name = lookup(version, ".spec.lineage.trainingJob")
        training = snap.find("TrainingJob", namespace, training_name) if training_name else None
        columns.append(compare.version_facts(version, conversions.get(name), latest(evaluations.get((namespace, name), [])), training))
    table = compare.rows(columns)
    shown = [r for r in table if r.differs] if only_differences else table
    rows = [{"section": r.section, "name": r.name, "differs": r.differs, "better": r.better,
             "values": [{"value": v, "shown": _display(v), "delta": d, "deltaShown": _delta_text(d)} for v, d in zip(r.values, r.deltas, strict=True)]}
            for r in shown]
    # the chart: one metric of every version (its latest evaluation), oldest version first
    ordered = sorted(versions, key=lambda v: (semver_key(lookup(v, ".spec.version")), v["metadata"]["name"]))
    results = {v["metadata"]["name"]: lookup(latest(evaluations.get((namespace, v["metadata"]["name"]), [])), ".status.results") or {}
               for v in ordered}
    metrics = sorted({k for r in results.values() for k in r})
    metric = metric or (DEFAULT_METRIC if DEFAULT_METRIC in metrics else (metrics[0] if metrics else DEFAULT_METRIC))
    points = [Point(v["metadata"]["name"], results[v["metadata"]["name"]].get(metric), links.version(namespace, v["metadata"]["name"]))
              for v in ordered]
    data = {
        "model": {"namespace": namespace, "name": model_name, "href": links.model(namespace, model_name)},
        "versions": [{"name": n, "href": links.version(namespace, n), "version": lookup(by_name[n], ".spec.version")} for n in chosen],
        "baseline": chosen[0] if chosen else None,
        "onlyDifferences": only_differences,
        "rows": rows, "differing": sum(1 for r in table if r.differs), "total": len(table),
        "choices": [{"name": v["metadata"]["name"], "version": lookup(v, ".spec.version"), "chosen": v["metadata"]["name"] in chosen}
                    for i, v in enumerate(reversed(ordered)) if i < CHOICES or v["metadata"]["name"] in chosen],
        "metric": {"name": metric, "available": metrics,
                   "values": [{"version": p.label, "value": p.value} for p in points]},
        "links": {"all": links.compare(namespace, model_name, chosen, metric=metric),
                  "differences": links.compare(namespace, model_name, chosen, only="differences", metric=metric)},
    }
    pictures = {"metric": metric_svg(metric, points, f"{metric} of every version of {model_name} (latest evaluation)")}
    return Page("compare.html", f"Compare versions of {model_name}", data, pictures)
