"""Teardown with retention."""

from __future__ import annotations

import json

from modelyard.api.validation import parse_object
from modelyard.config import Settings
from modelyard.core.deletion import teardown_model, teardown_version
from modelyard.core.jobstate import JobObservation, observe_job
from modelyard.workloads.profiles import default_profiles
from tests.support import builders
from tests.support.builders import job_status, worker_pod

SETTINGS = Settings(store_uri="s3://models")
MISSING = JobObservation("Missing")
ARTIFACT = {"uri": "s3://models/default/classifier/1.0.0/", "digest": "sha256:" + "a" * 64, "sizeBytes": 1}


def version(**status):
    obj = builders.model_version()
    obj["metadata"]["deletionTimestamp"] = "2026-11-22T12:00:00Z"
    if status:
        obj["status"] = status
    return parse_object(obj)


def model(retention):
    return parse_object(builders.model(retention=retention))


def test_retain_keeps_the_artifacts():
    teardown = teardown_version(version(phase="Ready", artifact=ARTIFACT), model("Retain"), MISSING, default_profiles(), SETTINGS)
    assert teardown.release and teardown.create == []


def test_delete_runs_the_cleanup_job_then_releases():
    ready = version(phase="Ready", artifact=ARTIFACT)
    first = teardown_version(ready, model("Delete"), MISSING, default_profiles(), SETTINGS)
    assert not first.release
    (job,) = first.create
    assert job["metadata"]["name"] == "delete-classifier-1-0-0"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "delete"
    running = teardown_version(ready, model("Delete"), observe_job(job_status(active=1), []), default_profiles(), SETTINGS)
    assert not running.release and running.create == []
    done = observe_job(job_status(complete=True), [worker_pod(json.dumps({"ok": True, "message": "deleted 3 object(s)"}))])
    assert teardown_version(ready, model("Delete"), done, default_profiles(), SETTINGS).release


def test_failed_cleanup_holds_the_version_and_says_how_to_proceed():
    failed = observe_job(job_status(failed="PodFailurePolicy"), [worker_pod(json.dumps({"ok": False, "reason": "AccessDenied", "message": "access denied"}), 1)])
    teardown = teardown_version(version(phase="Ready", artifact=ARTIFACT), model("Delete"), failed, default_profiles(), SETTINGS)
    assert not teardown.release
    assert "access denied" in teardown.message and "remove the finalizer" in teardown.message


def test_nothing_stored_means_nothing_to_delete():
    assert teardown_version(version(phase="Failed"), model("Delete"), MISSING, default_profiles(), SETTINGS).release


def test_model_deletes_its_versions_first():
    mine = parse_object(builders.model_version())
    other = parse_object(builders.model_version(name="x", modelRef={"name": "other"}))
    teardown = teardown_model(model("Delete"), [mine, other])
    assert teardown.delete_versions == ["classifier-1-0-0"] and not teardown.release
    assert teardown_model(model("Delete"), [other]).release
