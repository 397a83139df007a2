"""Reconcile an EvaluationJob: wait for the version (and baseline), run the evaluation on the
requested hardware, record metrics and the verdict, and show the verdict on the version."""

from __future__ import annotations

import math

from datetime import datetime
from typing import Any

from modelyard.api import conditions as C
from modelyard.api.evaluationjob import EvaluationJob
from modelyard.api.model import Model
from modelyard.api.modelversion import ModelVersion
from modelyard.config import Settings
from modelyard.core.conditions import set_condition
from modelyard.core.decision import ChildUpdate, Decision, Event
from modelyard.core.jobflow import follow_job, succeed, wait_for_version
from modelyard.core.jobstate import JobObservation
from modelyard.core.modelversion import WAIT_SECONDS
from modelyard.core.status import StatusBuilder
from modelyard.workloads.jobs import build_evaluation_job
from modelyard.workloads.naming import job_name
from modelyard.workloads.profiles import HardwareProfile


def verdict_update(job: EvaluationJob, passed: bool, message: str, now: datetime) -> ChildUpdate:
    """The `Evaluated` condition on the evaluated ModelVersion, for GitOps promotion."""
    reason = "GatesPassed" if passed else "GatesFailed"
    return ChildUpdate(
        kind="ModelVersion",
        name=job.spec.model_version_ref.name,
        conditions=set_condition([], C.EVALUATED, passed, reason, f"EvaluationJob {job.name}: {message}", now),
    )


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def decide_evaluation(
    job: EvaluationJob,
    version: ModelVersion | None,
    baseline: ModelVersion | None,
    model: Model | None,
    observed: JobObservation,
    profiles: dict[str, HardwareProfile],
    settings: Settings,
    now: datetime,
) -> Decision:
    status = StatusBuilder(job, now)
    phase = job.status.phase if job.status else None
    if phase in ("Succeeded", "Failed"):
        return Decision(status=status.body)
    waiting = wait_for_version(version, "evaluated", job.spec.model_version_ref.name, status, WAIT_SECONDS)
    if waiting is None and job.spec.baseline_ref is not None:
        waiting = wait_for_version(baseline, "baseline", job.spec.baseline_ref.name, status, WAIT_SECONDS)
    if waiting is not None:
        return waiting
    if model is None:
        message = f"Model {version.spec.model_ref.name!r} does not exist"
        return Decision(status=status.waiting("Pending", "ModelNotFound", message), requeue_after=WAIT_SECONDS)
    name = job_name("evaluate", job.name)
    build = lambda: build_evaluation_job(job, version, model, profiles, settings, baseline)  # noqa: E731
    pending = follow_job(job, observed, name, "evaluation", build, status)
    if pending is not None:
        return pending
    result = observed.result or {}
    passed = bool(result.get("passed"))
    status.body.update(
        results=_numbers(result.get("metrics") or {}),
        gates=result.get("gates") or [],
        passed=passed,
    )
    if result.get("reportUri"):
        status.body["reportUri"] = result["reportUri"]
    message = result.get("message") or ("all gates passed" if passed else "gates failed")
    reason = "GatesPassed" if passed else "GatesFailed"
    return Decision(
        status=succeed(status, reason, message),
        updates=[verdict_update(job, passed, message, now)],
        events=[Event("Normal" if passed else "Warning", reason, message)],
    )
