"""ConversionJob decisions."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from modelyard.api.validation import parse_manifest, parse_object
from modelyard.config import Settings
from modelyard.core.conversion import decide_conversion
from modelyard.core.jobstate import JobObservation, observe_job
from modelyard.core.modelversion import CONVERTED_BY
from modelyard.workloads.profiles import default_profiles
from tests.support import builders
from tests.support.builders import job_status, worker_pod

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
MISSING = JobObservation("Missing")
MODEL = parse_object({**builders.model(), "metadata": {"name": "classifier", "uid": "model-uid"}})
READY = parse_object({**builders.model_version(), "status": {"phase": "Ready"}})
RESULT = {
    "ok": True, "reason": "Converted",
    "outputVersion": {"name": "classifier-onnx", "version": "1.0.0+onnx.cpu", "format": "onnx", "hardware": "cpu"},
    "artifact": {"uri": "s3://models/default/classifier/1.0.0+onnx.cpu/", "digest": "sha256:" + "c" * 64, "sizeBytes": 99,
                 "files": [{"path": "model.onnx", "sizeBytes": 99, "sha256": "d" * 64}]},
    "signature": {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}], "outputs": [{"name": "y", "dtype": "float32", "shape": [-1, 3]}]},
    "verification": {"passed": True, "maxAbsDiff": 1e-6, "maxRelDiff": 1e-5, "outputs": []},
    "benchmark": {"speedupBatch1": 1.8, "source": {"latencyP50MsBatch1": 2.0}, "output": {"latencyP50MsBatch1": 1.1}},
}


def decide(job_obj, source=READY, observed=MISSING, model=MODEL):
    return decide_conversion(parse_object(job_obj), source, model, observed, default_profiles(), Settings(store_uri="s3://models"), NOW)


def running(**spec):
    obj = builders.conversion_job(**spec)
    obj["status"] = {"phase": "Running", "jobName": "convert-classifier-onnx"}
    return obj


def test_waits_for_a_ready_source():
    importing = parse_object({**builders.model_version(), "status": {"phase": "Importing"}})
    decision = decide(builders.conversion_job(), source=importing)
    assert decision.create == [] and decision.requeue_after
    assert "to be Ready (now Importing)" in decision.status["message"]
    assert decide(builders.conversion_job(), source=None).status["phase"] == "Pending"
    failed = parse_object({**builders.model_version(), "status": {"phase": "Failed", "message": "bad pickle"}})
    assert decide(builders.conversion_job(), source=failed).status["phase"] == "Failed"


def test_creates_the_job_on_the_target_hardware():
    decision = decide(builders.conversion_job(target={"format": "onnx-fp16", "hardware": "gpu"}))
    (job,) = decision.create
    assert job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert decision.status["phase"] == "Running"


def test_success_registers_a_ready_output_version_owned_by_the_model():
    decision = decide(running(), observed=observe_job(job_status(complete=True), [worker_pod(json.dumps(RESULT))]))
    assert decision.status["phase"] == "Succeeded"
    assert decision.status["outputVersion"] == "classifier-onnx"
    assert decision.status["benchmark"]["speedupBatch1"] == 1.8
    (output,) = decision.create
    parse_manifest(output)  # the API server would accept it
    assert output["metadata"]["ownerReferences"][0]["name"] == "classifier"
    assert output["metadata"]["annotations"] == {CONVERTED_BY: "classifier-onnx"}
    assert output["spec"]["lineage"] == {"parentVersion": "classifier-1-0-0", "conversionJob": "classifier-onnx"}
    (update,) = decision.updates
    assert update.name == "classifier-onnx" and update.status["phase"] == "Ready" and update.only_if_missing
    assert update.status["artifact"]["digest"] == RESULT["artifact"]["digest"]
    parse_object({**builders.conversion_job(), "status": decision.status})


def test_failed_verification_fails_and_registers_nothing():
    failure = {"ok": False, "reason": "VerificationFailed", "message": "logits: max abs diff 0.31 > atol 0.001"}
    decision = decide(running(), observed=observe_job(job_status(failed="PodFailurePolicy"), [worker_pod(json.dumps(failure), 1)]))
    assert decision.status["phase"] == "Failed" and decision.create == [] and decision.updates == []
    reasons = {c["type"]: c["reason"] for c in decision.status["conditions"]}
    assert reasons == {"Ready": "VerificationFailed", "Stalled": "VerificationFailed", "Complete": "VerificationFailed"}
    assert "max abs diff 0.31" in decision.status["message"]


def test_succeeded_job_heals_a_missing_output_status():
    obj = builders.conversion_job()
    obj["status"] = {"phase": "Succeeded", "outputVersion": "classifier-onnx"}
    decision = decide(obj, observed=observe_job(job_status(complete=True), [worker_pod(json.dumps(RESULT))]))
    assert decision.create == [] and decision.updates[0].only_if_missing


def test_a_long_wait_message_fits_the_progress_field():
    # Found on the real API server: an image-pull message copied whole into status.progress
    # (maxLength 256) made the server refuse the whole status.
    from modelyard.core.jobflow import PROGRESS_MAX, short

    assert len(short("x" * 1000, PROGRESS_MAX)) == PROGRESS_MAX
    assert short("ok", PROGRESS_MAX) == "ok"
