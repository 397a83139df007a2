"""Reconcile a ModelVersion: wait for its Model and training job, run the import Job once,
and record the worker's result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelyard.api import conditions as C
from modelyard.api.model import Model
from modelyard.api.modelversion import ModelVersion
from modelyard.config import Settings
from modelyard.core.conditions import remove_condition, set_condition
from modelyard.core.decision import Decision, Event
from modelyard.core.jobstate import JobObservation
from modelyard.core.training import TrainingObservation
from modelyard.workloads.jobs import NoStoreConfigured, build_import_job
from modelyard.workloads.naming import job_name
from modelyard.workloads.profiles import HardwareProfile

CONVERTED_BY = "modelyard.dev/converted-by"
"""Annotation on versions created by a ConversionJob: their status comes from that job."""

WAIT_SECONDS = 15.0


def _stamp(now: datetime) -> str:
    return now.isoformat().replace("+00:00", "Z")


class _Status:
    """Builds the next status from the current one."""

    def __init__(self, version: ModelVersion, now: datetime):
        self.now = now
        self.generation = version.metadata.generation
        current = version.status.to_dict() if version.status else {}
        self.body: dict[str, Any] = current
        self.conditions: list[dict[str, Any]] = current.get("conditions", [])

    def condition(self, type_: str, status: bool, reason: str, message: str) -> None:
        self.conditions = set_condition(self.conditions, type_, status, reason, message, self.now, self.generation)

    def drop(self, type_: str) -> None:
        self.conditions = remove_condition(self.conditions, type_)

    def waiting(self, phase: str, reason: str, message: str) -> dict[str, Any]:
        self.condition(C.READY, False, reason, message)
        self.condition(C.RECONCILING, True, reason, message)
        self.drop(C.STALLED)
        return self.done(phase, message)

    def failed(self, reason: str, message: str) -> dict[str, Any]:
        self.condition(C.READY, False, reason, message)
        self.condition(C.STALLED, True, reason, message)
        self.drop(C.RECONCILING)
        return self.done("Failed", message)

    def done(self, phase: str, message: str) -> dict[str, Any]:
        self.body.update(phase=phase, message=message, conditions=self.conditions)
        if self.generation is not None:
            self.body["observedGeneration"] = self.generation
        return self.body


def decide_model_version(
    version: ModelVersion,
    model: Model | None,
    job: JobObservation,
    training: TrainingObservation | None,
    profiles: dict[str, HardwareProfile],
    settings: Settings,
    now: datetime,
) -> Decision:
    """The next step for `version` given what was observed."""
    status = _Status(version, now)
    phase = version.status.phase if version.status else None
    if phase in ("Ready", "Failed"):
        return Decision(status=status.body)  # terminal: the spec is immutable
    if CONVERTED_BY in (version.metadata.annotations or {}):
        owner = version.metadata.annotations[CONVERTED_BY]
        message = f"waiting for ConversionJob {owner} to record the artifact"
        return Decision(status=status.waiting("Pending", "WaitingForConversion", message), requeue_after=WAIT_SECONDS)
    if model is None:
        message = f"Model {version.spec.model_ref.name!r} does not exist (yet)"
        return Decision(status=status.waiting("Pending", "ModelNotFound", message), requeue_after=WAIT_SECONDS)
    source = version.spec.source.training_job
    if source is not None and job.phase == "Missing":
        assert training is not None
        if training.phase == "Failed":
            message = f"training {source.kind} {source.name!r} failed: {training.message}"
            return Decision(status=status.failed("TrainingJobFailed", message), events=[Event("Warning", "TrainingJobFailed", message)])
        if training.phase != "Succeeded":
            what = "does not exist (yet)" if training.phase == "Missing" else "has not finished"
            message = f"waiting for training {source.kind} {source.name!r}: it {what}"
            return Decision(status=status.waiting("Pending", "WaitingForTrainingJob", message), requeue_after=WAIT_SECONDS)
    return _follow_import(version, model, job, profiles, settings, status)


def _follow_import(
    version: ModelVersion,
    model: Model,
    job: JobObservation,
    profiles: dict[str, HardwareProfile],
    settings: Settings,
    status: _Status,
) -> Decision:
    name = job_name("import", version.name)
    started = bool(version.status and version.status.job_name)
    if job.phase == "Missing":
        if started:
            message = (
                f"the import Job {name} was deleted before it reported a result; "
                "delete and re-create the ModelVersion to import again"
            )
            return Decision(status=status.failed("JobDeleted", message), events=[Event("Warning", "JobDeleted", message)])
        try:
            manifest = build_import_job(version, model, profiles, settings)
        except NoStoreConfigured as error:
            return Decision(status=status.failed("NoStoreConfigured", str(error)), events=[Event("Warning", "NoStoreConfigured", str(error))])
        status.body.update(jobName=name, startTime=_stamp(status.now), progress="import Job created")
        message = f"importing with Job {name}"
        return Decision(
            status=status.waiting("Importing", "Importing", message),
            create=[manifest],
            events=[Event("Normal", "ImportStarted", message)],
        )
    status.body["jobName"] = name
    if job.start_time:
        status.body.setdefault("startTime", job.start_time)
    if job.phase in ("Pending", "Running"):
        status.body["progress"] = job.message
        return Decision(status=status.waiting("Importing", job.reason or "Importing", job.message))
    if job.completion_time:
        status.body["completionTime"] = job.completion_time
    status.body.pop("progress", None)
    if job.phase == "Failed":
        message = job.message or "the import failed"
        return Decision(status=status.failed(job.reason or "ImportFailed", message), events=[Event("Warning", job.reason or "ImportFailed", message)])
    result = job.result or {}
    artifact = result.get("artifact") or {}
    status.body["artifact"] = {k: artifact[k] for k in ("uri", "digest", "sizeBytes", "files") if k in artifact}
    if result.get("signature"):
        status.body["signature"] = result["signature"]
    if result.get("inspection"):
        status.body["inspection"] = result["inspection"]
    message = f"stored {artifact.get('digest', '')}".strip()
    status.condition(C.READY, True, result.get("reason", "Imported"), message)
    status.drop(C.RECONCILING)
    status.drop(C.STALLED)
    return Decision(status=status.done("Ready", message), events=[Event("Normal", "Ready", message)])
