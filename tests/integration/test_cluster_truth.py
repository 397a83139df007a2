"""What a cluster can do to an operator that a platform engineer tries: objects deleted and
applied again while their old Jobs linger, deletion with every propagation policy, events
counted, and workers that cannot start, read from `kubectl get` (issue 25)."""

from __future__ import annotations

import json
import re
from collections import Counter

from kubernetes import client

from tests.integration.test_cluster_operator import DIGEST, conditions, imported
from tests.support import builders
from tests.support.controlplane import Namespace, wait_until

JOB = "import-classifier-1-0-0"
HOLD = "test.modelyard.dev/hold"
NEW_DIGEST = "sha256:" + "e" * 64


def reimported(namespace: str) -> dict:
    result = imported(namespace)
    return {**result, "artifact": {**result["artifact"], "digest": NEW_DIGEST}}


def warnings(ns: Namespace, name: str, reason: str) -> int:
    return sum(1 for e in ns.events(name) if e["type"] == "Warning" and e["reason"] == reason)


def refusals_since(ns: Namespace, mark: int) -> list[str]:
    """Lines of the operator's log since `mark` that show the API server refusing a write."""
    return [line for line in ns.kube.operator.log()[mark:].splitlines()
            if "422" in line or "no new finalizers" in line or "Traceback" in line]


def columns(ns: Namespace, kind: str, name: str) -> dict[str, str]:
    """`kubectl get`'s row by its header, cut where each column starts."""
    header, row = ns.kubectl("get", kind, name).stdout.splitlines()[:2]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    ends = [*starts[1:], None]
    return {header[a:b].strip(): row[a:b].strip() for a, b in zip(starts, ends, strict=True)}


def test_a_reapplied_version_waits_out_its_predecessors_job_and_never_takes_its_result(ns: Namespace):
    """The old Job is held by a finalizer of the test's own, as a slow garbage collector would."""
    ns.stand_in("import", imported(ns.name))
    ns.apply(builders.model(), builders.model_version())
    assert ns.wait_phase("modelversions", "classifier-1-0-0", "Ready")["artifact"]["digest"] == DIGEST
    ns.kubectl("patch", "job", JOB, "--type=json", "-p",
               json.dumps([{"op": "add", "path": "/metadata/finalizers", "value": [HOLD]}]))
    old_uid = ns.get("job", JOB)["metadata"]["uid"]
    mark = len(ns.kube.operator.log())
    ns.kubectl("delete", "modelversion", "classifier-1-0-0", "--wait=true", "--timeout=60s")
    wait_until("the garbage collector to mark the old Job deleted",
               lambda: (ns.get("job", JOB) or {}).get("metadata", {}).get("deletionTimestamp"), timeout=60)

    ns.stand_in("import", reimported(ns.name))
    ns.apply(builders.model_version())
    waiting = ns.wait_status("modelversions", "classifier-1-0-0", "waiting for the old Job",
                             lambda s: conditions(s).get("Ready", {}).get("reason") == "WaitingForOldJob", timeout=30)
    assert waiting["phase"] == "Pending" and "artifact" not in waiting and "jobName" not in waiting, waiting
    assert "earlier ModelVersion of the same name" in waiting["message"]
    assert columns(ns, "modelversion", "classifier-1-0-0")["REASON"] == "WaitingForOldJob"
    assert ns.get("job", JOB)["metadata"]["uid"] == old_uid, "the old Job is still there, not adopted"

    ns.kubectl("patch", "job", JOB, "--type=json", "-p",
               json.dumps([{"op": "remove", "path": "/metadata/finalizers"}]))
    ready = ns.wait_phase("modelversions", "classifier-1-0-0", "Ready", "Failed", timeout=90)
    assert ready["phase"] == "Ready" and ready["artifact"]["digest"] == NEW_DIGEST, ready
    job = ns.get("job", JOB)
    version = ns.read("modelversions", "classifier-1-0-0")
    assert job["metadata"]["uid"] != old_uid
    assert job["metadata"]["ownerReferences"][0]["uid"] == version["metadata"]["uid"]
    assert refusals_since(ns, mark) == []


