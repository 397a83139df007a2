"""Building an object's next status from its current one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelyard.api import conditions as C
from modelyard.api.resource import Resource
from modelyard.core.conditions import remove_condition, set_condition


def stamp(now: datetime) -> str:
    return now.isoformat().replace("+00:00", "Z")


class StatusBuilder:
    """The next status of `obj`: conditions and phase set together, the rest kept."""

    def __init__(self, obj: Resource, now: datetime):
        self.now = now
        self.generation = obj.metadata.generation
        current = obj.status.to_dict() if obj.status else {}
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
        # Nothing runs any more: a progress line left behind would say otherwise.
        self.body.pop("progress", None)
        self.condition(C.READY, False, reason, message)
        self.condition(C.STALLED, True, reason, message)
        self.drop(C.RECONCILING)
        return self.done("Failed", message)

    def done(self, phase: str, message: str) -> dict[str, Any]:
        self.body.update(phase=phase, message=message, conditions=self.conditions)
        if self.generation is not None:
            self.body["observedGeneration"] = self.generation
        return self.body
