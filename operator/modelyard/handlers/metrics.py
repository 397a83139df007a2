"""Prometheus metrics of the operator (served on the chart's metrics port)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from modelyard.api import conditions as C

REGISTRY = CollectorRegistry()

RECONCILES = Counter(
    "modelyard_reconciles_total", "Reconciles by kind and resulting phase.", ["kind", "phase"], registry=REGISTRY
)
FINISHED = Counter(
    "modelyard_work_finished_total", "Imports, conversions and evaluations that finished, by outcome.",
    ["kind", "hardware", "outcome", "reason"], registry=REGISTRY,
)
DURATION = Histogram(
    "modelyard_job_duration_seconds", "Wall time of worker Jobs, by kind and hardware.", ["kind", "hardware"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600), registry=REGISTRY,
)
VERDICTS = Counter(
    "modelyard_verdicts_total", "Verification (ConversionJob) and gate (EvaluationJob) outcomes.",
    ["kind", "passed"], registry=REGISTRY,
)

TERMINAL = C.TERMINAL_PHASES


def _seconds(status: dict[str, Any]) -> float | None:
    try:
        start = datetime.fromisoformat(str(status["startTime"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(status["completionTime"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return max(0.0, (end - start).total_seconds())


def observe(kind: str, hardware: str, previous: dict[str, Any], status: dict[str, Any]) -> None:
    """Count a reconcile, and a finished piece of work when the phase just became terminal."""
    phase = status.get("phase") or "Pending"
    RECONCILES.labels(kind, phase).inc()
    if phase not in TERMINAL or previous.get("phase") == phase:
        return
    reason = next((c.get("reason", "") for c in status.get("conditions", []) if c.get("type") == "Ready"), "")
    outcome = "failed" if phase == "Failed" else "succeeded"
    FINISHED.labels(kind, hardware, outcome, reason).inc()
    seconds = _seconds(status)
    if seconds is not None:
        DURATION.labels(kind, hardware).observe(seconds)
    if kind == "ConversionJob" and "verification" in status:
        VERDICTS.labels(kind, str(bool(status["verification"].get("passed"))).lower()).inc()
    if kind == "EvaluationJob" and "passed" in status:
        VERDICTS.labels(kind, str(bool(status["passed"])).lower()).inc()


def serve(port: int) -> None:
    start_http_server(port, registry=REGISTRY)
