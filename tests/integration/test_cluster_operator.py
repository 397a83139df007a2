"""The operator's decisions on the real control plane: the real Job controller, garbage collector
and scheduler. Workers here are the kubelet's stand-ins (a given worker result), so each test is
about what the operator does with what Kubernetes reports; test_cluster_workers.py runs the real
workers."""

from __future__ import annotations

from kubernetes import client

from tests.support import builders
from tests.support.controlplane import Namespace, wait_until

DIGEST = "sha256:" + "a" * 64


def imported(namespace: str, version: str = "1.0.0") -> dict:
    return {"ok": True, "kind": "import", "phase": "Ready", "reason": "Imported", "message": "imported 1 file(s)",
            "artifact": {"uri": f"s3://cluster-store/store/{namespace}/classifier/{version}/", "digest": DIGEST,
                         "sizeBytes": 12, "files": [{"path": "model.onnx", "sizeBytes": 12, "sha256": "b" * 64}]},
            "signature": {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}],
                          "outputs": [{"name": "y", "dtype": "float32", "shape": [-1, 3]}]}}


def converted(namespace: str, name: str, fmt: str, hardware: str) -> dict:
    version = f"1.0.0+{fmt}.{hardware}"
    return {"ok": True, "kind": "convert", "phase": "Succeeded", "reason": "Converted", "message": "converted",
            "outputVersion": {"name": name, "version": version, "format": fmt.split("-")[0] if fmt.startswith("onnx") else fmt,
                              "hardware": hardware},
            "artifact": {"uri": f"s3://cluster-store/store/{namespace}/classifier/{version}/",
                         "digest": "sha256:" + "c" * 64, "sizeBytes": 5,
                         "files": [{"path": "model.onnx", "sizeBytes": 5, "sha256": "d" * 64}]},
            "verification": {"passed": True, "maxAbsDiff": 0.01, "maxRelDiff": 0.02, "top1Agreement": 1.0, "outputs": []},
            "benchmark": {"speedupBatch1": 1.4}}


DELETED = {"ok": True, "kind": "delete", "phase": "Succeeded", "message": "deleted 3 object(s)"}


def reasons(ns: Namespace, name: str) -> set[str]:
    return {e["reason"] for e in ns.events(name)}


def conditions(status: dict) -> dict[str, dict]:
    return {c["type"]: c for c in status.get("conditions") or []}


