"""Kubernetes-style conditions: set one, keep lastTransitionTime stable when nothing changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def set_condition(
    conditions: list[dict[str, Any]],
    type_: str,
    status: bool | str,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None = None,
) -> list[dict[str, Any]]:
    """A new condition list with `type_` set; lastTransitionTime moves only when the status
    flips (as `meta.SetStatusCondition` does)."""
    value = status if isinstance(status, str) else ("True" if status else "False")
    previous = next((c for c in conditions if c.get("type") == type_), None)
    changed_at = now.isoformat().replace("+00:00", "Z")
    if previous is not None and previous.get("status") == value:
        changed_at = previous.get("lastTransitionTime", changed_at)
    condition = {
        "type": type_,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": changed_at,
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    return [c for c in conditions if c.get("type") != type_] + [condition]


def remove_condition(conditions: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    """Conditions without `type_` (Reconciling and Stalled exist only while they hold)."""
    return [c for c in conditions if c.get("type") != type_]


def get_condition(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)
