"""The operator (Kopf) against the kmock API emulator, with a test kubelet that completes Jobs
with given worker results (the real workers run in test_operator_workers.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import kmock
from kubernetes import client

from modelyard.config import Settings
from tests.support import builders
from tests.support.cluster import declare_resources, running_cluster


DIGEST = "sha256:" + "a" * 64
IMPORTED = {
    "ok": True, "kind": "import", "phase": "Ready", "reason": "Imported", "message": "imported 1 file(s)",
    "artifact": {"uri": "s3://models/default/classifier/1.0.0/", "digest": DIGEST, "sizeBytes": 12,
                 "files": [{"path": "model.onnx", "sizeBytes": 12, "sha256": "b" * 64}]},
    "signature": {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}],
                  "outputs": [{"name": "y", "dtype": "float32", "shape": [-1, 3]}]},
}
CONVERTED = {
    "ok": True, "kind": "convert", "phase": "Succeeded", "reason": "Converted", "message": "converted",
    "outputVersion": {"name": "classifier-int8-arm", "version": "1.0.0+onnx-int8.arm", "format": "onnx", "hardware": "arm"},
    "artifact": {"uri": "s3://models/default/classifier/1.0.0+onnx-int8.arm/", "digest": "sha256:" + "c" * 64,
                 "sizeBytes": 5, "files": [{"path": "model.onnx", "sizeBytes": 5, "sha256": "d" * 64}]},
    "verification": {"passed": True, "maxAbsDiff": 0.01, "maxRelDiff": 0.02, "top1Agreement": 1.0, "outputs": []},
    "benchmark": {"speedupBatch1": 1.4},
}


def evaluated(passed: bool) -> dict:
    return {"ok": True, "kind": "evaluate", "phase": "Succeeded", "passed": passed,
            "reason": "GatesPassed" if passed else "GatesFailed",
            "message": "accuracy 0.97 >= 0.95" if passed else "accuracy 0.80 < 0.95",
            "metrics": {"accuracy": 0.97 if passed else 0.80},
            "gates": [{"metric": "accuracy", "op": ">=", "value": 0.95, "actual": 0.97 if passed else 0.8, "passed": passed}],
            "reportUri": "s3://models/default/classifier/evaluations/eval/"}


def settings() -> Settings:
    return Settings(store_uri="s3://models", resync_seconds=0.5)


def phase_is(cluster, kind, name, phase):
    return lambda: cluster.status(kind, name).get("phase") == phase and cluster.status(kind, name)


async def test_model_version_becomes_ready_through_its_import_job(tmp_path: Path):
    async with running_cluster(settings(), tmp_path, results={"import": IMPORTED}) as cluster:
        await cluster.apply(builders.model())
        await cluster.apply(builders.model_version())
        status = await cluster.wait_for("a Ready version", phase_is(cluster, "ModelVersion", "classifier-1-0-0", "Ready"))
        assert status["artifact"]["digest"] == DIGEST
        assert {c["type"]: c["status"] for c in status["conditions"]} == {"Ready": "True"}
        assert cluster.names("jobs") == ["import-classifier-1-0-0"]
        latest = await cluster.wait_for("the Model's latest version", lambda: cluster.status("Model", "classifier").get("latestReadyVersion"))
        assert latest == "classifier-1-0-0"


async def test_full_pipeline_conversion_then_evaluations_passed_and_failed(tmp_path: Path):
    results = {"import": IMPORTED, "convert": CONVERTED, "evaluate": evaluated(True)}
    async with running_cluster(settings(), tmp_path, results=results) as cluster:
        # Applied in the "wrong" order: the jobs wait for the version to become Ready.
        await cluster.apply(builders.conversion_job(name="classifier-int8-arm", target={"format": "onnx-int8", "hardware": "arm"}))
        await cluster.apply(builders.model())
        await cluster.apply(builders.model_version())
        conversion = await cluster.wait_for("the conversion", phase_is(cluster, "ConversionJob", "classifier-int8-arm", "Succeeded"))
        assert conversion["outputVersion"] == "classifier-int8-arm"
        assert conversion["benchmark"]["speedupBatch1"] == 1.4
        output = await cluster.wait_for("the output version", phase_is(cluster, "ModelVersion", "classifier-int8-arm", "Ready"))
        assert output["hardware"] == "arm" and output["artifact"]["digest"] == "sha256:" + "c" * 64
        created = cluster.get("ModelVersion", "classifier-int8-arm")
        assert created["spec"]["lineage"] == {"parentVersion": "classifier-1-0-0", "conversionJob": "classifier-int8-arm"}
        assert created["metadata"]["ownerReferences"][0]["kind"] == "Model"
        await cluster.apply(builders.evaluation_job(name="eval", modelVersionRef={"name": "classifier-int8-arm"}))
        verdict = await cluster.wait_for("the evaluation", phase_is(cluster, "EvaluationJob", "eval", "Succeeded"))
        assert verdict["passed"] is True and verdict["results"] == {"accuracy": 0.97}
        evaluated_version = await cluster.wait_for(
            "the verdict on the version",
            lambda: [c for c in cluster.status("ModelVersion", "classifier-int8-arm").get("conditions", []) if c["type"] == "Evaluated"])
        assert evaluated_version[0]["status"] == "True" and evaluated_version[0]["reason"] == "GatesPassed"
        assert sorted(cluster.names("jobs")) == ["convert-classifier-int8-arm", "evaluate-eval", "import-classifier-1-0-0"]
    failing = {"import": IMPORTED, "evaluate": evaluated(False)}
    async with running_cluster(settings(), tmp_path, results=failing) as cluster:
        await cluster.apply(builders.model())
        await cluster.apply(builders.model_version())
        await cluster.apply(builders.evaluation_job(name="eval"))
        verdict = await cluster.wait_for("the failed gates", phase_is(cluster, "EvaluationJob", "eval", "Succeeded"))
        assert verdict["passed"] is False
        conditions = await cluster.wait_for(
            "the verdict on the version",
            lambda: [c for c in cluster.status("ModelVersion", "classifier-1-0-0").get("conditions", []) if c["type"] == "Evaluated"])
        assert conditions[0]["status"] == "False" and "accuracy 0.80 < 0.95" in conditions[0]["message"]


async def test_worker_failure_is_recorded_with_its_message(tmp_path: Path):
    failure = {"ok": False, "kind": "import", "phase": "Failed", "reason": "DigestMismatch",
               "message": "source s3://b/m.onnx has sha256 aaa, but spec.source.sha256 is bbb"}
    async with running_cluster(settings(), tmp_path, results={"import": failure}) as cluster:
        await cluster.apply(builders.model())
        await cluster.apply(builders.model_version())
        status = await cluster.wait_for("the failure", phase_is(cluster, "ModelVersion", "classifier-1-0-0", "Failed"))
        assert "spec.source.sha256 is bbb" in status["message"]
        assert {c["type"]: c["reason"] for c in status["conditions"]}["Stalled"] == "DigestMismatch"


async def test_conversion_of_a_failed_version_fails_clearly(tmp_path: Path):
    failure = {"ok": False, "reason": "UnsafeModel", "message": "model.pkl is a pickle"}
    async with running_cluster(settings(), tmp_path, results={"import": failure}) as cluster:
        await cluster.apply(builders.model())
        await cluster.apply(builders.model_version())
        await cluster.apply(builders.conversion_job())
        status = await cluster.wait_for("the conversion to fail", phase_is(cluster, "ConversionJob", "classifier-onnx", "Failed"))
        assert "source ModelVersion 'classifier-1-0-0' failed" in status["message"]
        assert cluster.names("jobs") == ["import-classifier-1-0-0"]


async def test_operator_restart_between_job_creation_and_completion_adopts_the_job(tmp_path: Path):
    async with kmock.KubernetesEmulator() as emulator:
        declare_resources(emulator)
        async with running_cluster(settings(), tmp_path, hold=True, emulator=emulator) as cluster:
            await cluster.apply(builders.model())
            await cluster.apply(builders.model_version())
            await cluster.wait_for("the import Job", lambda: cluster.names("jobs"))
        # The first operator is gone; the Job is still pending. A new operator starts.
        async with running_cluster(settings(), tmp_path, results={"import": IMPORTED}, emulator=emulator) as cluster:
            await cluster.wait_for("a Ready version", phase_is(cluster, "ModelVersion", "classifier-1-0-0", "Ready"))
            assert cluster.names("jobs") == ["import-classifier-1-0-0"], "exactly one Job, never a duplicate"


async def test_model_version_without_model_waits_then_imports(tmp_path: Path):
    async with running_cluster(settings(), tmp_path, results={"import": IMPORTED}) as cluster:
        await cluster.apply(builders.model_version())
        waiting = await cluster.wait_for("the wait", phase_is(cluster, "ModelVersion", "classifier-1-0-0", "Pending"))
        assert "Model 'classifier' does not exist" in waiting["message"]
        assert cluster.names("jobs") == []
        await cluster.apply(builders.model())
        await cluster.wait_for("a Ready version", phase_is(cluster, "ModelVersion", "classifier-1-0-0", "Ready"))


async def test_training_job_source_waits_for_the_training_job(tmp_path: Path):
    source = {"trainingJob": {"name": "train-7", "outputUri": "s3://out/model.onnx"}}
    async with running_cluster(settings(), tmp_path, results={"import": IMPORTED}) as cluster:
        await cluster.apply(builders.model())
        await cluster.apply(builders.model_version(source=source))
        waiting = await cluster.wait_for("the wait", phase_is(cluster, "ModelVersion", "classifier-1-0-0", "Pending"))
        assert "waiting for training Job 'train-7'" in waiting["message"]
        cluster.emulator.objects["batch/v1/jobs", "default", "train-7"] = {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "train-7", "namespace": "default"},
            "spec": {}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
        await cluster.wait_for("a Ready version", phase_is(cluster, "ModelVersion", "classifier-1-0-0", "Ready"))


async def test_invalid_object_is_stalled_with_the_api_server_message(tmp_path: Path):
    async with running_cluster(settings(), tmp_path, results={"import": IMPORTED}) as cluster:
        # kmock has no CRD validation; a real API server would have refused this.
        await cluster.apply(builders.model_version(version="1.0"))
        status = await cluster.wait_for("the stall", phase_is(cluster, "ModelVersion", "classifier-1-0-0", "Failed"))
        assert "spec.version" in status["message"] and "semantic version" in status["message"]
        assert cluster.names("jobs") == []


async def test_deletion_honours_retention(tmp_path: Path):
    from modelyard.api import GROUP, VERSION

    deleted = {"ok": True, "kind": "delete", "phase": "Succeeded", "message": "deleted 3 object(s)"}
    async with running_cluster(settings(), tmp_path, results={"import": IMPORTED, "delete": deleted}) as cluster:
        await cluster.apply(builders.model(retention="Delete"))
        await cluster.apply(builders.model_version())
        await cluster.apply(builders.model(name="kept", retention="Retain"))
        await cluster.apply(builders.model_version(name="kept-1-0-0", modelRef={"name": "kept"}))
        for name in ("classifier-1-0-0", "kept-1-0-0"):
            await cluster.wait_for(f"{name} Ready", phase_is(cluster, "ModelVersion", name, "Ready"))
            assert cluster.get("ModelVersion", name)["metadata"]["finalizers"] == ["modelyard.dev/artifacts"]
        api = cluster.custom()
        for name in ("classifier-1-0-0", "kept-1-0-0"):
            await asyncio.to_thread(api.delete_namespaced_custom_object, GROUP, VERSION, "default", "modelversions", name)
        await cluster.wait_for("both versions gone", lambda: cluster.get("ModelVersion", "classifier-1-0-0") is None
                               and cluster.get("ModelVersion", "kept-1-0-0") is None)
        assert "delete-classifier-1-0-0" in cluster.names("jobs"), "retention Delete cleans the store"
        assert "delete-kept-1-0-0" not in cluster.names("jobs"), "retention Retain keeps the artifacts"
        # Deleting a Model deletes its versions first.
        await cluster.apply(builders.model_version(name="classifier-2-0-0", version="2.0.0"))
        await cluster.wait_for("the new version", phase_is(cluster, "ModelVersion", "classifier-2-0-0", "Ready"))
        await asyncio.to_thread(api.delete_namespaced_custom_object, GROUP, VERSION, "default", "models", "classifier")
        await cluster.wait_for("model and version gone", lambda: cluster.get("Model", "classifier") is None
                               and cluster.get("ModelVersion", "classifier-2-0-0") is None)


async def test_job_deleted_under_the_operator_is_reported_not_recreated(tmp_path: Path):
    async with running_cluster(settings(), tmp_path, hold=True) as cluster:
        await cluster.apply(builders.model())
        await cluster.apply(builders.model_version())
        await cluster.wait_for("the import Job", lambda: cluster.names("jobs"))
        batch = client.BatchV1Api(cluster.api)
        await asyncio.to_thread(batch.delete_namespaced_job, "import-classifier-1-0-0", "default")
        status = await cluster.wait_for("the report", phase_is(cluster, "ModelVersion", "classifier-1-0-0", "Failed"))
        assert "was deleted before it reported a result" in status["message"]
        assert cluster.get_job("import-classifier-1-0-0") is None
