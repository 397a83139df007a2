"""When a TrainingJob's TensorBoard server runs: from the moment its training Job is created until
`ttlSeconds` after the job finished, then its Deployment and Service are deleted and the status
says Expired."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable

from modelyard.api.trainingjob import TensorBoardSpec
from modelyard.core.decision import ChildRef, Decision
from modelyard.core.status import stamp

FINISHED = ("Succeeded", "Failed")


def _time(value: Any, default: datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return default


def with_tensorboard(decision: Decision, previous: dict[str, Any] | None, spec: TensorBoardSpec, name: str, url: str,
                     build: Callable[[], list[dict[str, Any]]], now: datetime) -> None:
    """Add the server's children, deletions, status and wake-up time to `decision` (in place).
    Nothing happens before the training Job is created: there is nothing to show yet."""
    status = decision.status
    if not spec.enabled or not status.get("jobName"):
        return
    previous = previous or {}
    running = {"phase": "Running", "url": url, "service": name}
    if status.get("phase") not in FINISHED:
        status["tensorboard"] = running
        if previous.get("phase") != "Running":
            decision.create += build()
        return
    expires = _time(status.get("completionTime"), now) + timedelta(seconds=spec.ttl_seconds)
    if now < expires:
        status["tensorboard"] = {**running, "expiresAt": stamp(expires)}
        if previous.get("phase") != "Running":
            decision.create += build()
        wait = (expires - now).total_seconds()
        decision.requeue_after = wait if decision.requeue_after is None else min(wait, decision.requeue_after)
        return
    status["tensorboard"] = {"phase": "Expired", "service": name, "expiresAt": stamp(expires)}
    if previous.get("phase") != "Expired":
        decision.deletes += [ChildRef("Deployment", name), ChildRef("Service", name)]
