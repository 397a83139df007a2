"""Operator metrics count reconciles, finished work, durations and verdicts."""

from __future__ import annotations

from prometheus_client import generate_latest

from modelyard.handlers import metrics


def value(name: str, **labels) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_finished_work_is_counted_once_with_duration_and_verdict():
    before = value("modelyard_work_finished_total", kind="ConversionJob", hardware="gpu", outcome="succeeded", reason="Converted")
    status = {"phase": "Succeeded", "startTime": "2026-11-22T10:00:00Z", "completionTime": "2026-11-22T10:01:30Z",
              "conditions": [{"type": "Ready", "reason": "Converted"}], "verification": {"passed": True}}
    metrics.observe("ConversionJob", "gpu", {"phase": "Running"}, status)
    metrics.observe("ConversionJob", "gpu", status, status)  # a later no-op reconcile
    after = value("modelyard_work_finished_total", kind="ConversionJob", hardware="gpu", outcome="succeeded", reason="Converted")
    assert after - before == 1
    assert value("modelyard_job_duration_seconds_sum", kind="ConversionJob", hardware="gpu") >= 90
    assert value("modelyard_verdicts_total", kind="ConversionJob", passed="true") >= 1
    assert b"modelyard_reconciles_total" in generate_latest(metrics.REGISTRY)


def test_failures_carry_the_reason():
    status = {"phase": "Failed", "conditions": [{"type": "Ready", "reason": "VerificationFailed"}]}
    metrics.observe("ConversionJob", "arm", {}, status)
    assert value("modelyard_work_finished_total", kind="ConversionJob", hardware="arm", outcome="failed", reason="VerificationFailed") == 1
