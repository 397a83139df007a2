"""Whether a training job (batch Job, Kubeflow PyTorchJob/TFJob) has succeeded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class TrainingObservation:
    phase: Literal["Missing", "Running", "Succeeded", "Failed"]
    message: str = ""


def observe_training_job(job: dict[str, Any] | None) -> TrainingObservation:
    """batch/v1 Jobs report Complete/Failed; Kubeflow jobs report Succeeded/Failed."""
    if job is None:
        return TrainingObservation("Missing")
    true = {c.get("type"): c for c in (job.get("status") or {}).get("conditions") or [] if c.get("status") == "True"}
    for kind in ("Complete", "Succeeded"):
        if kind in true:
            return TrainingObservation("Succeeded", true[kind].get("message", ""))
    if "Failed" in true:
        failed = true["Failed"]
        return TrainingObservation("Failed", failed.get("message") or failed.get("reason") or "the training job failed")
    return TrainingObservation("Running")
