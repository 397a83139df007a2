"""What a worker Job and its pod say: running, succeeded with a result, or failed and why."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from modelyard.workloads.jobs import WORKER_CONTAINER

JobPhase = Literal["Missing", "Foreign", "Pending", "Running", "Succeeded", "Failed"]
"""`Foreign`: a Job of the child's name exists but is not this object's (see `ownership`)."""


@dataclass(frozen=True)
class JobObservation:
    """The state of one worker Job, read from the Job and its pods."""

    phase: JobPhase
    result: dict[str, Any] | None = None
    """The worker's result (termination message), when it wrote one."""
    reason: str = ""
    message: str = ""
    start_time: str | None = None
    completion_time: str | None = None
    exit_code: int | None = None
    """The worker container's exit code, once it terminated."""
    exit_reason: str | None = None
    """The kubelet's reason for that termination (`OOMKilled`, `Error`, `Completed`)."""
    progress: dict[str, Any] | None = None
    """Training progress read from the running worker (step, total, percent, etaSeconds)."""
    since: str | None = None
    """When a finishing Job met its success or failure criteria (the condition's time)."""


def _termination(pods: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str]:
    """The newest worker container's termination message: parsed JSON or raw text."""
    newest = sorted(pods, key=lambda p: p.get("metadata", {}).get("creationTimestamp") or "")
    for pod in reversed(newest):
        statuses = pod.get("status", {}).get("containerStatuses") or []
        for status in statuses:
            if status.get("name") != WORKER_CONTAINER:
                continue
            terminated = (status.get("state") or {}).get("terminated")
            if not terminated:
                continue
            text = (terminated.get("message") or "").strip()
            try:
                parsed = json.loads(text.splitlines()[-1]) if text else None
            except (json.JSONDecodeError, IndexError):
                parsed = None
            if isinstance(parsed, dict):
                return parsed, text
            return None, text or f"worker exited with code {terminated.get('exitCode')} ({terminated.get('reason', '')})"
    return None, ""


