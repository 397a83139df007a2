"""What a reconcile decided: the status to write, children to create, events, waiting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the object."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass
class ChildUpdate:
    """Status to merge into another object (an output ModelVersion, an evaluated version)."""

    kind: str
    name: str
    status: dict[str, Any] = field(default_factory=dict)
    """Fields to set (merged over the current status)."""
    conditions: list[dict[str, Any]] = field(default_factory=list)
    """Conditions to set by type, keeping the others."""
    only_if_missing: bool = False
    """Apply only when the object has no `phase` yet (healing a half-finished step)."""


@dataclass(frozen=True)
class ChildPatch:
    """A merge patch of a child: a Job's spec (a TrainingJob suspended or resumed), a server
    Deployment's replicas, a Service's selector (which variant takes the traffic)."""

    name: str
    body: dict[str, Any]
    kind: str = "Job"


@dataclass(frozen=True)
class ChildRef:
    """A child to delete (a TensorBoard server past its TTL, a rolled-back variant's servers)."""

    kind: str
    name: str


@dataclass
class Decision:
    """The outcome of one reconcile of one object."""

    status: dict[str, Any]
    """The object's whole new status (camelCase)."""
    create: list[dict[str, Any]] = field(default_factory=list)
    """Children to create (a 409 means it exists already, which is fine)."""
    events: list[Event] = field(default_factory=list)
    requeue_after: float | None = None
    """Look again after this many seconds (waiting on something outside our watch)."""
    updates: list[ChildUpdate] = field(default_factory=list)
    """Status changes of other objects."""
    patches: list[ChildPatch] = field(default_factory=list)
    """Changes to child Jobs."""
    deletes: list[ChildRef] = field(default_factory=list)
    """Children to delete (gone already is fine)."""

    @property
    def terminal(self) -> bool:
        return self.status.get("phase") in ("Ready", "Failed", "Succeeded")
