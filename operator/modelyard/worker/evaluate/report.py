"""The report in the store: `<namespace>/<model>/evaluations/<evaluationjob>/` holding
report.json (everything, diagnosis included), report.html (self-contained), the PNG plots
and result.json (the worker's result, as in the termination message but never truncated)."""

from __future__ import annotations

import json
from typing import Any

from modelyard.storage.base import Store
from modelyard.worker.evaluate import html, plots
from modelyard.worker.evaluate.latency import LatencyTally

CONFUSION, LATENCY, PER_CLASS = "confusion-matrix.png", "latency-histogram.png", "per-class.png"


def report_prefix(namespace: str, model: str, evaluation: str) -> str:
    return f"{namespace}/{model}/evaluations/{evaluation}"


def draw(diagnosis: dict[str, Any] | None, latency: LatencyTally, metrics: dict[str, float]) -> dict[str, bytes]:
    images = {}
    if diagnosis:
        images[CONFUSION] = plots.confusion_matrix_png(diagnosis["confusionMatrix"], diagnosis["classNames"])
        images[PER_CLASS] = plots.per_class_png(diagnosis["perClass"])
    images[LATENCY] = plots.latency_histogram_png(latency.per_batch_ms(), metrics)
    return images


def _json(body: dict[str, Any]) -> bytes:
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


def write_report(store: Store, prefix: str, report: dict[str, Any], images: dict[str, bytes]) -> None:
    """Plots first, then report.html and report.json, result.json last (it marks completion)."""
    for name, data in images.items():
        store.put_bytes(f"{prefix}/{name}", data)
    store.put_bytes(f"{prefix}/report.html", html.render(report, images).encode())
    store.put_bytes(f"{prefix}/report.json", _json(report))
    store.put_bytes(f"{prefix}/result.json", _json(report["result"]))
