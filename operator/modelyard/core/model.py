"""A Model's status: the summary of its versions and the latest Ready one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from modelyard.api import conditions as C
from modelyard.api.model import LISTED_VERSIONS, Model
from modelyard.api.modelversion import ModelVersion
from modelyard.core.conditions import set_condition
from modelyard.core.semver import SemVer


def summarize(version: ModelVersion) -> dict[str, Any]:
    status = version.status
    summary: dict[str, Any] = {
        "name": version.name,
        "version": version.spec.version,
        "phase": (status.phase if status and status.phase else "Pending"),
        "format": version.spec.format,
    }
    if status and status.hardware:
        summary["hardware"] = status.hardware
    if status and status.artifact:
        summary["digest"] = status.artifact.digest
    if version.spec.lineage and version.spec.lineage.parent_version:
        summary["parent"] = version.spec.lineage.parent_version
    evaluated = next((c for c in (status.conditions if status else []) if c.type == C.EVALUATED), None)
    if evaluated is not None:
        summary["evaluated"] = evaluated.status == "True"
    return summary


@dataclass(frozen=True, slots=True)
class VersionFacts:
    """What a Model's status takes from one version: the operator keeps these for every
    version it has seen, a few hundred bytes each instead of the whole object."""

    model: str
    name: str
    version: str
    phase: str
    summary: dict[str, Any]


def version_facts(version: ModelVersion) -> VersionFacts:
    summary = summarize(version)
    return VersionFacts(version.spec.model_ref.name, version.name, version.spec.version, summary["phase"], summary)


def model_status(model: Model, versions: Iterable[VersionFacts], now: datetime) -> dict[str, Any]:
    """The Model's status from its versions (those whose spec.modelRef names it): the newest
    listed, all counted."""
    mine = sorted(
        (v for v in versions if v.model == model.name),
        # Build metadata does not order versions (semver): among equals, the plain release
        # (1.0.0) counts as later than its conversions (1.0.0+onnx-int8.arm), then by name.
        key=lambda v: (SemVer(v.version), "+" not in v.version, v.name),
    )
    ready = [v for v in mine if v.phase == "Ready"]
    latest = ready[-1].name if ready else None
    previous = [c.to_dict() for c in (model.status.conditions if model.status else [])]
    generation = model.metadata.generation
    if latest:
        conditions = set_condition(previous, C.READY, True, "VersionReady", f"latest Ready version: {latest}", now, generation)
    else:
        message = f"{len(mine)} version(s), none Ready yet" if mine else "no versions yet"
        conditions = set_condition(previous, C.READY, False, "NoReadyVersion", message, now, generation)
    counts = {"total": len(mine), "pending": 0, "importing": 0, "ready": 0, "failed": 0}
    for v in mine:
        counts[v.phase.lower()] += 1
    status: dict[str, Any] = {
        "phase": "Ready" if latest else "Pending",
        "versions": [v.summary for v in mine[-LISTED_VERSIONS:]],
        "versionCounts": counts,
        "conditions": conditions,
        "message": f"latest Ready version: {latest}" if latest else conditions[-1]["message"],
    }
    if latest:
        status["latestReadyVersion"] = latest
    if generation is not None:
        status["observedGeneration"] = generation
    return status
