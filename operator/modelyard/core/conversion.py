"""Reconcile a ConversionJob: wait for a Ready source, run the conversion Job on the target
hardware, then register the output ModelVersion (owned by the Model, already Ready)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelyard.api import API_VERSION
from modelyard.api import conditions as C
from modelyard.api.conversionjob import ConversionJob
from modelyard.api.model import Model
from modelyard.api.modelversion import ModelVersion
from modelyard.config import Settings
from modelyard.core.conditions import set_condition
from modelyard.core.decision import ChildUpdate, Decision, Event
from modelyard.core.jobflow import follow_job, succeed, wait_for_version
from modelyard.core.jobstate import JobObservation
from modelyard.core.modelversion import CONVERTED_BY, WAIT_SECONDS
from modelyard.core.speed import speed_phrase
from modelyard.core.status import StatusBuilder
from modelyard.workloads.jobs import build_conversion_job
from modelyard.workloads.naming import job_name
from modelyard.workloads.profiles import HardwareProfile

_FORMATS = {"onnx-fp16": "onnx", "onnx-int8": "onnx"}


def template_of(version: ModelVersion) -> dict[str, Any] | None:
    """The template a version's weights came through: its own source's, or (converted from a
    converted version) the one its lineage carries."""
    used = version.spec.source.template
    if used is not None:
        return {"name": used.name, **({"parameters": used.parameters} if used.parameters else {})}
    lineage = version.spec.lineage
    return lineage.template.to_dict() if lineage is not None and lineage.template is not None else None


def output_version_object(job: ConversionJob, model: Model, result: dict[str, Any], source: ModelVersion) -> dict[str, Any]:
    """The output ModelVersion: owned by the Model, lineage pointing at source and job."""
    output = result["outputVersion"]
    artifact = result["artifact"]
    spec: dict[str, Any] = {
        "modelRef": {"name": model.name},
        "version": output["version"],
        "format": output.get("format") or _FORMATS.get(job.spec.target.format, job.spec.target.format),
        "source": {"uri": artifact["uri"]},
        "lineage": {"parentVersion": job.spec.source_ref.name, "conversionJob": job.name},
    }
    template = template_of(source)
    if template is not None:
        spec["lineage"]["template"] = template
    if result.get("signature"):
        spec["signature"] = result["signature"]
    return {
        "apiVersion": API_VERSION,
        "kind": "ModelVersion",
        "metadata": {
            "name": output["name"],
            "namespace": job.namespace,
            "labels": {"modelyard.dev/model": model.name, "modelyard.dev/hardware": job.spec.target.hardware},
            "annotations": {CONVERTED_BY: job.name},
            "ownerReferences": [{
                "apiVersion": API_VERSION, "kind": "Model", "name": model.name,
                "uid": model.metadata.uid or "", "controller": True, "blockOwnerDeletion": False,
            }],
        },
        "spec": spec,
    }


def output_ready_update(job: ConversionJob, result: dict[str, Any], now: datetime) -> ChildUpdate:
    """The output version's status: Ready with the converted artifact."""
    artifact = result["artifact"]
    message = f"converted by {job.name}: {artifact.get('digest', '')}"
    return ChildUpdate(
        kind="ModelVersion",
        name=result["outputVersion"]["name"],
        status={
            "phase": "Ready",
            "message": message,
            "hardware": job.spec.target.hardware,
            "artifact": {k: artifact[k] for k in ("uri", "digest", "sizeBytes", "files") if k in artifact},
            **({"signature": result["signature"]} if result.get("signature") else {}),
        },
        conditions=set_condition([], C.READY, True, "Converted", message, now),
        only_if_missing=True,
    )


def decide_conversion(
    job: ConversionJob,
    source: ModelVersion | None,
    model: Model | None,
    observed: JobObservation,
    profiles: dict[str, HardwareProfile],
    settings: Settings,
    now: datetime,
) -> Decision:
    status = StatusBuilder(job, now)
    phase = job.status.phase if job.status else None
    if phase == "Succeeded" and observed.result:
        # Heal a crash between creating the output version and recording its status.
        return Decision(status=status.body, updates=[output_ready_update(job, observed.result, now)])
    if phase in ("Succeeded", "Failed"):
        return Decision(status=status.body)
    waiting = wait_for_version(source, "source", job.spec.source_ref.name, status, WAIT_SECONDS)
    if waiting is not None:
        return waiting
    if model is None:
        message = f"Model {source.spec.model_ref.name!r} does not exist"
        return Decision(status=status.waiting("Pending", "ModelNotFound", message), requeue_after=WAIT_SECONDS)
    name = job_name("convert", job.name)
    build = lambda: build_conversion_job(job, source, model, profiles, settings)  # noqa: E731
    pending = follow_job(job, observed, name, "conversion", build, status)
    if pending is not None:
        return pending
    result = observed.result or {}
    output = result.get("outputVersion") or {}
    for key in ("artifact", "verification", "benchmark"):
        if result.get(key):
            status.body[key] = result[key]
    status.body["outputVersion"] = output.get("name")
    speed = (result.get("benchmark") or {}).get("speedupBatch1")
    message = f"{output.get('name')} ({output.get('version')}) verified" + (f", {speed_phrase(speed)} at batch 1" if speed else "")
    return Decision(
        status=succeed(status, "Converted", message),
        create=[output_version_object(job, model, result, source)],
        updates=[output_ready_update(job, result, now)],
        events=[Event("Normal", "Converted", message)],
    )
