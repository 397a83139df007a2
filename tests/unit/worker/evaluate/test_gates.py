"""Every gate is reported with its actual value; a failing gate is a result with a message."""

from __future__ import annotations

from modelyard.api.evaluationjob import Gate
from modelyard.worker.evaluate.gates import check_gates, compare_to_baseline, verdict


def _gate(metric: str, op: str, value: float) -> Gate:
    return Gate.model_validate({"metric": metric, "op": op, "value": value})


def test_each_rule_with_its_actual_value() -> None:
    results = check_gates([_gate("accuracy", ">=", 0.9), _gate("latencyP95Ms", "<", 5), _gate("top5", ">", 0.99)],
                          {"accuracy": 0.95, "latencyP95Ms": 7.5})
    assert results == [
        {"metric": "accuracy", "op": ">=", "value": 0.9, "actual": 0.95, "passed": True},
        {"metric": "latencyP95Ms", "op": "<", "value": 5, "actual": 7.5, "passed": False},
        {"metric": "top5", "op": ">", "value": 0.99, "actual": None, "passed": False},
    ]
    passed, message = verdict(results)
    assert not passed
    assert message == "2 of 3 gate(s) failed: latencyP95Ms < 5 (actual 7.5); top5 > 0.99 (actual not measured)"


def test_all_pass_and_no_gates() -> None:
    assert verdict(check_gates([_gate("accuracy", ">=", 0.5)], {"accuracy": 0.5})) == (True, "all 1 gate(s) passed")
    assert verdict([])[0] is True


def test_baseline_comparison_uses_the_tolerance() -> None:
    results = compare_to_baseline({"accuracy": 0.93, "f1": 0.90, "latencyP95Ms": 3},
                                  {"accuracy": 0.95, "f1": 0.905, "latencyP95Ms": 1}, tolerance=0.01)
    assert [(r["metric"], r["passed"]) for r in results] == [("accuracy vs baseline", False), ("f1 vs baseline", True)]
    assert results[0]["value"] == 0.95 - 0.01 and results[0]["actual"] == 0.93


def test_equal_to_baseline_passes_with_zero_tolerance() -> None:
    (result,) = compare_to_baseline({"accuracy": 0.1 + 0.2}, {"accuracy": 0.3}, 0.0)
    assert result["passed"]
