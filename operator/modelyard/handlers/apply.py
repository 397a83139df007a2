"""Carry out a core Decision: children first, then other objects' status, then our own."""

from __future__ import annotations

from typing import Any, Callable

from modelyard.api import conditions as C
from modelyard.api.resource import Resource
from modelyard.core.conditions import set_condition
from modelyard.core.decision import ChildUpdate, Decision, Event
from modelyard.handlers.kube import Kube

PostEvent = Callable[[Event], None]


def apply_update(kube: Kube, namespace: str, update: ChildUpdate) -> None:
    """Merge a ChildUpdate into the child's current status."""
    child = kube.get(update.kind, namespace, update.name)
    if child is None:
        return
    current = child.status.to_dict() if child.status else {}
    if update.only_if_missing and current.get("phase"):
        return
    status = {**current, **update.status}
    conditions = current.get("conditions", [])
    for condition in update.conditions:
        conditions = [c for c in conditions if c.get("type") != condition["type"]] + [condition]
    if conditions:
        status["conditions"] = conditions
    kube.patch_status(update.kind, namespace, update.name, status, current)


def apply(kube: Kube, obj: Resource, decision: Decision, post: PostEvent) -> None:
    """Children are created before the status says they exist, so a restart in between finds
    the Job and adopts it instead of reporting it lost."""
    for manifest in decision.create:
        kube.create(manifest)
    for update in decision.updates:
        apply_update(kube, obj.namespace, update)
    previous = obj.status.to_dict() if obj.status else {}
    if decision.status != previous:
        kube.patch_status(obj.kind, obj.namespace, obj.name, decision.status, previous)
    for event in decision.events:
        post(event)


def invalid_status(body: dict[str, Any], message: str, now: Any) -> dict[str, Any]:
    """The status of an object whose body does not parse: Failed and Stalled, with the
    API-server-worded reason, kept until the user fixes it."""
    previous = body.get("status") or {}
    conditions = set_condition(previous.get("conditions") or [], C.READY, False, "InvalidSpec", message, now)
    conditions = set_condition(conditions, C.STALLED, True, "InvalidSpec", message, now)
    return {**previous, "phase": "Failed", "message": message, "conditions": conditions}


def same_status(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for when conditions last changed (a decision made again on an older body
    stamps its transitions anew)."""

    def essence(status: dict[str, Any]) -> dict[str, Any]:
        conditions = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or []]
        return {**status, "conditions": conditions}

    return essence(a) == essence(b)
