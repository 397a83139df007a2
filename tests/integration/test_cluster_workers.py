"""The operator on the real control plane, every Job run by the real Job controller on the node the
real scheduler picked, each pod running the real worker, artifacts in S3 on loopback."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3

from modelyard.storage.layout import verify_version
from modelyard.storage.open import open_store
from tests.support import builders
from tests.integration.test_cluster_truth import columns
from tests.support.controlplane import Kube, Namespace, wait_until
from tests.support.s3server import ACCESS_KEY, SECRET_KEY
from tests.support.sources import tiny_onnx


def upload(kube: Kube, path: Path, key: str) -> str:
    boto3.client("s3", endpoint_url=kube.s3_endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                 region_name="us-east-1").upload_file(str(path), kube.bucket, key)
    return f"s3://{kube.bucket}/{key}"


def store(kube: Kube, monkeypatch) -> object:
    for key, value in {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                       "AWS_DEFAULT_REGION": "us-east-1", "MODELYARD_S3_ENDPOINT": kube.s3_endpoint,
                       "MODELYARD_S3_ADDRESSING_STYLE": "path"}.items():
        monkeypatch.setenv(key, value)
    return open_store(kube.store_uri)


def test_import_and_a_digest_mismatch_on_the_real_cluster(ns: Namespace, tmp_path: Path, monkeypatch):
    model_file = tiny_onnx(tmp_path / "model.onnx")
    sha = hashlib.sha256(model_file.read_bytes()).hexdigest()
    uri = upload(ns.kube, model_file, f"sources/{ns.name}/model.onnx")
    ns.apply(builders.model(),
             builders.model_version(source={"uri": uri, "sha256": sha}),
             builders.model_version(name="classifier-2-0-0", version="2.0.0", source={"uri": uri, "sha256": "0" * 64}))
    ready = ns.wait_phase("modelversions", "classifier-1-0-0", "Ready", "Failed", timeout=120)
    assert ready["phase"] == "Ready", ready
    failed = ns.wait_phase("modelversions", "classifier-2-0-0", "Failed", timeout=120)
    # What a user sees: kubectl wait on the condition, the printer columns of the real server.
    ns.kubectl("wait", "--for=condition=Ready", "modelversion/classifier-1-0-0", "--timeout=10s")
    table = ns.kubectl("get", "modelversions").stdout
    assert "classifier-1-0-0" in table and "Ready" in table and "Failed" in table
    manifest, digest = verify_version(store(ns.kube, monkeypatch), f"{ns.name}/classifier/1.0.0")
    assert ready["artifact"]["digest"] == digest and manifest.files[0].sha256 == sha
    assert ready["signature"]["inputs"] == [{"name": "x", "dtype": "float32", "shape": [-1, 4]}]
    assert f"spec.source.sha256 is {'0' * 64}" in failed["message"]
    # The Job ran on the CPU node the chart's cpu profile selects, decided by the scheduler.
    pods = ns.kubectl("get", "pods", "-l", "job-name=import-classifier-1-0-0",
                      "-o", "jsonpath={.items[*].spec.nodeName}").stdout.split()
    assert pods == ["cpu-amd64"]
    for status in (ready, failed):
        assert SECRET_KEY not in str(status)


def test_quickstart_import_conversion_and_evaluation(quickstart: Namespace, monkeypatch):
    evaluation = quickstart.status("evaluationjobs", "digits-onnx-cpu-eval")
    assert evaluation["phase"] == "Succeeded" and evaluation["passed"] is True, evaluation.get("message")
    assert evaluation["results"]["accuracy"] > 0.9
    conversion = quickstart.status("conversionjobs", "digits-onnx-cpu")
    assert conversion["verification"]["passed"]
    converted = quickstart.read("modelversions", "digits-onnx-cpu")
    assert converted["metadata"]["ownerReferences"][0]["kind"] == "Model"
    quickstart.kubectl("wait", "--for=condition=Evaluated", "modelversion/digits-onnx-cpu", "--timeout=30s")
    manifest, _ = verify_version(store(quickstart.kube, monkeypatch), f"{quickstart.name}/digits/1.0.0+onnx.cpu")
    assert {f.path for f in manifest.files} >= {"1/model.onnx", "config.pbtxt", "reproduce.sh"}


def test_quickstart_training_on_the_real_cluster(quickstart: Namespace, monkeypatch):
    """The TrainingJob trained with the ClusterAlgorithm the chart installed, in a pod the real
    scheduler placed, and registered a Ready version with lineage from the data."""
    job = quickstart.status("trainingjobs", "digits-train")
    assert job["phase"] == "Succeeded", job.get("message")
    assert job["algorithm"]["name"] == "tabular-mlp" and job["hyperparameters"]["epochs"] == 40
    assert job["metrics"]["valAccuracy"]["final"] > 0.9 and job["modelVersion"] == "digits-1-0-0"
    trained = quickstart.read("modelversions", "digits-1-0-0")
    assert trained["status"]["phase"] == "Ready"
    lineage = trained["spec"]["lineage"]
    assert lineage["trainingJob"] == "digits-train" and lineage["trainingTemplate"] == "digits-mlp"
    assert len(lineage["datasets"][0]["sha256"]) == 64
    assert trained["spec"]["source"]["template"]["name"] == "tabular-mlp"
    pod_job = quickstart.kube.cp.kubectl("get", "job", "-n", quickstart.name, "train-digits-train", "-o", "json").stdout
    assert '"nodeSelector"' in pod_job and '"suspend": false' in pod_job
    opened = store(quickstart.kube, monkeypatch)
    verify_version(opened, f"{quickstart.name}/digits/1.0.0")
    assert opened.exists(f"{quickstart.name}/digits/trainings/digits-train/report.html")
    assert opened.exists(f"{quickstart.name}/digits/trainings/digits-train/checkpoints/checkpoint.pt")


BLOCKING = ("import json, os, threading; c = json.load(open(os.environ['MODELYARD_TRAIN_CONFIG']));"
            "f = open(c['metricsFile'], 'a'); f.write(json.dumps({'step': 1, 'total': 4, 'loss': 1.0}) + '\\n');"
            "f.flush(); threading.Event().wait()")


def test_a_running_training_job_reports_progress_and_is_suspended_and_resumed_by_the_job_controller(
        ns: Namespace, tmp_path: Path):
    """Progress comes from the worker's log through the API server's pods/log (the process
    kubelet serves containerLogs); suspending is the Job controller's own."""
    data = tmp_path / "train.npz"
    import numpy as np

    np.savez(data, x=np.zeros((4, 2), dtype=np.float32), y=np.zeros(4, dtype=np.int64))
    algorithm = {"apiVersion": "modelyard.dev/v1alpha1", "kind": "Algorithm", "metadata": {"name": "blocker"},
                 "spec": {"command": ["python", "-c", BLOCKING], "inputs": [{"name": "train", "formats": ["npz"]}],
                          "output": {"format": "onnx"}, "metrics": [{"name": "loss"}]}}
    job = builders.training_job("pausable", algorithmRef={"kind": "Algorithm", "name": "blocker"}, hyperparameters={},
                                inputs=[{"name": "train", "uri": data.as_uri()}], maxRuntimeSeconds=600)
    ns.apply(builders.model(), algorithm, job)

    def pods() -> list[str]:
        return ns.kubectl("get", "pods", "-l", "job-name=train-pausable", "--field-selector=status.phase=Running",
                          "-o", "jsonpath={.items[*].metadata.name}").stdout.split()

    running = ns.wait_status("trainingjobs", "pausable", "progress 1/4",
                             lambda s: (s.get("progress") or {}).get("step") == 1, timeout=120)
    assert running["phase"] == "Running" and running["progress"]["percent"] == 25.0
    assert running["progress"]["total"] == 4
    wait_until("the training pod runs", pods, timeout=60)
    (first,) = pods()
    ns.kubectl("patch", "trainingjob", "pausable", "--type=merge", "-p", '{"spec": {"suspend": true}}')
    suspended = ns.wait_phase("trainingjobs", "pausable", "Suspended", timeout=60)
    assert "its pods are stopped" in suspended["message"]
    assert suspended["progress"]["percent"] == 25.0 and suspended["progress"]["message"].startswith("suspended")
    row = columns(ns, "trainingjob", "pausable")
    assert (row["PHASE"], row["REASON"], row["PROGRESS"]) == ("Suspended", "Suspended", "25"), row
    wait_until("the Job controller deletes the suspended Job's pods", lambda: not pods(), timeout=60)
    assert ns.get("job", "train-pausable")["spec"]["suspend"] is True
    ns.kubectl("patch", "trainingjob", "pausable", "--type=merge", "-p", '{"spec": {"suspend": false}}')
    wait_until("a new pod runs the resumed Job", lambda: pods() and pods()[0] != first, timeout=60)
    assert ns.wait_phase("trainingjobs", "pausable", "Running", timeout=60)["phase"] == "Running"
    assert ns.get("job", "train-pausable")["spec"]["suspend"] is False
    said = [e["reason"] for e in ns.events("pausable") if e["reason"] in ("Suspended", "Resumed")]
    assert sorted(said) == ["Resumed", "Suspended"], said