def test_ready_when_the_job_completes_not_a_resync_later(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    ns.apply(builders.model(), builders.model_version())
    status = ns.wait_phase("modelversions", "classifier-1-0-0", "Ready")
    job = ns.get("job", "import-classifier-1-0-0")
    kinds = [c["type"] for c in job["status"]["conditions"]]
    assert kinds == ["SuccessCriteriaMet", "Complete"], "the Job controller of 1.37 writes both"
    assert status["artifact"]["digest"] == DIGEST
    assert set(conditions(status)) == {"Ready"} and conditions(status)["Ready"]["status"] == "True"
    ns.kubectl("wait", "--for=condition=Ready", "modelversion/classifier-1-0-0", "--timeout=5s")
    ns.wait_phase("models", "classifier", "Ready", timeout=30)
    table = ns.kubectl("get", "modelyard").stdout
    assert "modelversion.modelyard.dev/classifier-1-0-0" in table and "model.modelyard.dev/classifier" in table
    header, row = ns.kubectl("get", "models", "classifier").stdout.splitlines()
    assert header.split()[:4] == ["NAME", "TASK", "LATEST", "VERSIONS"]
    assert row.split()[2:4] == ["classifier-1-0-0", "1"], "the columns come from the real server"


def test_a_worker_failure_is_reported_when_the_job_fails(ns: Namespace):
    failure = {"ok": False, "kind": "import", "phase": "Failed", "reason": "DigestMismatch",
               "message": "source s3://b/m.onnx has sha256 aaa, but spec.source.sha256 is bbb"}
    ns.stand_in("import", failure)
    ns.apply(builders.model(), builders.model_version())
    status = ns.wait_phase("modelversions", "classifier-1-0-0", "Failed")
    assert "spec.source.sha256 is bbb" in status["message"]
    assert conditions(status)["Stalled"]["reason"] == "DigestMismatch"
    job = ns.get("job", "import-classifier-1-0-0")
    assert [c["type"] for c in job["status"]["conditions"]] == ["FailureTarget", "Failed"]
    assert job["status"]["conditions"][-1]["reason"] == "PodFailurePolicy"


def test_jobs_land_on_the_node_their_hardware_profile_selects(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    targets = {"gpu": "onnx-fp16", "arm": "onnx-int8", "ascend": "ascend-om", "cpu": "onnx"}
    jobs = []
    for hardware, fmt in targets.items():
        target = {"format": fmt, "hardware": hardware}
        if fmt == "ascend-om":
            target["ascend"] = {"socVersion": "Ascend910B"}
        if fmt == "onnx-int8":
            target["quantization"] = {"mode": "dynamic"}
        jobs.append(builders.conversion_job(name=f"to-{hardware}", target=target))
    ns.stand_in("convert", converted(ns.name, "unused", "onnx", "cpu"))
    ns.apply(builders.model(), builders.model_version(), *jobs)
    nodes = {}
    for hardware in targets:
        def placed(hardware=hardware):
            out = ns.kubectl("get", "pods", "-l", f"job-name=convert-to-{hardware}",
                             "-o", "jsonpath={.items[*].spec.nodeName}").stdout.split()
            return out[0] if out else None
        nodes[hardware] = wait_until(f"the {hardware} conversion's pod to be scheduled", placed, timeout=60)
    assert nodes == {"gpu": "gpu-a100", "arm": "cpu-arm64", "ascend": "ascend-910", "cpu": "cpu-amd64"}


def test_deletion_honours_retention_and_leaves_no_finalizer(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    ns.stand_in("delete", DELETED)
    ns.apply(builders.model(retention="Delete"), builders.model_version(),
             builders.model(name="kept", retention="Retain"),
             builders.model_version(name="kept-1-0-0", modelRef={"name": "kept"}))
    for name in ("classifier-1-0-0", "kept-1-0-0"):
        ns.wait_phase("modelversions", name, "Ready")
        assert ns.read("modelversions", name)["metadata"]["finalizers"] == ["modelyard.dev/artifacts"]
    done = ns.kubectl("delete", "modelversion", "classifier-1-0-0", "kept-1-0-0", "--timeout=60s", check=False)
    assert done.returncode == 0, f"{done.stderr}\n{ns.describe()}"
    assert ns.read("modelversions", "classifier-1-0-0") is None and ns.read("modelversions", "kept-1-0-0") is None
    # The cleanup Job is gone with its owner (the garbage collector); the events stay.
    assert reasons(ns, "classifier-1-0-0") >= {"DeletingArtifacts", "ArtifactsDeleted"}, "retention Delete cleans the store"
    assert not reasons(ns, "kept-1-0-0") & {"DeletingArtifacts", "ArtifactsDeleted"}, "retention Retain keeps the artifacts"
    wait_until("the garbage collector to delete the cleanup Job", lambda: ns.names("jobs") == [], timeout=30)


def test_foreground_deletion_of_a_model_as_argo_cd_prunes(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    ns.stand_in("delete", DELETED)
    ns.apply(builders.model(retention="Delete"), builders.model_version(),
             builders.model(name="kept", retention="Retain"),
             builders.model_version(name="kept-1-0-0", modelRef={"name": "kept"}))
    for name in ("classifier-1-0-0", "kept-1-0-0"):
        ns.wait_phase("modelversions", name, "Ready")
    done = ns.kubectl("delete", "model", "classifier", "kept", "--cascade=foreground", "--timeout=90s", check=False)
    assert done.returncode == 0, f"{done.stderr}\n{ns.describe()}"
    for plural, name in (("models", "classifier"), ("models", "kept"), ("modelversions", "classifier-1-0-0"),
                         ("modelversions", "kept-1-0-0")):
        assert ns.read(plural, name) is None, f"{plural}/{name} is left behind"
    assert reasons(ns, "classifier-1-0-0") >= {"DeletingArtifacts", "ArtifactsDeleted"}
    assert not reasons(ns, "kept-1-0-0") & {"DeletingArtifacts", "ArtifactsDeleted"}


def test_delete_and_reapply_never_adopts_the_old_job_or_result(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    ns.apply(builders.model(), builders.model_version())
    first = ns.wait_phase("modelversions", "classifier-1-0-0", "Ready")
    old_job = ns.get("job", "import-classifier-1-0-0")["metadata"]["uid"]
    # Deleted and applied again at once: the old Job (owned by the old uid) may still exist.
    ns.kubectl("delete", "modelversion", "classifier-1-0-0", "--wait=true", "--timeout=60s")
    ns.stand_in("import", {**imported(ns.name), "artifact": {**imported(ns.name)["artifact"], "digest": "sha256:" + "e" * 64}})
    ns.apply(builders.model_version())
    second = ns.wait_phase("modelversions", "classifier-1-0-0", "Ready", "Failed", timeout=90)
    assert second["phase"] == "Ready", second
    assert second["artifact"]["digest"] == "sha256:" + "e" * 64 != first["artifact"]["digest"]
    job = ns.get("job", "import-classifier-1-0-0")
    version = ns.read("modelversions", "classifier-1-0-0")
    assert job["metadata"]["uid"] != old_job
    assert job["metadata"]["ownerReferences"][0]["uid"] == version["metadata"]["uid"]


def test_operator_killed_between_job_creation_and_completion_adopts_the_job(ns: Namespace):
    operator = ns.kube.operator
    ns.stand_in("import", imported(ns.name))
    ns.apply(builders.model(), builders.model_version())
    wait_until("the import Job", lambda: ns.get("job", "import-classifier-1-0-0"), timeout=30)
    operator.stop(sig=9)  # no graceful shutdown: whatever it was about to write is lost
    try:
        ns.kubectl("wait", "--for=condition=Complete", "job/import-classifier-1-0-0", "--timeout=60s")
    finally:
        operator.start()
    ns.wait_phase("modelversions", "classifier-1-0-0", "Ready")
    assert ns.names("jobs") == ["import-classifier-1-0-0"], "exactly one Job, never a duplicate"


def test_api_server_restarted_mid_pipeline_loses_no_event(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    ns.stand_in("convert", converted(ns.name, "classifier-onnx", "onnx", "cpu"))
    ns.apply(builders.model(), builders.model_version())
    ns.wait_phase("modelversions", "classifier-1-0-0", "Ready")
    ns.kube.cp.restart("kube-apiserver")
    # Applied right after the restart: the operator's watches must have resumed to see it.
    ns.apply(builders.conversion_job())
    status = ns.wait_phase("conversionjobs", "classifier-onnx", "Succeeded", timeout=120)
    assert status["outputVersion"] == "classifier-onnx"
    ns.wait_phase("modelversions", "classifier-onnx", "Ready", timeout=60)


def test_a_rejected_job_is_stalled_with_the_api_servers_message(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    resources = {"requests": {"memory": "16Gi"}, "limits": {"memory": "1Gi"}}
    ns.apply(builders.model(), builders.model_version(),
             builders.conversion_job(resources=resources))
    status = ns.wait_phase("conversionjobs", "classifier-onnx", "Failed", timeout=60)
    assert "must be less than or equal to memory limit" in status["message"], status
    assert conditions(status)["Stalled"]["status"] == "True"


def test_no_node_with_the_gpu_capacity_is_reported_within_seconds(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    resources = {"limits": {"nvidia.com/gpu": "4"}}
    ns.apply(builders.model(), builders.model_version(),
             builders.conversion_job(target={"format": "onnx-fp16", "hardware": "gpu"}, resources=resources))

    status = ns.wait_status("conversionjobs", "classifier-onnx", "why its pod cannot be scheduled",
                            lambda s: "Insufficient nvidia.com/gpu" in (s.get("message") or ""), timeout=30)
    assert status["phase"] in ("Pending", "Running")
    assert conditions(status)["Ready"]["reason"] == "Unschedulable"


def test_a_missing_secret_is_reported_within_seconds(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    client.CoreV1Api(ns.cp.api()).delete_namespaced_secret("model-store-credentials", ns.name)
    ns.apply(builders.model(), builders.model_version())

    status = ns.wait_status("modelversions", "classifier-1-0-0", "why its worker cannot start",
                            lambda s: 'secret "model-store-credentials" not found' in (s.get("message") or ""), timeout=30)
    assert conditions(status)["Ready"]["reason"] == "CreateContainerConfigError"


def test_an_image_that_cannot_be_pulled_is_reported_within_seconds(ns: Namespace):
    source = {"image": {"image": "registry.example.com/team/missing:1.0", "path": "/models/model.onnx"}}
    ns.apply(builders.model(), builders.model_version(source=source))

    status = ns.wait_status("modelversions", "classifier-1-0-0", "why its image cannot be pulled",
                            lambda s: "registry.example.com/team/missing:1.0" in (s.get("message") or ""), timeout=30)
    assert "ErrImagePull" in status["message"] or "ImagePullBackOff" in status["message"]


def test_a_missing_worker_service_account_is_reported_within_seconds(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    client.CoreV1Api(ns.cp.api()).delete_namespaced_service_account("modelyard-worker", ns.name)
    ns.apply(builders.model(), builders.model_version())

    status = ns.wait_status("modelversions", "classifier-1-0-0", "why its Job cannot create pods",
                            lambda s: 'serviceaccount "modelyard-worker" not found' in (s.get("message") or ""), timeout=30)
    assert conditions(status)["Ready"]["reason"] == "FailedCreate"


def test_the_operator_is_held_to_the_charts_rbac(ns: Namespace):
    """Its token is the chart's ServiceAccount's: what the chart does not grant, it cannot do."""
    from tests.support.controlplane import RELEASE_NAMESPACE, OPERATOR_SA

    review = client.AuthorizationV1Api(ns.cp.api()).create_subject_access_review({
        "spec": {"user": f"system:serviceaccount:{RELEASE_NAMESPACE}:{OPERATOR_SA}",
                 "resourceAttributes": {"namespace": ns.name, "verb": "delete", "group": "batch",
                                        "resource": "jobs"}}})
    assert review.status.allowed is False

    # What it is granted is enough for a whole pipeline: import, conversion, the output version.
    # (Other tests restart the API server, which answers 403 until its RBAC cache is back; only
    # this pipeline's share of the log counts.)
    mark = len(ns.kube.operator.log())
    ns.stand_in("import", imported(ns.name))
    ns.stand_in("convert", converted(ns.name, "classifier-onnx", "onnx", "cpu"))
    ns.apply(builders.model(), builders.model_version(), builders.conversion_job())
    ns.wait_phase("modelversions", "classifier-onnx", "Ready", timeout=90)
    during = ns.kube.operator.log()[mark:]
    assert "Unauthorized" not in during and " 403" not in during and "Forbidden" not in during, during


def test_a_version_without_its_model_waits_then_imports(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    ns.apply(builders.model_version())
    waiting = ns.wait_phase("modelversions", "classifier-1-0-0", "Pending")
    assert "Model 'classifier' does not exist" in waiting["message"]
    assert ns.names("jobs") == []
    ns.apply(builders.model())
    ns.wait_phase("modelversions", "classifier-1-0-0", "Ready")


def test_a_job_deleted_under_the_operator_is_reported_not_recreated(ns: Namespace):
    # No stand-in and an image that cannot be pulled: the Job stays unfinished until deleted.
    source = {"image": {"image": "registry.example.com/team/missing:1.0", "path": "/models/model.onnx"}}
    ns.apply(builders.model(), builders.model_version(source=source))
    wait_until("the import Job", lambda: ns.get("job", "import-classifier-1-0-0"), timeout=30)
    ns.kubectl("delete", "job", "import-classifier-1-0-0", "--cascade=foreground", "--timeout=60s")
    status = ns.wait_phase("modelversions", "classifier-1-0-0", "Failed", timeout=60)
    assert "was deleted before it reported a result" in status["message"]
    assert ns.get("job", "import-classifier-1-0-0") is None


def test_a_conversion_of_a_failed_version_fails_clearly(ns: Namespace):
    ns.stand_in("import", {"ok": False, "reason": "UnsafeModel", "message": "model.pkl is a pickle"})
    ns.apply(builders.model(), builders.model_version(), builders.conversion_job())
    status = ns.wait_phase("conversionjobs", "classifier-onnx", "Failed")
    assert "source ModelVersion 'classifier-1-0-0' failed" in status["message"]
    assert ns.names("jobs") == ["import-classifier-1-0-0"]


def training_job(name: str, code: int) -> dict:
    """A training Job as a user's own: it runs on the CPU node and exits with `code`."""
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{
                "name": "train", "image": "ghcr.io/modelyard/worker-cpu:test",
                "command": ["python", "-c", f"import sys; print('epoch 1 loss 0.3'); sys.exit({code})"]}]}}}}


def test_a_version_imports_a_training_jobs_output_once_it_succeeded(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    source = {"trainingJob": {"name": "train", "outputUri": "s3://cluster-store/training/out/"}}
    ns.apply(builders.model(), builders.model_version(source=source),
             builders.model_version(name="classifier-2-0-0", version="2.0.0",
                                    source={"trainingJob": {"name": "broken", "outputUri": "s3://cluster-store/x/"}}))
    waiting = ns.wait_status("modelversions", "classifier-1-0-0", "waiting for the training Job",
                             lambda s: "waiting for training Job 'train'" in s.get("message", ""))
    assert waiting["phase"] == "Pending" and ns.get("job", "import-classifier-1-0-0") is None
    ns.apply(training_job("train", 0), training_job("broken", 3))
    ready = ns.wait_phase("modelversions", "classifier-1-0-0", "Ready", timeout=90)
    assert ready["artifact"]["digest"] == DIGEST
    failed = ns.wait_phase("modelversions", "classifier-2-0-0", "Failed", timeout=90)
    assert "training Job 'broken' failed" in failed["message"], failed["message"]
    assert ns.get("job", "import-classifier-2-0-0") is None
