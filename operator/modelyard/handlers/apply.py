"""Carry out a core Decision: children first, then other objects' status, then our own."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from modelyard.api import conditions as C
from modelyard.api.resource import Resource
from modelyard.core.conditions import set_condition
from modelyard.core.decision import ChildUpdate, Decision, Event
from modelyard.handlers.apierrors import ForeignChild, api_error, rejection

if TYPE_CHECKING:
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


def apply(kube: Kube, obj: Resource, decision: Decision, post: PostEvent, now: datetime) -> bool:
    """Children are created before the status says they exist, so a restart in between finds
    the Job and adopts it instead of reporting it lost. False when a child could not be
    created: the status then says why (waiting for an old child, or the server's refusal)."""
    previous = obj.status.to_dict() if obj.status else {}
    for manifest in decision.create:
        what = f"{manifest['kind']} {manifest['metadata']['name']}"
        try:
            kube.create(manifest)
        except ForeignChild as error:
            waiting = {**previous, "message": str(error)}
            if waiting != previous:
                kube.patch_status(obj.kind, obj.namespace, obj.name, waiting, previous)
            return False
        except Exception as error:
            refused = rejection(error) if api_error(error) else None
            if refused is None:
                raise
            message = f"the API server refused to create {what}: {refused}"
            kube.patch_status(obj.kind, obj.namespace, obj.name, stalled_status(previous, "Rejected", message, now), previous)
            post(Event("Warning", "Rejected", message))
            return False
    for update in decision.updates:
        apply_update(kube, obj.namespace, update)
    for patch in decision.patches:
        if patch.kind == "Job":
            kube.patch_job(obj.namespace, patch.name, patch.body)
        else:
            kube.patch_child(patch.kind, obj.namespace, patch.name, patch.body, obj.metadata.uid)
    for child in decision.deletes:
        kube.delete_child(child.kind, obj.namespace, child.name, obj.metadata.uid)
    if decision.status != previous:
        try:
            kube.patch_status(obj.kind, obj.namespace, obj.name, decision.status, previous)
        except Exception as error:
            refused = rejection(error) if api_error(error) else None
            if refused is None:
                raise
            # The status itself was refused (too long, too many items): say so in a small one.
            message = f"the API server refused this object's status: {refused}"[:4000]
            small = {"phase": "Failed", "message": message, "observedGeneration": previous.get("observedGeneration")}
            kube.patch_status(obj.kind, obj.namespace, obj.name, stalled_status(small, "StatusRejected", message, now),
                              previous)
            post(Event("Warning", "StatusRejected", message))
            return False
    for event in decision.events:
        post(event)
    return True


def stalled_status(previous: dict[str, Any], reason: str, message: str, now: Any) -> dict[str, Any]:
    """Failed and Stalled with `message`, kept until the user changes something."""
    conditions = set_condition(previous.get("conditions") or [], C.READY, False, reason, message, now)
    conditions = set_condition(conditions, C.STALLED, True, reason, message, now)
    kept = {k: v for k, v in previous.items() if v is not None and k != "progress"}
    return {**kept, "phase": "Failed", "message": message, "conditions": conditions}


def invalid_status(body: dict[str, Any], message: str, now: Any) -> dict[str, Any]:
    """The status of an object whose body does not parse: Failed and Stalled, with the
    API-server-worded reason, kept until the user fixes it."""
    return stalled_status(body.get("status") or {}, "InvalidSpec", message, now)


def same_status(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for when conditions last changed (a decision made again on an older body
    stamps its transitions anew)."""

    def essence(status: dict[str, Any]) -> dict[str, Any]:
        conditions = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or []]
        return {**status, "conditions": conditions}

    return essence(a) == essence(b)


def told(status: dict[str, Any], before: dict[str, Any]) -> bool:
    """Whether `status` is the transition `before` already made: the same phase and Ready
    reason. Events announce transitions, so a decision that makes none posts nothing."""

    def essence(body: dict[str, Any]) -> tuple[Any, ...]:
        found = {c.get("type"): c for c in body.get("conditions") or []}
        # A version's push is announced by its own condition: the version stays Ready meanwhile.
        published = found.get("Published") or {}
        return body.get("phase"), (found.get(C.READY) or {}).get("reason"), published.get("status"), published.get("reason")

    return essence(status) == essence(before)
