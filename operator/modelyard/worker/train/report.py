"""Metric curves and the training report: `<namespace>/<model>/trainings/<trainingjob>/` holds
metrics.jsonl (every line the code reported), curves.svg, report.html, report.json and
result.json (last: it marks the report complete)."""

from __future__ import annotations

import json
import math
from typing import Any

from modelyard.storage.base import Store
from modelyard.worker.evaluate import html
from modelyard.worker.train.chart import curves_svg

CURVES = "curves.svg"
RESERVED = ("step", "total", "time", "epoch")


def goal(name: str, declared: dict[str, str]) -> str:
    """A declared metric's goal; an undeclared one is minimised when it looks like a loss or
    error, else maximised (accuracy, f1, auc)."""
    if name in declared:
        return declared[name]
    lowered = name.lower()
    return "minimize" if any(word in lowered for word in ("loss", "error", "mse", "mae", "perplexity")) else "maximize"


def curves(records: list[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Metric name -> [(step, value)], in the order reported."""
    found: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        for key, value in record.items():
            if key in RESERVED or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            found.setdefault(key, []).append((int(record["step"]), float(value)))
    return found


def summarise(records: list[dict[str, Any]], declared: dict[str, str], finished: bool) -> dict[str, dict[str, Any]]:
    """Each metric's latest, best (by its goal) and, for a finished run, final value."""
    summary = {}
    for name, points in curves(records).items():
        finite = [(s, v) for s, v in points if math.isfinite(v)]
        entry: dict[str, Any] = {"latest": points[-1][1] if math.isfinite(points[-1][1]) else None}
        if finite:
            pick = min if goal(name, declared) == "minimize" else max
            step, value = pick(finite, key=lambda p: p[1])
            entry.update(best=value, bestStep=step)
        if finished:
            entry["final"] = entry["latest"]
        summary[name] = entry
    return summary


def _json(body: Any) -> bytes:
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


def write_report(store: Store, prefix: str, report: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, str]:
    """Store the curves and the report; returns their URIs."""
    lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
    store.put_bytes(f"{prefix}/metrics.jsonl", lines)
    summary = report["metrics"]
    best = {name: (entry["bestStep"], entry["best"]) for name, entry in summary.items() if "best" in entry}
    image = curves_svg(curves(records), f"TrainingJob {report['job']}", best).encode()
    store.put_bytes(f"{prefix}/{CURVES}", image)
    parts = [
        f"<h1>TrainingJob {html.escape(report['job'])}</h1>",
        f"<p>{html.escape(report['algorithm'])} on {html.escape(report['hardware'])}; "
        f"model version <b>{html.escape(report['version'])}</b> of {html.escape(report['model'])}.</p>",
        "<h2>Metrics</h2>",
        html.table([[k, v.get("final", v.get("latest")), v.get("best"), v.get("bestStep")] for k, v in sorted(summary.items())],
                   ["metric", "final", "best", "best step"]),
        "<h2>Hyperparameters</h2>",
        html.table([[k, v] for k, v in sorted(report["hyperparameters"].items())], ["parameter", "value"]),
        "<h2>Inputs</h2>",
        html.table([[i["name"], i["uri"], i.get("sha256", "")] for i in report["inputs"]], ["input", "uri", "sha256"]),
    ]
    store.put_bytes(f"{prefix}/report.html", html.page(f"TrainingJob {report['job']}", parts, {CURVES: image}).encode())
    store.put_bytes(f"{prefix}/report.json", _json(report))
    return {"curvesUri": store.describe(f"{prefix}/metrics.jsonl"), "reportUri": store.describe(prefix) + "/"}