def _exit(pods: list[dict[str, Any]]) -> tuple[int | None, str | None]:
    """(exit code, reason) of the newest terminated worker container."""
    newest = sorted(pods, key=lambda p: p.get("metadata", {}).get("creationTimestamp") or "")
    for pod in reversed(newest):
        for status in pod.get("status", {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated")
            if status.get("name") == WORKER_CONTAINER and terminated:
                return terminated.get("exitCode"), terminated.get("reason")
    return None, None


def _init_failure(pods: list[dict[str, Any]]) -> str:
    for pod in pods:
        for status in pod.get("status", {}).get("initContainerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated")
            if terminated and terminated.get("exitCode", 0) != 0:
                return f"init container {status.get('name')} failed: {(terminated.get('message') or terminated.get('reason') or '').strip()}"
            waiting = (status.get("state") or {}).get("waiting")
            if waiting and waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
                return f"init container {status.get('name')}: {waiting.get('reason')}: {waiting.get('message', '')}".strip()
    return ""


def ownership(job: dict[str, Any], kind: str, uid: str | None) -> JobObservation | None:
    """None when `job` is the child of the `kind` object with `uid`; else why it is not.

    Names are deterministic, so an object deleted and applied again under the same name finds
    its predecessor's Job until the garbage collector removes it, and one deleted with
    `--cascade=orphan` leaves it for good. Its result is the old object's: a child is ours only
    when its owner reference carries our uid, on every read."""
    meta = job.get("metadata") or {}
    owners = meta.get("ownerReferences") or []
    if any(o.get("uid", "") == (uid or "") for o in owners):
        return None
    name = meta.get("name", "")
    namespace = meta.get("namespace", "")
    if any(o.get("kind") == kind for o in owners) or meta.get("deletionTimestamp"):
        return JobObservation("Foreign", reason="WaitingForOldJob", message=(
            f"the Job {name} of an earlier {kind} of the same name still exists; waiting for the garbage "
            "collector to delete it before this one runs its own"))
    whose = ", ".join(f"{o.get('kind')} {o.get('name')}" for o in owners) or "no owner (orphaned, e.g. by "\
        "kubectl delete --cascade=orphan)"
    return JobObservation("Foreign", reason="JobConflict", message=(
        f"a Job named {name} exists that this {kind} does not own ({whose}); its result is not this object's. "
        f"Delete it (kubectl delete job {name} -n {namespace}) and this {kind} runs its own"))


FINISHED = ("Complete", "Failed")
"""The conditions that end a Job. A current Job controller writes SuccessCriteriaMet or
FailureTarget first, while pods may still be terminating and `succeeded` is not counted yet:
those mean "finishing", and a result read then is not the Job's last word."""


def job_finished(job: dict[str, Any]) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") in FINISHED and c.get("status") == "True" for c in conditions)


def _worker_running(job: dict[str, Any], pods: list[dict[str, Any]]) -> bool:
    """A worker pod is ready (the Job's count, kept by current Job controllers) or running (its
    pods, where they were read; a Job controller that keeps no `ready` count: active)."""
    status = job.get("status") or {}
    if status.get("ready") or any((p.get("status") or {}).get("phase") == "Running" for p in pods):
        return True
    return "ready" not in status and status.get("active", 0) >= 1


def waiting_for_worker(job: dict[str, Any]) -> bool:
    """Not finished and no worker pod ready: the time a worker may be stuck before it starts."""
    status = job.get("status") or {}
    return not job_finished(job) and not status.get("ready") and not status.get("succeeded") \
        and not status.get("failed")


STUCK = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
         "CreateContainerError", "RunContainerError")
"""Waiting reasons of a container that will not start without a change by someone."""


def start_problem(pods: list[dict[str, Any]], warnings: list[dict[str, Any]]) -> tuple[str, str] | None:
    """Why the worker is not running yet, when Kubernetes says (reason, message): no node fits,
    an image cannot be pulled, a Secret/ConfigMap/ServiceAccount is missing. None otherwise."""
    for pod in pods:
        status = pod.get("status") or {}
        if status.get("phase") not in (None, "Pending"):
            continue
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False" \
                    and condition.get("reason") == "Unschedulable":
                return "Unschedulable", f"no node can run the worker: {condition.get('message', '')}".strip()
        for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in STUCK:
                return waiting["reason"], f"container {container.get('name')}: {waiting.get('message', '')}".strip()
    # What only events say: pods the Job controller could not create (a missing
    # ServiceAccount), volumes the kubelet could not mount (a missing ConfigMap).
    for event in sorted(warnings, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "", reverse=True):
        if event.get("reason") in ("FailedCreate", "FailedMount"):
            return event["reason"], event.get("message", "")
    return None


def observe_job(job: dict[str, Any] | None, pods: list[dict[str, Any]],
                warnings: list[dict[str, Any]] | None = None) -> JobObservation:
    """Classify a Job (None when it does not exist) with the pods it owns and the Warning
    events of the Job and those pods (read only while it waits for its worker to run)."""
    if job is None:
        return JobObservation("Missing")
    status = job.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}
    start, end = status.get("startTime"), status.get("completionTime")
    result, text = _termination(pods)
    if "Complete" in conditions:
        if result is None:
            return JobObservation("Failed", None, "NoResult", f"the worker finished without a result: {text or 'no termination message'}", start, end)
        return JobObservation("Succeeded", result, result.get("reason", ""), result.get("message", ""), start, end)
    if "Failed" in conditions:
        failed = conditions["Failed"]
        end = end or failed.get("lastTransitionTime")
        code, why = _exit(pods)
        if result is not None:
            return JobObservation("Failed", result, result.get("reason", "WorkerFailed"), result.get("message", ""), start, end,
                                  code, why)
        reason = failed.get("reason") or "JobFailed"
        detail = _init_failure(pods) or text or failed.get("message") or "the Job failed"
        if why == "OOMKilled":
            detail = f"the worker ran out of memory (OOMKilled, exit code {code}); raise spec.resources.limits.memory. {detail}"
        return JobObservation("Failed", None, reason, detail, start, end, code, why)
    if "SuccessCriteriaMet" in conditions or "FailureTarget" in conditions:
        met = conditions.get("SuccessCriteriaMet") or conditions["FailureTarget"]
        return JobObservation("Running", None, "Finishing", "the worker finished; the Job is finishing", start,
                              since=met.get("lastTransitionTime"))
    init_problem = _init_failure(pods)
    if init_problem:
        return JobObservation("Pending", None, "InitContainerFailing", init_problem, start)
    problem = start_problem(pods, warnings or [])
    if problem is not None:
        return JobObservation("Pending", None, problem[0], problem[1], start)
    if _worker_running(job, pods):
        return JobObservation("Running", None, "Running", "the worker is running", start)
    if status.get("active", 0) >= 1 or start:
        # The Job controller counts a pod as active (and starts the Job) as soon as it creates
        # it: before it is scheduled, its image pulled or its Secret mounted.
        return JobObservation("Pending", None, "WorkerPending", "waiting for the worker pod to be scheduled and start",
                              start)
    return JobObservation("Pending", None, "Pending", "the Job is waiting to start", start)
