"""The ModelVersion decisions, step by step, without a cluster."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from modelyard.api.validation import parse_object
from modelyard.config import Settings
from modelyard.core.jobstate import JobObservation, observe_job
from modelyard.core.modelversion import CONVERTED_BY, decide_model_version, settled
from modelyard.core.training import TrainingObservation, observe_training_job
from modelyard.workloads.profiles import default_profiles
from tests.support import builders
from tests.support.builders import job_status, worker_pod

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
SETTINGS = Settings(store_uri="s3://models")
MODEL = parse_object(builders.model())
MISSING = JobObservation("Missing")


def decide(version_obj, job=MISSING, training=None, model=MODEL, settings=SETTINGS):
    version_obj.setdefault("metadata", {}).setdefault("generation", 1)
    return decide_model_version(parse_object(version_obj), model, job, training, default_profiles(), settings, NOW)


def conditions(decision) -> dict:
    return {c["type"]: (c["status"], c["reason"]) for c in decision.status["conditions"]}


def test_first_reconcile_creates_exactly_the_import_job():
    decision = decide(builders.model_version())
    (job,) = decision.create
    assert job["kind"] == "Job" and job["metadata"]["name"] == "import-classifier-1-0-0"
    assert decision.status["phase"] == "Importing"
    assert decision.status["jobName"] == "import-classifier-1-0-0"
    assert decision.status["observedGeneration"] == 1
    assert conditions(decision) == {"Ready": ("False", "JobCreated"), "Reconciling": ("True", "JobCreated")}
    assert decision.events[0].reason == "JobCreated"


def test_a_created_job_not_started_yet_keeps_the_creation_status_whatever_the_body():
    """The same status from the body before the creation write, after it, or none (an adopted
    Job): a stale watch body then writes nothing."""
    created = decide(builders.model_version()).status
    pending = observe_job({**job_status(start=None), "spec": {}}, [])
    stale = decide(builders.model_version(), pending)
    fresh = decide({**builders.model_version(), "status": dict(created)}, pending)
    assert stale.create == [] and stale.events == [] and fresh.events == []
    assert stale.status == fresh.status == created


def test_the_job_s_start_time_is_recorded_whichever_body_the_decision_is_made_on():
    running = observe_job(job_status(active=1, start="2026-11-22T10:00:03Z"), [])
    older = {**builders.model_version(), "status": {"phase": "Importing", "jobName": "import-classifier-1-0-0",
                                                     "startTime": "2026-11-22T09:59:59Z"}}
    assert decide(older, running).status["startTime"] == "2026-11-22T10:00:03Z"


def test_running_job_is_followed_not_recreated():
    obj = builders.model_version()
    obj["status"] = {"phase": "Importing", "jobName": "import-classifier-1-0-0"}
    decision = decide(obj, observe_job(job_status(active=1), [worker_pod()]))
    assert decision.create == []
    assert decision.status["phase"] == "Importing"


def test_a_job_finishing_for_a_moment_writes_nothing_new_and_one_stuck_finishing_says_so():
    obj = builders.model_version()
    obj["status"] = {"phase": "Importing", "jobName": "import-classifier-1-0-0"}
    running = decide(obj, observe_job(job_status(active=1), [worker_pod()])).status

    def finishing(since: str):
        job = job_status(active=0)
        job["status"]["conditions"] = [{"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": since}]
        return observe_job(job, [worker_pod(json.dumps({"ok": True, "reason": "Imported", "artifact": {}}))])

    moment = decide({**builders.model_version(), "status": dict(running)}, finishing("2026-11-22T11:59:58Z"))
    assert moment.status == running, "the Job writes Complete within a second: no write for it"
    stuck = decide({**builders.model_version(), "status": dict(running)}, finishing("2026-11-22T11:59:30Z"))
    assert stuck.status["phase"] == "Importing" and conditions(stuck)["Reconciling"] == ("True", "Finishing")


def test_success_records_the_artifact_and_is_ready():
    obj = builders.model_version()
    obj["status"] = {"phase": "Importing", "jobName": "import-classifier-1-0-0"}
    result = {"ok": True, "reason": "Imported", "message": "m",
              "artifact": {"uri": "s3://models/default/classifier/1.0.0/", "digest": "sha256:" + "a" * 64, "sizeBytes": 10,
                           "files": [{"path": "model.onnx", "sizeBytes": 10, "sha256": "b" * 64}]},
              "signature": {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}], "outputs": []},
              "inspection": {"opset": 17, "parameterCount": 15, "opTypes": ["Add", "MatMul"]}}
    decision = decide(obj, observe_job(job_status(complete=True), [worker_pod(json.dumps(result))]))
    assert decision.status["phase"] == "Ready"
    assert decision.status["artifact"]["digest"] == "sha256:" + "a" * 64
    assert decision.status["inspection"]["opset"] == 17
    assert decision.status["completionTime"] == "2026-11-22T10:05:00Z"
    assert "progress" not in decision.status
    assert conditions(decision) == {"Ready": ("True", "Imported")}
    parse_object({**obj, "status": decision.status})  # the status is valid against the API


def test_worker_failure_is_failed_and_stalled_with_its_message():
    obj = builders.model_version()
    obj["status"] = {"phase": "Importing", "jobName": "import-classifier-1-0-0"}
    message = json.dumps({"ok": False, "reason": "UnsafeModel", "message": "model.pkl is a pickle; export with torch.export"})
    decision = decide(obj, observe_job(job_status(failed="PodFailurePolicy"), [worker_pod(message, 1)]))
    assert decision.status["phase"] == "Failed"
    assert conditions(decision) == {"Ready": ("False", "UnsafeModel"), "Stalled": ("True", "UnsafeModel")}
    assert "torch.export" in decision.status["message"]
    assert decision.events[0].type == "Warning"


def test_terminal_versions_are_left_alone():
    obj = builders.model_version()
    obj["status"] = {"phase": "Ready"}
    decision = decide(obj)
    assert decision.create == [] and decision.status == {"phase": "Ready", "conditions": []}


def test_missing_model_waits():
    decision = decide(builders.model_version(), model=None)
    assert decision.create == [] and decision.requeue_after
    assert decision.status["phase"] == "Pending"
    assert conditions(decision)["Reconciling"] == ("True", "ModelNotFound")


def test_training_job_is_awaited_then_imported_or_failed():
    obj = builders.model_version(source={"trainingJob": {"name": "train-1", "outputUri": "s3://out/model.onnx"}})
    waiting = decide(obj, training=observe_training_job(job_status(active=1)))
    assert waiting.create == [] and conditions(waiting)["Reconciling"][1] == "WaitingForTrainingJob"
    assert decide(obj, training=observe_training_job(None)).status["message"].endswith("does not exist (yet)")
    done = decide(obj, training=observe_training_job(job_status(complete=True)))
    assert len(done.create) == 1
    kubeflow = {"status": {"conditions": [{"type": "Succeeded", "status": "True"}]}}
    assert observe_training_job(kubeflow) == TrainingObservation("Succeeded", "")
    failed = decide(obj, training=observe_training_job(job_status(failed="BackoffLimitExceeded")))
    assert failed.status["phase"] == "Failed" and conditions(failed)["Stalled"][1] == "TrainingJobFailed"


def test_job_deleted_under_us_is_reported_not_recreated():
    obj = builders.model_version()
    obj["status"] = {"phase": "Importing", "jobName": "import-classifier-1-0-0"}
    decision = decide(obj)
    assert decision.create == []
    assert decision.status["phase"] == "Failed"
    assert "was deleted before it reported a result" in decision.status["message"]


def test_no_store_is_a_stalled_failure():
    decision = decide(builders.model_version(), settings=Settings())
    assert decision.status["phase"] == "Failed"
    assert conditions(decision)["Stalled"] == ("True", "NoStoreConfigured")


def test_converted_versions_wait_for_their_conversion_job():
    obj = builders.model_version()
    obj["metadata"]["annotations"] = {CONVERTED_BY: "classifier-onnx"}
    decision = decide(obj)
    assert decision.create == [] and decision.status == {} and decision.requeue_after


def test_only_an_unsettled_version_needs_its_job_observed():
    pending = builders.model_version()
    ready = {**builders.model_version(), "status": {"phase": "Ready"}}
    failed = {**builders.model_version(), "status": {"phase": "Failed"}}
    converted = builders.model_version()
    converted["metadata"]["annotations"] = {CONVERTED_BY: "to-onnx"}
    assert [settled(parse_object(v)) for v in (pending, ready, failed, converted)] == [False, True, True, True]
    # and a settled version's decision indeed ignores what a Job would say
    gone = JobObservation("Failed", None, "JobFailed", "the Job failed")
    assert decide(ready, job=gone).status == decide(ready).status


def test_a_predecessors_job_is_never_adopted_its_result_never_taken():
    """Deleted and applied again under the same name: the old object's Job (finished, with a
    result) is still there. The new object waits; it neither follows nor fails on it."""
    old = observe_job(job_status(complete=True), [worker_pod(json.dumps({"ok": True, "artifact": {"digest": "old"}}))])
    from modelyard.core.jobstate import ownership
    job = {**job_status(complete=True), "metadata": {"name": "import-classifier-1-0-0", "namespace": "default",
                                                      "ownerReferences": [{"kind": "ModelVersion", "uid": "old"}]}}
    foreign = ownership(job, "ModelVersion", "new")
    assert old.phase == "Succeeded" and foreign is not None
    decision = decide(builders.model_version(), foreign)
    assert decision.create == [] and "artifact" not in decision.status and "jobName" not in decision.status
    assert decision.status["phase"] == "Pending" and conditions(decision)["Ready"] == ("False", "WaitingForOldJob")
    assert decision.events == [] and decision.requeue_after
    orphan = ownership({**job, "metadata": {**job["metadata"], "ownerReferences": []}}, "ModelVersion", "new")
    conflict = decide(builders.model_version(), orphan)
    assert conditions(conflict)["Ready"] == ("False", "JobConflict")
    assert [(e.type, e.reason) for e in conflict.events] == [("Warning", "JobConflict")]


def test_a_worker_that_cannot_start_is_a_warning_and_a_reason_not_running():
    obj = builders.model_version()
    obj["status"] = {"phase": "Importing", "jobName": "import-classifier-1-0-0"}
    waiting = job_status(active=1)
    waiting["status"]["ready"] = 0
    pending = decide(obj, observe_job(waiting, []))
    assert conditions(pending)["Ready"] == ("False", "JobCreated") and pending.events == [], \
        "a pod on its way is not running, and no news worth a status write"
    assert pending.status["progress"] == "import Job created"
    pod = {"metadata": {"name": "p"}, "status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/4 nodes are available"}]}}
    stuck = decide(obj, observe_job(waiting, [pod]))
    assert conditions(stuck)["Ready"] == ("False", "Unschedulable")
    assert [(e.type, e.reason) for e in stuck.events] == [("Warning", "Unschedulable")]


def test_a_failure_leaves_no_progress_behind():
    obj = builders.model_version()
    obj["status"] = {"phase": "Importing", "jobName": "import-classifier-1-0-0", "progress": "the worker is running"}
    gone = decide(obj, MISSING)
    assert gone.status["phase"] == "Failed" and "progress" not in gone.status


def test_an_oci_import_records_the_digest_its_reference_resolved_to():
    obj = builders.model_version()
    obj["status"] = {"phase": "Importing", "jobName": "import-classifier-1-0-0"}
    provenance = {"oci": "registry.example.com/team/model:1.0", "digest": "sha256:" + "c" * 64, "kind": "modelkit",
                  "mediaType": "application/vnd.oci.image.manifest.v1+json"}
    result = {"ok": True, "reason": "Imported", "source": provenance,
              "artifact": {"uri": "s3://models/default/classifier/1.0.0/", "digest": "sha256:" + "a" * 64, "sizeBytes": 1}}
    decision = decide(obj, observe_job(job_status(complete=True), [worker_pod(json.dumps(result))]))
    assert decision.status["source"] == provenance
    parse_object({**obj, "status": decision.status})