def test_a_version_deleted_with_orphan_cascade_leaves_a_job_the_new_one_reports_not_adopts(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    ns.apply(builders.model(), builders.model_version())
    ns.wait_phase("modelversions", "classifier-1-0-0", "Ready")
    mark = len(ns.kube.operator.log())
    done = ns.kubectl("delete", "modelversion", "classifier-1-0-0", "--cascade=orphan", "--timeout=60s", check=False)
    assert done.returncode == 0, f"{done.stderr}\n{ns.describe()}"
    wait_until("the garbage collector to orphan the Job",
               lambda: not (ns.get("job", JOB) or {"metadata": {"ownerReferences": [1]}})["metadata"].get("ownerReferences"),
               timeout=60)

    ns.stand_in("import", reimported(ns.name))
    ns.apply(builders.model_version())
    conflict = ns.wait_status("modelversions", "classifier-1-0-0", "the conflict explained",
                              lambda s: conditions(s).get("Ready", {}).get("reason") == "JobConflict", timeout=30)
    assert conflict["phase"] == "Pending" and "artifact" not in conflict, "never Ready from the old object's result"
    assert f"kubectl delete job {JOB} -n {ns.name}" in conflict["message"]
    wait_until("the JobConflict warning", lambda: warnings(ns, "classifier-1-0-0", "JobConflict"), timeout=30)
    assert warnings(ns, "classifier-1-0-0", "JobConflict") == 1

    ns.kubectl("delete", "job", JOB, "--timeout=60s")
    ready = ns.wait_phase("modelversions", "classifier-1-0-0", "Ready", "Failed", timeout=90)
    assert ready["phase"] == "Ready" and ready["artifact"]["digest"] == NEW_DIGEST, ready
    assert refusals_since(ns, mark) == [], "finalizers are patched as our entry alone"


def test_foreground_deletion_of_a_version_refuses_no_finalizer_patch(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    ns.apply(builders.model(), builders.model_version())
    ns.wait_phase("modelversions", "classifier-1-0-0", "Ready")
    mark = len(ns.kube.operator.log())
    done = ns.kubectl("delete", "modelversion", "classifier-1-0-0", "--cascade=foreground", "--timeout=60s",
                      check=False)
    assert done.returncode == 0, f"{done.stderr}\n{ns.describe()}"
    assert ns.read("modelversions", "classifier-1-0-0") is None
    assert refusals_since(ns, mark) == []


def test_a_whole_pipeline_posts_each_event_once(quickstart: Namespace):
    """Training, the registered version, a conversion and an evaluation with real workers."""
    raw = client.CoreV1Api(quickstart.cp.api()).list_namespaced_event(quickstart.name, _preload_content=False)
    # The pipeline's kinds: a ModelDeployment in this namespace (test_cluster_serving.py) rolls
    # out twice and is promoted twice, each a transition of its own.
    ours = [e for e in json.loads(raw.data)["items"] if e.get("reportingComponent") == "modelyard.dev/operator"
            and e["involvedObject"]["kind"] != "ModelDeployment"]
    counts = Counter((e["involvedObject"]["kind"], e["involvedObject"]["name"], e["reason"]) for e in ours)
    assert {("TrainingJob", "digits-train", "Trained"), ("ConversionJob", "digits-onnx-cpu", "Converted"),
            ("EvaluationJob", "digits-onnx-cpu-eval", "GatesPassed")} <= set(counts), counts
    assert {key: n for key, n in counts.items() if n > 1} == {}, counts


def test_workers_that_cannot_start_show_why_in_kubectl_get_with_one_warning(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    ns.apply(builders.model(), builders.model_version())
    ns.wait_phase("modelversions", "classifier-1-0-0", "Ready")
    client.CoreV1Api(ns.cp.api()).delete_namespaced_secret("model-store-credentials", ns.name)
    seen: list[str] = []

    def record(status: dict) -> bool:
        seen.append(status.get("message") or "")
        return conditions(status).get("Ready", {}).get("reason") in ("Unschedulable", "CreateContainerConfigError")

    ns.apply(builders.conversion_job(name="no-gpu", target={"format": "onnx-fp16", "hardware": "gpu"},
                                     resources={"limits": {"nvidia.com/gpu": "4"}}),
             builders.conversion_job(name="no-secret"))
    for name, reason in (("no-gpu", "Unschedulable"), ("no-secret", "CreateContainerConfigError")):
        seen.clear()
        ns.wait_status("conversionjobs", name, f"reason {reason}", record, timeout=30)
        assert columns(ns, "conversionjob", name)["REASON"] == reason
        assert "the worker is running" not in seen, seen
        wait_until(f"the {reason} warning", lambda n=name, r=reason: warnings(ns, n, r), timeout=30)
        assert warnings(ns, name, reason) == 1


def test_a_missing_service_account_shows_in_kubectl_get_with_one_warning(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    client.CoreV1Api(ns.cp.api()).delete_namespaced_service_account("modelyard-worker", ns.name)
    ns.apply(builders.model(), builders.model_version())
    status = ns.wait_status("modelversions", "classifier-1-0-0", "FailedCreate",
                            lambda s: conditions(s).get("Ready", {}).get("reason") == "FailedCreate", timeout=30)
    assert 'serviceaccount "modelyard-worker" not found' in status["message"]
    assert columns(ns, "modelversion", "classifier-1-0-0")["REASON"] == "FailedCreate"
    wait_until("the FailedCreate warning", lambda: warnings(ns, "classifier-1-0-0", "FailedCreate"), timeout=30)
    assert warnings(ns, "classifier-1-0-0", "FailedCreate") == 1


def test_a_failed_version_shows_no_progress(ns: Namespace):
    source = {"image": {"image": "registry.example.com/team/missing:1.0", "path": "/models/model.onnx"}}
    ns.apply(builders.model(), builders.model_version(source=source))
    wait_until("the import Job", lambda: ns.get("job", JOB), timeout=30)
    ns.kubectl("delete", "job", JOB, "--cascade=foreground", "--timeout=60s")
    status = ns.wait_phase("modelversions", "classifier-1-0-0", "Failed", timeout=60)
    assert "progress" not in status, status
    assert columns(ns, "modelversion", "classifier-1-0-0")["REASON"] == "JobDeleted"