def test_a_training_job_tensorboard_server_is_created_owned_and_garbage_collected(ns: Namespace, tmp_path: Path):
    """The operator, held to the chart's RBAC, creates the Deployment and Service; the real
    garbage collector removes them with the TrainingJob."""
    data = tmp_path / "train.npz"
    import numpy as np

    np.savez(data, x=np.zeros((4, 2), dtype=np.float32), y=np.zeros(4, dtype=np.int64))
    algorithm = {"apiVersion": "modelyard.dev/v1alpha1", "kind": "Algorithm", "metadata": {"name": "blocker"},
                 "spec": {"command": ["python", "-c", BLOCKING], "inputs": [{"name": "train", "formats": ["npz"]}],
                          "output": {"format": "onnx"}, "metrics": [{"name": "loss"}]}}
    job = builders.training_job("boarded", algorithmRef={"kind": "Algorithm", "name": "blocker"}, hyperparameters={},
                                inputs=[{"name": "train", "uri": data.as_uri()}], maxRuntimeSeconds=600,
                                tensorboard={"enabled": True, "ttlSeconds": 600})
    ns.apply(builders.model(), algorithm, job)
    status = ns.wait_status("trainingjobs", "boarded", "tensorboard running",
                            lambda s: (s.get("tensorboard") or {}).get("phase") == "Running", timeout=120)
    assert status["tensorboard"]["url"] == f"http://tensorboard-boarded.{ns.name}.svc:80/"
    uid = ns.read("trainingjobs", "boarded")["metadata"]["uid"]
    deployment, service = ns.get("deployment", "tensorboard-boarded"), ns.get("service", "tensorboard-boarded")
    for obj in (deployment, service):
        assert obj["metadata"]["ownerReferences"][0]["uid"] == uid
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MODELYARD_TENSORBOARD_PREFIX"]["value"] == f"{ns.name}/classifier/trainings/boarded/tensorboard"
    assert service["spec"]["clusterIP"]  # the real API server allocated it
    ns.kubectl("delete", "trainingjob", "boarded", "--wait=false")
    wait_until("the garbage collector deletes the TensorBoard Deployment and Service",
               lambda: ns.get("deployment", "tensorboard-boarded") is None and ns.get("service", "tensorboard-boarded") is None,
               timeout=90)


