"""ModelDeployment on the real control plane: the server's pod placed by the real scheduler on
its hardware profile's node, answering inference as the stored model computes; a rollout from
A to B that fails live parity (B's server runs a runtime that computes something else) and is
rolled back with A serving, then passes once the runtime is right and is promoted."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient

from modelyard.storage.layout import verify_version
from tests.integration.test_cluster_workers import store
from tests.support.controlplane import Namespace, wait_until

PERTURBED = Path(__file__).resolve().parents[1] / "support" / "perturbed_runtime"


@pytest.fixture
def perturbed() -> Iterator[Path]:
    """The broken runtime's folder where the process kubelet leaves the path alone: it stands in
    for mounts by rewriting paths under a pod's mount points (/work, /tmp)."""
    folder = Path(tempfile.mkdtemp(prefix="modelyard-perturbed-", dir="/var/tmp"))
    shutil.copy(PERTURBED / "sitecustomize.py", folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def deployment(version: str, env: list[dict[str, str]] | None = None) -> dict:
    return {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": "digits-serve"},
            "spec": {"modelRef": {"name": "digits"}, "versionRef": {"name": version}, "hardware": "cpu",
                     "backend": "builtin", "env": env or []}}


def server_pods(ns: Namespace, variant: str) -> list[dict]:
    done = ns.kubectl("get", "pods", "-l", f"modelyard.dev/deployment=digits-serve,modelyard.dev/variant={variant}",
                      "-o", "json")
    return [p for p in json.loads(done.stdout)["items"] if not p["metadata"].get("deletionTimestamp")]


def infer(pod: dict, x: np.ndarray) -> np.ndarray:
    client = grpcclient.InferenceServerClient(f"{pod['status']['podIP']}:8081")
    (name,) = [i.name for i in client.get_model_metadata("digits").inputs]
    tensor = grpcclient.InferInput(name, list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    reply = client.infer("digits", [tensor])
    return reply.as_numpy(reply.get_response().outputs[0].name)


def second_variant(ns: Namespace) -> None:
    """B: the same version converted again (its own verified artifact and parity samples), gated."""
    conversion = ns.read("conversionjobs", "digits-onnx-cpu")
    evaluation = ns.read("evaluationjobs", "digits-onnx-cpu-eval")
    spec = {**conversion["spec"], "output": {"name": "digits-onnx-cpu-b", "version": "1.0.0+onnx.cpu.b"}}
    ns.apply({"apiVersion": conversion["apiVersion"], "kind": "ConversionJob", "metadata": {"name": "digits-onnx-cpu-b"},
              "spec": spec},
             {"apiVersion": evaluation["apiVersion"], "kind": "EvaluationJob", "metadata": {"name": "digits-onnx-cpu-b-eval"},
              "spec": {**evaluation["spec"], "modelVersionRef": {"name": "digits-onnx-cpu-b"}}})


def test_serve_verify_roll_back_and_promote_on_the_real_cluster(quickstart: Namespace, monkeypatch, tmp_path: Path,
                                                                perturbed: Path):
    ns = quickstart
    second_variant(ns)
    ns.apply(deployment("digits-onnx-cpu"))
    status = ns.wait_phase("modeldeployments", "digits-serve", "Serving", "Failed", timeout=300)
    assert status["phase"] == "Serving" and status["serving"]["variant"] == "digits-onnx-cpu", status.get("message")
    assert status["parity"]["passed"] and status["parity"]["samples"] > 0
    ready = ns.wait_status("modeldeployments", "digits-serve", "a replica ready", lambda s: s.get("replicas"), timeout=60)
    assert {c["type"]: c["status"] for c in ready["conditions"]}["Ready"] == "True"
    (pod,) = server_pods(ns, "digits-onnx-cpu")
    assert pod["spec"]["nodeName"] == "cpu-amd64"  # the real scheduler, the cpu profile's selector

    # The live endpoint computes what the stored model computes.
    stored = store(ns.kube, monkeypatch)
    verify_version(stored, f"{ns.name}/digits/1.0.0+onnx.cpu")
    model_path = tmp_path / "model.onnx"
    model_path.write_bytes(stored.get_bytes(f"{ns.name}/digits/1.0.0+onnx.cpu/1/model.onnx"))
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((3, 64), dtype=np.float32)
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(infer(pod, x), expected, rtol=1e-5, atol=1e-5)

    # B behind a runtime that computes something else: parity fails, A keeps serving.
    ns.wait_phase("evaluationjobs", "digits-onnx-cpu-b-eval", "Succeeded", "Failed", timeout=300)
    ns.apply(deployment("digits-onnx-cpu-b", env=[{"name": "PYTHONPATH", "value": str(perturbed)}]))
    back = ns.wait_status("modeldeployments", "digits-serve", "B rolled back",
                          lambda s: (s.get("rejected") or {}).get("variant") == "digits-onnx-cpu-b", timeout=300)
    assert back["rejected"]["reason"] == "ParityFailed" and "differs by" in back["rejected"]["message"]
    assert back["serving"]["variant"] == "digits-onnx-cpu" and back["phase"] == "Serving"
    conditions = {c["type"]: c for c in back["conditions"]}
    assert conditions["Degraded"]["status"] == "True" and conditions["Ready"]["status"] == "True"
    wait_until("B's servers deleted", lambda: not server_pods(ns, "digits-onnx-cpu-b"), timeout=60)
    (pod,) = server_pods(ns, "digits-onnx-cpu")
    np.testing.assert_allclose(infer(pod, x), expected, rtol=1e-5, atol=1e-5)

    # The runtime fixed (a new spec): B passes parity, takes the traffic, A's servers go.
    ns.apply(deployment("digits-onnx-cpu-b"))
    promoted = ns.wait_status("modeldeployments", "digits-serve", "B serving",
                              lambda s: (s.get("serving") or {}).get("variant") == "digits-onnx-cpu-b", timeout=300)
    assert promoted["parity"]["passed"] and "rejected" not in promoted
    wait_until("A's servers deleted", lambda: not server_pods(ns, "digits-onnx-cpu"), timeout=60)
    service = json.loads(ns.kubectl("get", "service", "serve-digits-serve", "-o", "json").stdout)
    assert service["spec"]["selector"]["modelyard.dev/server"] == promoted["serving"]["server"]
    assert promoted["serving"]["server"].startswith("digits-serve-digits-onnx-cpu-b-")
    table = ns.kubectl("get", "mdep").stdout
    assert "digits-onnx-cpu-b" in table and "Serving" in table


def test_a_latest_passing_deployment_moves_when_a_newer_version_passes_its_gates(quickstart: Namespace):
    """track: LatestPassing serves the newest version with a gated variant for its hardware; a
    version 2.0.0 imported later moves it once its EvaluationJob passes, not before."""
    ns = quickstart
    evaluation = ns.read("evaluationjobs", "digits-onnx-cpu-eval")
    ns.wait_phase("evaluationjobs", "digits-onnx-cpu-eval", "Succeeded", timeout=300)
    tracking = {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": "digits-latest"},
                "spec": {"modelRef": {"name": "digits"}, "track": "LatestPassing", "hardware": "cpu", "backend": "builtin",
                         # 2.0.0 is imported, not converted: it has no recorded parity samples
                         "rollout": {"parity": "IfRecorded"}}}
    ns.apply(tracking)
    first = ns.wait_status("modeldeployments", "digits-latest", "serving 1.0.0's variant",
                           lambda s: s.get("phase") == "Serving" and s.get("replicas"), timeout=300)
    assert first["serving"]["version"] == "digits-1-0-0", first.get("message")
    artifact = ns.read("modelversions", "digits-onnx-cpu")["status"]["artifact"]["uri"]
    ns.apply({"apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelVersion", "metadata": {"name": "digits-2-0-0"},
              "spec": {"modelRef": {"name": "digits"}, "version": "2.0.0", "format": "onnx",
                       "source": {"uri": f"{artifact}1/model.onnx"}}})
    ns.wait_phase("modelversions", "digits-2-0-0", "Ready", timeout=180)
    # Ready but not gated: the deployment stays where it is
    assert ns.status("modeldeployments", "digits-latest")["serving"]["version"] == "digits-1-0-0"
    ns.apply({"apiVersion": evaluation["apiVersion"], "kind": "EvaluationJob", "metadata": {"name": "digits-2-0-0-eval"},
              "spec": {**{k: v for k, v in evaluation["spec"].items() if k != "baselineRef"},
                       "modelVersionRef": {"name": "digits-2-0-0"}}})
    moved = ns.wait_status("modeldeployments", "digits-latest", "serving 2.0.0",
                           lambda s: (s.get("serving") or {}).get("variant") == "digits-2-0-0", timeout=300)
    assert moved["parity"]["skipped"] and "no recorded parity samples" in moved["parity"]["message"]
