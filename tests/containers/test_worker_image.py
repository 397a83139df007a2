"""The worker-cpu image, run as the operator's Jobs run it: the Job manifests come from
modelyard.workloads.jobs (command, env with the store settings and the credentials' secretKeyRefs,
the /work and /tmp emptyDirs, the restricted securityContext), and containerd/runc runs them
against a real S3 server on loopback."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from modelyard.api.validation import parse_manifest
from modelyard.config import Settings
from modelyard.storage.config import S3Settings
from modelyard.storage.layout import verify_version
from modelyard.storage.s3 import S3Store
from modelyard.workloads.jobs import build_conversion_job, build_evaluation_job, build_import_job
from modelyard.workloads.profiles import default_profiles
from tests.containers.conftest import Built, Containerd, PodSpec, empty_dir
from tests.support import builders
from tests.support.s3server import ACCESS_KEY, SECRET_KEY, S3Server
from tests.support.sources import tiny_onnx

pytestmark = pytest.mark.containers

NAMESPACE = "team-a"
SECRET = "store-credentials"
SECRETS = {SECRET: {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}}
RUN_TIMEOUT_S = 300


def resource(body: dict[str, Any]) -> Any:
    body["metadata"].update(namespace=NAMESPACE, uid=str(uuid.uuid4()))
    return parse_manifest(body)


def run_job(containerd: Containerd, image: Built, job: dict[str, Any], folder: Path) -> tuple[dict[str, Any], str]:
    """The Job's worker container, with its emptyDirs as fresh folders and a termination-log
    file; returns the result it wrote there and its output."""
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {v["name"]: empty_dir(folder / v["name"]) for v in pod["volumes"] if "emptyDir" in v}
    termination = folder / "termination-log"
    termination.touch(mode=0o666)
    termination.chmod(0o666)
    spec = PodSpec.from_container(container, volumes, SECRETS)
    spec.mounts.append((termination, container["terminationMessagePath"], False))
    done = containerd.run(image.reference, f"{job['metadata']['name']}-{uuid.uuid4().hex[:6]}", spec,
                          timeout=RUN_TIMEOUT_S)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"the worker exited {done.returncode}:\n{output[-4000:]}"
    return json.loads(termination.read_text()), output


def test_the_worker_image_imports_converts_and_evaluates_an_onnx_model_with_the_jobs_security_context(
        containerd: Containerd, worker_image: Built, s3_server: S3Server, tmp_path: Path) -> None:
    bucket = f"containers-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint, aws_access_key_id=ACCESS_KEY,
                      aws_secret_access_key=SECRET_KEY, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    onnx_file = tiny_onnx(tmp_path / "model.onnx")
    s3.upload_file(str(onnx_file), bucket, "runs/1/model.onnx")
    # A holdout set the model classifies perfectly: labels are its own argmax.
    import onnx
    from onnx import numpy_helper

    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(onnx_file)).graph.initializer}
    x = np.random.default_rng(1).standard_normal((64, 4)).astype(np.float32)
    y = np.argmax(x @ weights["W"] + weights["b"], axis=1).astype(np.int64)
    np.savez(tmp_path / "holdout.npz", x=x, y=y)
    s3.upload_file(str(tmp_path / "holdout.npz"), bucket, "datasets/holdout.npz")

    settings = Settings(s3={"addressing_style": "path"})
    model = resource(builders.model(storage={"uri": f"s3://{bucket}/store", "endpoint": s3_server.endpoint,
                                             "secretRef": {"name": SECRET}}))
    version = resource(builders.model_version(source={"uri": f"s3://{bucket}/runs/1/model.onnx"}))
    profiles = default_profiles()

    result, output = run_job(containerd, worker_image, build_import_job(version, model, profiles, settings),
                             tmp_path / "import")
    assert (result["ok"], result["phase"], result["reason"]) == (True, "Ready", "Imported"), output[-3000:]
    assert SECRET_KEY not in output, "the store secret never reaches the logs"
    store = S3Store(bucket, "store", S3Settings(endpoint=s3_server.endpoint, addressing_style="path"), client=s3)
    manifest, digest = verify_version(store, f"{NAMESPACE}/classifier/1.0.0")
    assert result["artifact"]["digest"] == digest
    assert [f.path for f in manifest.files] == ["model.onnx"]

    # ONNX -> ONNX INT8 (onnxruntime's quantizer, verified against the source): no torch needed.
    conversion = resource(builders.conversion_job(target={"format": "onnx-int8", "hardware": "cpu"}))
    result, output = run_job(containerd, worker_image,
                             build_conversion_job(conversion, version, model, profiles, settings), tmp_path / "convert")
    assert result["ok"] and result["phase"] == "Succeeded", output[-3000:]
    converted = result["outputVersion"]
    assert converted["format"] == "onnx-int8" or converted["version"].endswith("onnx-int8.cpu"), converted

    evaluation = resource(builders.evaluation_job(
        dataset={"uri": f"s3://{bucket}/datasets/holdout.npz", "format": "npz"},
        gates=[{"metric": "accuracy", "op": ">=", "value": 0.99}]))
    result, output = run_job(containerd, worker_image,
                             build_evaluation_job(evaluation, version, model, profiles, settings), tmp_path / "evaluate")
    assert result["ok"] and result["passed"], output[-3000:]
    assert result["reportUri"].startswith(f"s3://{bucket}/store/"), result
    # The report's plots ran matplotlib as uid 65532: its cache went to the /tmp emptyDir
    # (MPLCONFIGDIR in the image), not to a temporary folder made again by every process.
    fonts = list((tmp_path / "evaluate" / "tmp" / "matplotlib").glob("fontlist-*.json"))
    assert fonts and fonts[0].stat().st_uid == 65532, "matplotlib's cache is in /tmp/matplotlib, written by 65532"
    assert "Matplotlib created a temporary cache directory" not in output
