"""What the watches delivered: a Job never goes back, a finished Job's result is kept."""

from __future__ import annotations

from modelyard.core.jobstate import JobObservation
from modelyard.handlers.cache import Seen
from tests.support.builders import job_status


def job(uid: str = "u1", **status):
    body = job_status(**status) if status else {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "job"}}
    body["metadata"] = {"name": "import-x", "namespace": "ns", "uid": uid}
    return body


def test_a_job_body_older_than_the_one_held_does_not_replace_it():
    seen = Seen()
    seen.put_job("ns", "import-x", job(complete=True))
    seen.put_job("ns", "import-x", job(active=1))  # a late watch event
    seen.put_job("ns", "import-x", job())
    assert seen.get("Job", "ns", "import-x")["status"]["succeeded"] == 1


def test_a_job_moves_forward_and_a_new_job_of_the_same_name_replaces_the_old():
    seen = Seen()
    seen.put_job("ns", "import-x", job())
    seen.put_job("ns", "import-x", job(active=1))
    assert seen.get("Job", "ns", "import-x")["status"]["active"] == 1
    seen.put_job("ns", "import-x", job(complete=True))
    seen.put_job("ns", "import-x", job(uid="u2"))
    assert seen.get("Job", "ns", "import-x")["metadata"]["uid"] == "u2"


def test_a_finished_job_s_observation_is_kept_for_that_job_only():
    seen = Seen()
    done = JobObservation("Succeeded", {"ok": True})
    seen.remember("ns", "import-x", "u1", done)
    assert seen.recall("ns", "import-x", "u1") is done
    assert seen.recall("ns", "import-x", "u2") is None
    seen.drop("Job", "ns", "import-x")
    assert seen.recall("ns", "import-x", "u1") is None


def test_objects_are_listed_by_kind_and_namespace():
    seen = Seen()
    seen.put("ConversionJob", "a", "one", 1)
    seen.put("ConversionJob", "b", "two", 2)
    seen.put("EvaluationJob", "a", "three", 3)
    assert seen.of_kind("ConversionJob", "a") == [1]
    seen.drop("ConversionJob", "a", "one")
    assert seen.of_kind("ConversionJob", "a") == [] and seen.get("ConversionJob", "a", "one") is None


def test_a_held_job_keeps_what_decisions_read_and_no_pod_template():
    body = {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "import-a", "namespace": "team", "uid": "u1", "creationTimestamp": "2026-12-02T10:00:00Z",
                         "labels": {"app.kubernetes.io/component": "import"}, "ownerReferences": [{"uid": "o1"}],
                         "managedFields": [{"manager": "kube-controller-manager", "fieldsV1": {"f:status": {}}}]},
            "spec": {"template": {"spec": {"initContainers": [{"name": "fetch", "image": "x", "env": [{"name": "A"}]}],
                                           "containers": [{"name": "worker", "image": "y", "args": ["import"] * 50}]}}},
            "status": {"active": 1, "startTime": "2026-12-02T10:00:01Z"}}
    seen = Seen()
    seen.put_job("team", "import-a", body)
    held = seen.get("Job", "team", "import-a")
    assert "managedFields" not in held["metadata"] and held["metadata"]["ownerReferences"] == [{"uid": "o1"}]
    assert held["spec"] == {"template": {"spec": {"initContainers": [{"name": "fetch"}]}}}
    assert held["status"] == body["status"] and held["metadata"]["creationTimestamp"] == "2026-12-02T10:00:00Z"
    plain = {**body, "spec": {"template": {"spec": {"containers": [{"name": "worker"}]}}}}
    seen.put_job("team", "import-b", plain)
    assert "spec" not in seen.get("Job", "team", "import-b")
