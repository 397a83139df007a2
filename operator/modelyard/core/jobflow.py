"""The part every Job-backed kind shares: create the Job once, follow it, finish."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Callable

from modelyard.api import conditions as C
from modelyard.api.resource import Resource
from modelyard.core.decision import Decision, Event
from modelyard.core.jobstate import JobObservation
from modelyard.core.status import StatusBuilder
from modelyard.workloads.jobs import NoStoreConfigured


PROGRESS_MAX = 256
"""status.progress is a one-line summary (the CRD's maxLength); the message has it whole."""


def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def follow_job(
    obj: Resource,
    job: JobObservation,
    name: str,
    verb: str,
    build: Callable[[], dict[str, Any]],
    status: StatusBuilder,
    running_phase: str = "Running",
) -> Decision | None:
    """A Decision while the Job is to be created, running or failed; None once it succeeded
    (the caller records the result). A Job deleted before it reported is a failure, never
    silently recreated."""
    started = bool(obj.status and obj.status.job_name)
    if job.phase == "Foreign":
        # Never adopted: waited out (the garbage collector is deleting it) or left to the user.
        events = [Event("Warning", job.reason, job.message)] if job.reason == "JobConflict" else []
        return Decision(status=status.waiting("Pending", job.reason, job.message), events=events,
                        requeue_after=FOREIGN_RECHECK_SECONDS)
    if job.phase == "Missing":
        if started:
            message = f"the Job {name} was deleted before it reported a result; re-create the {obj.kind} to run it again"
            return Decision(status=status.failed("JobDeleted", message), events=[Event("Warning", "JobDeleted", message)])
        try:
            manifest = build()
        except NoStoreConfigured as error:
            return Decision(status=status.failed("NoStoreConfigured", str(error)), events=[Event("Warning", "NoStoreConfigured", str(error))])
        message = f"{verb} with Job {name}"
        return Decision(
            status=_created(status, name, verb, message, running_phase),
            create=[manifest],
            events=[Event("Normal", "JobCreated", message)],
        )
    if job.phase == "Pending" and job.reason in ("Pending", "WorkerPending"):
        # Created and its worker not running yet: the status written at creation, whichever
        # body (older or newer than that write, or none for an adopted Job) this is decided on.
        # A pod on its way is no news worth a write (a fourth per object under load); one that
        # cannot start is, with its reason.
        return Decision(status=_created(status, name, verb, f"{verb} with Job {name}", running_phase))
    status.body["jobName"] = name
    if job.start_time:
        # The Job's own start, once it has one: a decision made on any body, older or newer,
        # then writes the same status.
        status.body["startTime"] = job.start_time
    if job.reason == "Finishing" and not _finishing_long(job, status.now):
        job = replace(job, reason="Running", message="the worker is running")
    if job.phase in ("Pending", "Running"):
        status.body["progress"] = short(job.message, PROGRESS_MAX)
        reason = job.reason or "Running"
        # A worker that will not start without someone's change is said once, as a Warning.
        events = [Event("Warning", reason, job.message)] if job.phase == "Pending" and reason not in QUIET_WAITS else []
        return Decision(status=status.waiting(running_phase, reason, job.message), events=events)
    if job.completion_time:
        status.body["completionTime"] = job.completion_time
    status.body.pop("progress", None)
    if job.phase == "Failed":
        reason = job.reason or "JobFailed"
        message = job.message or f"the {verb} failed"
        if running_phase == "Running":
            status.condition(C.COMPLETE, False, reason, message)
        return Decision(status=status.failed(reason, message), events=[Event("Warning", reason, message)])
    return None


FOREIGN_RECHECK_SECONDS = 5.0
"""How often an object whose Job name is taken by another object's Job looks again."""
QUIET_WAITS = ("Pending", "WorkerPending", "JobCreated", "Running")
"""Waiting reasons that are the ordinary course of a Job (no Warning event)."""

FINISHING_QUIET_SECONDS = 10.0
"""A Job that met its success or failure criteria writes Complete or Failed within a second as a
rule: the object is not told it is "finishing" (a status write, one of each Job's four) unless
the Job stays so this long."""


def _finishing_long(job: JobObservation, now: datetime) -> bool:
    if not job.since:
        return False
    since = datetime.fromisoformat(job.since.replace("Z", "+00:00"))
    return (now - since).total_seconds() >= FINISHING_QUIET_SECONDS


def _created(status: StatusBuilder, name: str, verb: str, message: str, running_phase: str) -> dict[str, Any]:
    # No startTime of our own: the Job's, once it has started, is the one recorded.
    status.body.update(jobName=name, progress=f"{verb} Job created")
    return status.waiting(running_phase, "JobCreated", message)


def succeed(status: StatusBuilder, reason: str, message: str) -> dict[str, Any]:
    status.condition(C.READY, True, reason, message)
    status.condition(C.COMPLETE, True, reason, message)
    status.drop(C.RECONCILING)
    status.drop(C.STALLED)
    return status.done("Succeeded", message)


def wait_for_version(
    version: Resource | None, role: str, name: str, status: StatusBuilder, wait_s: float
) -> Decision | None:
    """Waiting (or failing) while an input ModelVersion is missing or not Ready."""
    if version is None:
        message = f"{role} ModelVersion {name!r} does not exist (yet)"
        return Decision(status=status.waiting("Pending", "VersionNotFound", message), requeue_after=wait_s)
    phase = version.status.phase if version.status else None
    if phase == "Failed":
        message = f"{role} ModelVersion {name!r} failed: {version.status.message or ''}".rstrip(": ")
        return Decision(status=status.failed("VersionFailed", message), events=[Event("Warning", "VersionFailed", message)])
    if phase != "Ready":
        message = f"waiting for {role} ModelVersion {name!r} to be Ready (now {phase or 'Pending'})"
        return Decision(status=status.waiting("Pending", "WaitingForVersion", message), requeue_after=wait_s)
    return None
