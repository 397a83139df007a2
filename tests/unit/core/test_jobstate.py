"""Reading a worker Job's outcome from the Job and its pod."""

from __future__ import annotations

import json

from modelyard.core.jobstate import job_finished, observe_job, ownership, start_problem, waiting_for_worker
from tests.support.builders import job_status, worker_pod

OK = json.dumps({"ok": True, "reason": "Imported", "message": "imported 1 file(s)", "artifact": {"digest": "sha256:ab"}})


def test_missing_pending_running():
    assert observe_job(None, []).phase == "Missing"
    assert observe_job(job_status(start=None), []).phase == "Pending"
    assert observe_job(job_status(active=1), [worker_pod()]).phase == "Running"


def test_success_carries_the_worker_result():
    seen = observe_job(job_status(complete=True), [worker_pod(OK)])
    assert seen.phase == "Succeeded"
    assert seen.result["artifact"]["digest"] == "sha256:ab"
    assert seen.completion_time == "2026-11-22T10:05:00Z"


def test_success_without_a_result_is_a_failure_not_a_silent_ready():
    seen = observe_job(job_status(complete=True), [worker_pod("")])
    assert seen.phase == "Failed" and seen.reason == "NoResult"


def test_worker_failure_keeps_its_reason_and_message():
    message = json.dumps({"ok": False, "reason": "DigestMismatch", "message": "source has sha256 a, but spec.source.sha256 is b"})
    seen = observe_job(job_status(failed="PodFailurePolicy"), [worker_pod(message, exit_code=1)])
    assert (seen.phase, seen.reason) == ("Failed", "DigestMismatch")
    assert "spec.source.sha256" in seen.message


def test_crash_without_json_falls_back_to_the_log_tail():
    seen = observe_job(job_status(failed="BackoffLimitExceeded"), [worker_pod("Traceback ...\nMemoryError", exit_code=137)])
    assert seen.phase == "Failed" and seen.reason == "BackoffLimitExceeded"
    assert "MemoryError" in seen.message


def test_deadline_and_init_container_failures_are_explained():
    seen = observe_job(job_status(failed="DeadlineExceeded"), [])
    assert seen.reason == "DeadlineExceeded" and "DeadlineExceeded" in seen.message
    init = {"name": "copy-model-from-image", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "pull access denied"}}}
    seen = observe_job(job_status(active=1), [worker_pod(init=init)])
    assert seen.phase == "Pending" and "ImagePullBackOff" in seen.message


def test_success_criteria_met_is_not_yet_the_end():
    # A current Job controller writes SuccessCriteriaMet before it counts the pod and writes
    # Complete (found on kube-controller-manager 1.37): the Job is finishing, not done.
    job = job_status(active=0)
    job["status"]["conditions"] = [{"type": "SuccessCriteriaMet", "status": "True"}]
    job["status"]["uncountedTerminatedPods"] = {"succeeded": ["uid-1"]}
    seen = observe_job(job, [worker_pod(OK)])
    assert seen.phase == "Running" and seen.reason == "Finishing"
    job["status"]["conditions"].append({"type": "Complete", "status": "True"})
    assert observe_job(job, [worker_pod(OK)]).phase == "Succeeded"


def test_failure_target_is_not_yet_the_end():
    job = job_status(active=1)
    job["status"]["conditions"] = [{"type": "FailureTarget", "status": "True", "reason": "PodFailurePolicy"}]
    assert observe_job(job, [worker_pod(OK)]).phase == "Running"
    assert not job_finished(job)
    job["status"]["conditions"].append({"type": "Failed", "status": "True", "reason": "PodFailurePolicy"})
    assert job_finished(job)


def _pending_pod(**status) -> dict:
    return {"metadata": {"name": "p", "creationTimestamp": "2026-11-22T10:00:00Z"},
            "status": {"phase": "Pending", **status}}


def test_why_a_worker_does_not_start():
    unschedulable = _pending_pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                              "message": "0/4 nodes are available: 4 Insufficient nvidia.com/gpu."}])
    seen = observe_job(job_status(active=1), [unschedulable])
    assert (seen.phase, seen.reason) == ("Pending", "Unschedulable")
    assert seen.message == "no node can run the worker: 0/4 nodes are available: 4 Insufficient nvidia.com/gpu."
    config = _pending_pod(containerStatuses=[{"name": "worker", "state": {"waiting": {
        "reason": "CreateContainerConfigError", "message": 'secret "creds" not found'}}}])
    assert start_problem([config], []) == ("CreateContainerConfigError", 'container worker: secret "creds" not found')
    event = {"reason": "FailedCreate", "message": 'pods "x" is forbidden: serviceaccount "w" not found',
             "lastTimestamp": "2026-11-22T10:00:01Z"}
    assert start_problem([], [event]) == ("FailedCreate", event["message"])
    running = {"metadata": {"name": "p"}, "status": {"phase": "Running"}}
    assert start_problem([running], []) is None


def test_only_a_job_whose_worker_is_not_running_is_waiting():
    assert waiting_for_worker(job_status(active=1))
    ready = job_status(active=1)
    ready["status"]["ready"] = 1
    assert not waiting_for_worker(ready)
    assert not waiting_for_worker(job_status(complete=True))


def owned(uid: str | None, kind: str = "ModelVersion", **meta) -> dict:
    job = job_status(active=1)
    owners = [{"kind": kind, "name": "classifier-1-0-0", "uid": uid}] if uid else []
    job["metadata"] = {"name": "import-classifier-1-0-0", "namespace": "ml", "ownerReferences": owners, **meta}
    return job


def test_a_job_is_ours_only_when_its_owner_reference_carries_our_uid():
    assert ownership(owned("new"), "ModelVersion", "new") is None
    earlier = ownership(owned("old"), "ModelVersion", "new")
    assert (earlier.phase, earlier.reason) == ("Foreign", "WaitingForOldJob")
    assert "earlier ModelVersion of the same name" in earlier.message


def test_an_orphaned_job_is_a_conflict_the_user_resolves():
    orphan = ownership(owned(None), "ModelVersion", "new")
    assert (orphan.phase, orphan.reason) == ("Foreign", "JobConflict")
    assert "kubectl delete job import-classifier-1-0-0 -n ml" in orphan.message
    assert "orphaned" in orphan.message
    deleting = ownership(owned(None, deletionTimestamp="2026-12-06T00:00:00Z"), "ModelVersion", "new")
    assert deleting.reason == "WaitingForOldJob", "one being deleted is waited out"
    other = ownership(owned("x", kind="TrainingJob"), "ModelVersion", "new")
    assert other.reason == "JobConflict" and "TrainingJob classifier-1-0-0" in other.message


def test_an_active_job_whose_pod_is_not_ready_is_waiting_for_its_worker_not_running():
    created = job_status(active=1)
    created["status"]["ready"] = 0  # the Job controller counts a pod it just created as active
    seen = observe_job(created, [])
    assert (seen.phase, seen.reason) == ("Pending", "WorkerPending")
    assert "waiting for the worker pod" in seen.message
    created["status"]["ready"] = 1
    assert observe_job(created, []).phase == "Running"
    running_pod = {**worker_pod(), "status": {**worker_pod()["status"], "phase": "Running"}}
    created["status"]["ready"] = 0
    assert observe_job(created, [running_pod]).phase == "Running", "a running pod not yet counted ready"
