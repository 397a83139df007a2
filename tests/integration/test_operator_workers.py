"""The operator with the test kubelet running the real worker command, against S3 on loopback."""

from __future__ import annotations

import hashlib
from pathlib import Path

from modelyard.config import Settings
from modelyard.manifests import load
from modelyard.storage.layout import verify_version
from modelyard.storage.open import open_store
from tests.support import builders
from tests.support.cluster import running_cluster
from tests.support.s3server import SECRET_KEY
from tests.support.quickstart import QUICKSTART, prepare, train
from tests.support.sources import tiny_onnx


def settings(bucket: str, endpoint: str) -> Settings:
    return Settings(store_uri=f"s3://{bucket}/store", resync_seconds=0.5,
                    s3={"endpoint": endpoint, "addressing_style": "path", "max_attempts": 2})


async def test_real_import_into_s3_and_a_real_failure(tmp_path: Path, bucket: str, s3_env):
    model_file = tiny_onnx(tmp_path / "src" / "model.onnx")
    sha = hashlib.sha256(model_file.read_bytes()).hexdigest()
    # Credentials reach the worker as the Job's environment would carry them from a Secret.
    kubelet_env = {"AWS_ACCESS_KEY_ID": "AKIAMODELYARDTEST", "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                   "AWS_DEFAULT_REGION": "us-east-1"}
    async with running_cluster(settings(bucket, s3_env.endpoint), tmp_path, kubelet_env=kubelet_env) as cluster:
        await cluster.apply(builders.model())
        await cluster.apply(builders.model_version(source={"uri": f"file://{model_file}", "sha256": sha}))
        await cluster.apply(builders.model_version(name="classifier-2-0-0", version="2.0.0",
                                                   source={"uri": f"file://{model_file}", "sha256": "0" * 64}))
        ready = await cluster.wait_for(
            "the real import", lambda: cluster.status("ModelVersion", "classifier-1-0-0").get("phase") == "Ready"
            and cluster.status("ModelVersion", "classifier-1-0-0"), timeout=120)
        failed = await cluster.wait_for(
            "the digest mismatch", lambda: cluster.status("ModelVersion", "classifier-2-0-0").get("phase") == "Failed"
            and cluster.status("ModelVersion", "classifier-2-0-0"), timeout=120)
    store = open_store(f"s3://{bucket}/store")
    manifest, digest = verify_version(store, "default/classifier/1.0.0")
    assert ready["artifact"]["digest"] == digest
    assert ready["artifact"]["uri"] == f"s3://{bucket}/store/default/classifier/1.0.0/"
    assert ready["signature"]["inputs"] == [{"name": "x", "dtype": "float32", "shape": [-1, 4]}]
    assert ready["inspection"]["opTypes"] == ["Add", "MatMul"]
    assert manifest.files[0].sha256 == sha
    assert f"spec.source.sha256 is {'0' * 64}" in failed["message"]
    assert store.list("default/classifier/2.0.0") == [], "a failed import leaves nothing behind"
    for status in (ready, failed):
        assert SECRET_KEY not in str(status)


async def test_real_import_conversion_and_evaluation_through_the_operator(tmp_path: Path, bucket: str, s3_env):
    """The quickstart's first path on the operator: every Job runs the real worker."""
    trained = train(tmp_path / "training")
    manifests = prepare(QUICKSTART, tmp_path / "manifests", trained)
    docs = {d.body["metadata"]["name"]: d.body for d in load([manifests])}
    kubelet_env = {"AWS_ACCESS_KEY_ID": "AKIAMODELYARDTEST", "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                   "AWS_DEFAULT_REGION": "us-east-1"}
    async with running_cluster(settings(bucket, s3_env.endpoint), tmp_path, kubelet_env=kubelet_env) as cluster:
        for name in ("digits", "digits-1-0-0", "digits-onnx-cpu", "digits-onnx-cpu-eval"):
            await cluster.apply(docs[name])
        evaluation = await cluster.wait_for(
            "the evaluation", lambda: cluster.status("EvaluationJob", "digits-onnx-cpu-eval").get("phase")
            in ("Succeeded", "Failed") and cluster.status("EvaluationJob", "digits-onnx-cpu-eval"), timeout=240)
        conversion = cluster.status("ConversionJob", "digits-onnx-cpu")
        converted = cluster.get("ModelVersion", "digits-onnx-cpu")
        model = await cluster.wait_for(
            "the model's status", lambda: len(cluster.status("Model", "digits").get("versions") or []) == 2
            and cluster.status("Model", "digits"), timeout=60)
    assert evaluation["phase"] == "Succeeded" and evaluation["passed"] is True, evaluation.get("message")
    assert evaluation["results"]["accuracy"] > 0.9
    assert evaluation["reportUri"] == f"s3://{bucket}/store/default/digits/evaluations/digits-onnx-cpu-eval/"
    assert conversion["verification"]["passed"] and conversion["benchmark"]["output"]["latencyP50MsBatch1"] > 0
    assert converted["metadata"]["ownerReferences"][0]["kind"] == "Model"
    assert converted["spec"]["lineage"] == {"parentVersion": "digits-1-0-0", "conversionJob": "digits-onnx-cpu"}
    conditions = {c["type"]: c["status"] for c in converted["status"]["conditions"]}
    assert conditions["Ready"] == "True" and conditions["Evaluated"] == "True"
    assert model["phase"] == "Ready"
    store = open_store(f"s3://{bucket}/store")
    manifest, _ = verify_version(store, "default/digits/1.0.0+onnx.cpu")
    assert {f.path for f in manifest.files} >= {"1/model.onnx", "config.pbtxt", "reproduce.sh"}
    assert "report.html" in {k.rsplit("/", 1)[-1] for k in store.list("default/digits/evaluations/digits-onnx-cpu-eval")}
