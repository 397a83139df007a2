"""What the watches delivered: a Job never goes back, a finished Job's result is kept."""

from __future__ import annotations

import tracemalloc

from modelyard.api.validation import parse_object
from modelyard.core.jobstate import JobObservation
from modelyard.core.model import version_facts
from modelyard.handlers.cache import Seen
from tests.support import builders
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
    assert held["spec"] == {"suspend": False, "template": {"spec": {"initContainers": [{"name": "fetch"}]}}}
    assert held["status"] == body["status"] and held["metadata"]["creationTimestamp"] == "2026-12-02T10:00:00Z"
    assert "labels" not in held["metadata"]
    plain = {**body, "spec": {"suspend": True, "template": {"spec": {"containers": [{"name": "worker"}]}}},
             "status": {"conditions": [{"type": "Suspended", "status": "True", "lastProbeTime": "t", "lastTransitionTime": "t"}]}}
    seen.put_job("team", "import-b", plain)
    held = seen.get("Job", "team", "import-b")
    assert held["spec"] == {"suspend": True}, "a training job's resume reads whether its Job is suspended"
    assert held["status"]["conditions"] == [{"type": "Suspended", "status": "True", "lastTransitionTime": "t"}]


def ready_version(name: str, phase: str = "Ready"):
    body = builders.model_version(name=name)
    body["metadata"]["uid"] = f"uid-{name}"
    body["status"] = {"phase": phase, "artifact": {"uri": "s3://b/x/", "digest": "sha256:" + "a" * 64, "sizeBytes": 1},
                      "conditions": [{"type": "Ready", "status": "True", "reason": "Imported", "message": "stored",
                                      "lastTransitionTime": "2026-12-02T10:00:00Z"}]}
    return parse_object(body)


def test_a_settled_version_is_held_compact_and_read_back_whole():
    seen = Seen()
    ready, importing = ready_version("a"), ready_version("b", phase="Importing")
    seen.put("ModelVersion", "ml", "a", ready)
    seen.put("ModelVersion", "ml", "b", importing)
    assert seen.get("ModelVersion", "ml", "a") == ready and seen.get("ModelVersion", "ml", "b") is importing
    assert sorted(v.name for v in seen.of_kind("ModelVersion", "ml")) == ["a", "b"]
    facts = {f.name: f for f in seen.version_facts("ml")}
    assert facts["a"] == version_facts(ready) and facts["a"].summary["digest"] == "sha256:" + "a" * 64
    assert facts["b"].phase == "Importing"



def test_a_settled_version_costs_a_fraction_of_its_parsed_tree():
    versions = [ready_version(f"v-{i}") for i in range(200)]
    seen = Seen()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for v in versions:
            seen.put("ModelVersion", "ml", v.name, v)
        compact = (tracemalloc.get_traced_memory()[0] - start) / 200
        start = tracemalloc.get_traced_memory()[0]
        parsed = [ready_version(f"p-{i}") for i in range(200)]
        tree = (tracemalloc.get_traced_memory()[0] - start) / 200
    finally:
        tracemalloc.stop()
    assert len(parsed) == 200 and compact < tree / 2, (compact, tree)
