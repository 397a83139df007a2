"""Reconcile an EvaluationJob: wait for the version (and baseline), run the evaluation on the
requested hardware, record metrics and the verdict, and show the verdict on the version."""

from __future__ import annotations

import math

from datetime import datetime
from typing import Any

from modelyard.api import conditions as C
from modelyard.api.common import LocalObjectReference
from modelyard.api.evaluationjob import BackendSpec, EvaluationJob
from modelyard.api.modeldeployment import ModelDeployment
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


def served_version(job: EvaluationJob, deployment: ModelDeployment | None) -> str | None:
    """The version a deploymentRef job evaluates: the one it started on, else what serves now."""
    if job.status and job.status.evaluated_version:
        return job.status.evaluated_version
    serving = deployment.status.serving if deployment and deployment.status else None
    return serving.variant if serving else None


def _against_endpoint(job: EvaluationJob, version: ModelVersion, deployment: ModelDeployment) -> EvaluationJob:
    """The job as its worker runs it: the served variant, called at the deployment's endpoint
    with the KServe v2 client (the `triton` backend)."""
    url = (job.status.endpoint if job.status and job.status.endpoint else deployment.status.url) or ""
    base = url.split("/v2/", 1)[0]
    backend = BackendSpec(type="triton", url=base, model_name=deployment.spec.model_ref.name, protocol="http")
    spec = job.spec.model_copy(update={"model_version_ref": LocalObjectReference(name=version.name),
                                       "deployment_ref": None, "backend": backend})
    return job.model_copy(update={"spec": spec})


def _wait_for_deployment(job: EvaluationJob, deployment: ModelDeployment | None, status: StatusBuilder) -> Decision | None:
    name = job.spec.deployment_ref.name
    if deployment is None:
        message = f"ModelDeployment {name!r} does not exist (yet)"
        return Decision(status=status.waiting("Pending", "DeploymentNotFound", message), requeue_after=WAIT_SECONDS)
    phase = deployment.status.phase if deployment.status else None
    if not (deployment.status and deployment.status.serving and deployment.status.url) or phase not in ("Serving", "Canary"):
        message = f"waiting for ModelDeployment {name!r} to serve (now {phase or 'Pending'})"
        return Decision(status=status.waiting("Pending", "WaitingForDeployment", message), requeue_after=WAIT_SECONDS)
    return None


def decide_evaluation(
    job: EvaluationJob,
    version: ModelVersion | None,
    baseline: ModelVersion | None,
    model: Model | None,
    observed: JobObservation,
    profiles: dict[str, HardwareProfile],
    settings: Settings,
    now: datetime,
    deployment: ModelDeployment | None = None,
) -> Decision:
    status = StatusBuilder(job, now)
    phase = job.status.phase if job.status else None
    if phase in ("Succeeded", "Failed"):
        return Decision(status=status.body)
    live = job.spec.deployment_ref is not None
    if live and not (job.status and job.status.evaluated_version):
        waiting = _wait_for_deployment(job, deployment, status)
        if waiting is not None:
            return waiting
    name = served_version(job, deployment) if live else job.spec.model_version_ref.name
    waiting = wait_for_version(version, "evaluated", name or "", status, WAIT_SECONDS)
    if waiting is None and job.spec.baseline_ref is not None:
        waiting = wait_for_version(baseline, "baseline", job.spec.baseline_ref.name, status, WAIT_SECONDS)
    if waiting is not None:
        return waiting
    if model is None:
        message = f"Model {version.spec.model_ref.name!r} does not exist"
        return Decision(status=status.waiting("Pending", "ModelNotFound", message), requeue_after=WAIT_SECONDS)
    name = job_name("evaluate", job.name)
    runs = job
    if live:
        runs = _against_endpoint(job, version, deployment) if deployment is not None else job
        status.body.setdefault("evaluatedVersion", version.name)
        if runs.spec.backend is not None:
            status.body.setdefault("endpoint", runs.spec.backend.url)
    build = lambda: build_evaluation_job(runs, version, model, profiles, settings, baseline)  # noqa: E731
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
        # A live endpoint's verdict is the deployment's, not a stored version's.
        updates=[] if live else [verdict_update(job, passed, message, now)],
        events=[Event("Normal" if passed else "Warning", reason, message)],
    )
