"""Publishing a Ready version by its Model's `spec.publish` rule: a Job pushes it to the
registry as a KitOps ModelKit (with the push secret mounted), and the pushed digest is recorded
in the version's status. The version itself is never failed by a push: how the push went is
its `Published` condition."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Callable

from modelyard.api.model import Model
from modelyard.api.modelversion import ModelVersion
from modelyard.core.conditions import set_condition
from modelyard.core.decision import Decision, Event
from modelyard.core.jobstate import JobObservation
from modelyard.core.status import stamp
from modelyard.core.variants import gate
from modelyard.workloads.naming import job_name

PUBLISHED = "Published"


def tag_for(version: str) -> str:
    """An OCI tag for a semantic version: `+` is not allowed in tags, `_` is."""
    return version.replace("+", "_")


def publish_target(version: ModelVersion, model: Model | None) -> str | None:
    """`registry/repository:tag` the version is to be pushed to now, or None."""
    rule = model.spec.publish if model is not None else None
    if rule is None or not (version.status and version.status.phase == "Ready"):
        return None
    if rule.when == "GatesPassed" and gate(version) is not True:
        return None
    return f"{rule.repository.removeprefix('oci://')}:{tag_for(version.spec.version)}"


def publish_job_name(version: ModelVersion, target: str) -> str:
    """One Job per version and target: publishing to another repository is another push."""
    return job_name("publish", f"{version.name}-{hashlib.sha256(target.encode()).hexdigest()[:8]}")


def already_published(version: ModelVersion, target: str) -> bool:
    return any(p.reference == target for p in ((version.status.published if version.status else None) or []))


def add_publishing(decision: Decision, version: ModelVersion, target: str, observed: JobObservation,
                   build: Callable[[], dict[str, Any]], now: datetime) -> Decision:
    """`decision` (the version's own, Ready) with the publish step added."""
    status = decision.status
    name = publish_job_name(version, target)
    conditions = status.get("conditions") or []

    def condition(ok: bool | str, reason: str, message: str) -> None:
        status["conditions"] = set_condition(conditions, PUBLISHED, ok, reason, message, now,
                                             version.metadata.generation)

    if observed.phase in ("Missing",):
        decision.create.append(build())
        status["publishJob"] = name
        condition("Unknown", "Publishing", f"pushing to {target} (Job {name})")
        return decision
    if observed.phase in ("Pending", "Running", "Foreign"):
        status["publishJob"] = name
        condition("Unknown", "Publishing", f"pushing to {target} (Job {name}: {observed.message or observed.reason})")
        return decision
    result = observed.result or {}
    if observed.phase == "Failed" or not result.get("digest"):
        reason = result.get("reason") or observed.reason or "PublishFailed"
        message = result.get("message") or observed.message or f"the push to {target} failed"
        condition(False, reason, f"{message} (delete Job {name} to try again)")
        decision.events.append(Event("Warning", reason, message))
        return decision
    entry = {"reference": target, "digest": result["digest"], "publishedAt": stamp(now)}
    kept = [p for p in status.get("published") or [] if p.get("reference") != target]
    status["published"] = (kept + [entry])[-8:]
    status.pop("publishJob", None)
    said = f"pushed to {target}: {result['digest']}"
    condition(True, "Published", said)
    decision.events.append(Event("Normal", "Published", said))
    return decision
