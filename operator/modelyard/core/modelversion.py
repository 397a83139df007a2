"""Reconcile a ModelVersion: wait for its Model and training job, run the import Job once,
and record the worker's result."""

from __future__ import annotations

from datetime import datetime

from modelyard.api import conditions as C
from modelyard.api.model import Model
from modelyard.api.modelversion import ModelVersion
from modelyard.config import Settings
from modelyard.core.decision import Decision, Event
from modelyard.core.jobflow import follow_job
from modelyard.core.status import StatusBuilder
from modelyard.core.jobstate import JobObservation
from modelyard.core.training import TrainingObservation
from modelyard.workloads.jobs import build_import_job
from modelyard.workloads.naming import job_name
from modelyard.workloads.profiles import HardwareProfile

CONVERTED_BY = "modelyard.dev/converted-by"
"""Annotation on versions created by a ConversionJob: their status comes from that job."""

TRAINED_BY = "modelyard.dev/trained-by"
"""Annotation on versions registered by a TrainingJob: their status comes from that job."""
PRODUCERS = {CONVERTED_BY: "ConversionJob", TRAINED_BY: "TrainingJob"}

WAIT_SECONDS = 15.0


def producer(version: ModelVersion) -> tuple[str, str] | None:
    """(kind, name) of the job that created `version` and writes its status, if one did."""
    annotations = version.metadata.annotations or {}
    return next(((kind, annotations[key]) for key, kind in PRODUCERS.items() if key in annotations), None)


def settled(version: ModelVersion) -> bool:
    """Whether the decision for `version` no longer depends on any Job: it is Ready or Failed
    (its spec is immutable), or the ConversionJob or TrainingJob that created it writes its status."""
    phase = version.status.phase if version.status else None
    return phase in ("Ready", "Failed") or producer(version) is not None


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
    status = StatusBuilder(version, now)
    phase = version.status.phase if version.status else None
    if phase in ("Ready", "Failed"):
        return Decision(status=status.body)  # terminal: the spec is immutable
    if producer(version) is not None:
        # Its status is written by the job that created it (never guessed here:
        # a status written from a stale read would overwrite the artifact).
        return Decision(status=status.body, requeue_after=WAIT_SECONDS)
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
    status: StatusBuilder,
) -> Decision:
    name = job_name("import", version.name)
    build = lambda: build_import_job(version, model, profiles, settings)  # noqa: E731
    pending = follow_job(version, job, name, "import", build, status, running_phase="Importing")
    if pending is not None:
        return pending
    result = job.result or {}
    artifact = result.get("artifact") or {}
    status.body["artifact"] = {k: artifact[k] for k in ("uri", "digest", "sizeBytes", "files") if k in artifact}
    for key in ("signature", "inspection", "source"):
        if result.get(key):
            status.body[key] = result[key]
    message = f"stored {artifact.get('digest', '')}".strip()
    status.condition(C.READY, True, result.get("reason", "Imported"), message)
    status.drop(C.RECONCILING)
    status.drop(C.STALLED)
    return Decision(status=status.done("Ready", message), events=[Event("Normal", "Ready", message)])
