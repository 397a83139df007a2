"""Deleting with retention: a ModelVersion's artifacts are removed from the store (by a cleanup
Job) when its Model says `retention: Delete`, kept otherwise; a Model deletes its versions
first. Finalizers hold the objects until that is done."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelyard.api.model import Model
from modelyard.api.modelversion import ModelVersion
from modelyard.config import Settings
from modelyard.core.decision import Event
from modelyard.core.jobstate import JobObservation
from modelyard.workloads.jobs import NoStoreConfigured, build_cleanup_job
from modelyard.workloads.naming import job_name
from modelyard.workloads.profiles import HardwareProfile

FINALIZER = "modelyard.dev/artifacts"
"""Ours, not Kopf's: held until a deleted object's stored artifacts are dealt with (retention)."""


@dataclass
class Teardown:
    """What to do for an object being deleted."""

    release: bool = False
    """Remove our finalizer: nothing is left to clean up."""
    create: list[dict[str, Any]] = field(default_factory=list)
    delete_versions: list[str] = field(default_factory=list)
    message: str = ""
    events: list[Event] = field(default_factory=list)


def cleanup_job_name(version: ModelVersion) -> str:
    return job_name("delete", version.name)


def teardown_version(
    version: ModelVersion,
    model: Model | None,
    cleanup: JobObservation,
    profiles: dict[str, HardwareProfile],
    settings: Settings,
) -> Teardown:
    """Retain keeps the stored artifacts; Delete runs the cleanup Job and waits for it."""
    artifact = version.status.artifact if version.status else None
    retention = model.spec.retention if model else "Retain"
    if retention == "Retain" or artifact is None or model is None:
        why = "retention Retain keeps the artifacts" if artifact else "nothing was stored"
        return Teardown(release=True, message=why)
    if cleanup.phase == "Succeeded":
        message = (cleanup.result or {}).get("message", "artifacts deleted")
        return Teardown(release=True, message=message, events=[Event("Normal", "ArtifactsDeleted", message)])
    if cleanup.phase == "Failed":
        message = (
            f"deleting the artifacts failed: {cleanup.message}; fix the cause and delete the Job "
            f"{cleanup_job_name(version)} to retry, or remove the finalizer {FINALIZER} to keep them"
        )
        return Teardown(message=message, events=[Event("Warning", "ArtifactDeletionFailed", message)])
    if cleanup.phase == "Foreign":
        return Teardown(message=cleanup.message)
    if cleanup.phase == "Missing":
        try:
            job = build_cleanup_job(version, model, profiles, settings)
        except NoStoreConfigured as error:
            return Teardown(release=True, message=f"no store to delete from: {error}")
        message = f"deleting {artifact.uri} (retention Delete)"
        return Teardown(create=[job], message=message, events=[Event("Normal", "DeletingArtifacts", message)])
    return Teardown(message=f"deleting {artifact.uri} (retention Delete)")


def teardown_model(model: Model, versions: list[ModelVersion]) -> Teardown:
    """A Model goes after its versions, each of which applies the Model's retention."""
    mine = [v.name for v in versions if v.spec.model_ref.name == model.name]
    if not mine:
        return Teardown(release=True, message="no versions left")
    pending = [v.name for v in versions if v.spec.model_ref.name == model.name and not v.metadata.deletion_timestamp]
    return Teardown(delete_versions=pending, message=f"waiting for {len(mine)} version(s) to be deleted")
