"""Promotion gates and the baseline comparison; together they make the verdict.

Each rule of `spec.gates` is checked against the measured metric; a metric that could not be
measured fails its gate (actual unset). With `spec.baselineRef`, the baseline version runs in the
same job, on the same data, backend, hardware and batch size, and each quality metric both runs
produced (accuracy, top5, precision, recall, f1; r2 for regression) becomes one more rule,
`<metric> vs baseline`: candidate >= baseline - tolerance (tolerance absolute, as BaselineRef
documents). Latency, throughput and size are not compared to the baseline: gate them with
explicit rules. A failing rule is a result, not an error.
"""

from __future__ import annotations

import operator
from typing import Any

from modelyard.api.evaluationjob import Gate

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
BASELINE_METRICS = ("accuracy", "top5", "precision", "recall", "f1", "r2")
# Both runs see identical data; float noise must not fail a model equal to its baseline.
EPSILON = 1e-9


def check_gates(gates: list[Gate], metrics: dict[str, float]) -> list[dict[str, Any]]:
    results = []
    for gate in gates:
        actual = metrics.get(gate.metric)
        passed = actual is not None and OPS[gate.op](actual, gate.value)
        results.append({"metric": gate.metric, "op": gate.op, "value": gate.value, "actual": actual, "passed": passed})
    return results


def compare_to_baseline(metrics: dict[str, float], baseline: dict[str, float], tolerance: float) -> list[dict[str, Any]]:
    results = []
    for name in BASELINE_METRICS:
        if name in metrics and name in baseline:
            threshold = baseline[name] - tolerance
            results.append({"metric": f"{name} vs baseline", "op": ">=", "value": threshold,
                            "actual": metrics[name], "passed": metrics[name] >= threshold - EPSILON})
    return results


def _rule(result: dict[str, Any]) -> str:
    actual = "not measured" if result["actual"] is None else f"{result['actual']:.6g}"
    return f"{result['metric']} {result['op']} {result['value']:.6g} (actual {actual})"


def verdict(results: list[dict[str, Any]]) -> tuple[bool, str]:
    """(passed, message): the message lists every failing rule."""
    failing = [r for r in results if not r["passed"]]
    if not results:
        return True, "no gates: evaluated without a verdict to enforce"
    if failing:
        return False, f"{len(failing)} of {len(results)} gate(s) failed: " + "; ".join(_rule(r) for r in failing)
    return True, f"all {len(results)} gate(s) passed"