def test_the_image_and_text_presets_train_convert_and_evaluate_on_the_real_cluster(ns: Namespace, tmp_path: Path):
    """The image-cnn and text-minilm ClusterAlgorithms the chart installed train in pods the real
    scheduler placed; each trained version is converted to ONNX and the conversion evaluated,
    with lineage from the dataset's digest to the evaluation."""
    from tests.support.datasets import glyph_archive, topic_texts, write_texts

    glyphs = glyph_archive(tmp_path)
    texts = write_texts(tmp_path / "train.csv", topic_texts(90, seed=0))
    held_out = write_texts(tmp_path / "held-out.jsonl", topic_texts(45, seed=1))
    cases = {
        "glyphs": ("image-classification", "image-cnn", glyphs, {"epochs": 6, "channels": 1, "inputSize": 16},
                   {"uri": glyphs.as_uri(), "format": "imagefolder"}, 0.8),
        "topics": ("text-classification", "text-minilm", texts, {"epochs": 2, "maxLength": 32},
                   {"uri": held_out.as_uri(), "format": "text"}, 0.9),
    }
    for name, (task, algorithm, data, hyperparameters, dataset, floor) in cases.items():
        ns.apply(
            builders.model(name, task=task),
            builders.training_job(f"{name}-train", algorithmRef={"name": algorithm}, hyperparameters=hyperparameters,
                                  inputs=[{"name": "train", "uri": data.as_uri()}], output={"modelRef": {"name": name}}),
            builders.conversion_job(f"{name}-onnx", sourceRef={"name": f"{name}-train"},
                                    target={"format": "onnx", "hardware": "cpu"}),
            builders.evaluation_job(f"{name}-onnx-eval", modelVersionRef={"name": f"{name}-onnx"}, dataset=dataset,
                                    gates=[{"metric": "accuracy", "op": ">=", "value": floor}]),
        )
    for name, (_, algorithm, data, _, _, floor) in cases.items():
        evaluation = ns.wait_phase("evaluationjobs", f"{name}-onnx-eval", "Succeeded", "Failed", timeout=600)
        assert evaluation["phase"] == "Succeeded" and evaluation["passed"] is True, evaluation
        trained = ns.status("trainingjobs", f"{name}-train")
        assert trained["algorithm"]["name"] == algorithm and trained["metrics"]["valAccuracy"]["final"] >= floor
        lineage = ns.read("modelversions", f"{name}-train")["spec"]["lineage"]
        assert lineage["datasets"][0]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
        assert ns.read("modelversions", f"{name}-onnx")["status"]["phase"] == "Ready"
