"""Local mode serves: the quickstart's ModelDeployment runs its server as a local process, passes
live parity and answers over REST and gRPC what onnxruntime computes on the stored INT8 model;
`local get` shows its URL and `local delete` stops the process."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from modelyard.cli import main
from modelyard.local import servers
from tests.support.quickstart import QUICKSTART, prepare, train

pytestmark = pytest.mark.integration


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def body(capsys: pytest.CaptureFixture[str], home: Path, kind: str, name: str) -> dict[str, Any]:
    code, out, err = run(capsys, "local", "get", kind, name, "-o", "json", "--home", str(home))
    assert code == 0, err
    found = json.loads(out)
    return found["items"][0] if "items" in found else found


def server_pids(home: Path) -> list[int]:
    pids = []
    for path in (home / "state" / "Deployment").rglob("*.json"):
        pid = (json.loads(path.read_text())["metadata"].get("annotations") or {}).get("modelyard.dev/local-server-pid")
        if pid:
            pids.append(int(pid))
    return pids


def gone(pid: int, deadline: float = 20.0) -> bool:
    ends = time.monotonic() + deadline
    while time.monotonic() < ends:
        if not servers.alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The quickstart applied; every server it started is killed at the end."""
    folder = tmp_path_factory.mktemp("serving")
    manifests = prepare(QUICKSTART, folder / "manifests", train(folder / "training"))
    home = folder / "home"
    try:
        # its exit code also counts the quickstart's own latency gates, which a loaded machine can fail
        main(["local", "apply", "-f", str(manifests), "--home", str(home)])
        yield home
    finally:
        for pid in server_pids(home):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


def test_the_quickstart_serves_its_int8_version(deployed: Path, capsys: pytest.CaptureFixture[str]):
    home = deployed
    dep = body(capsys, home, "mdep", "digits")
    status = dep["status"]
    assert status["phase"] == "Serving", status.get("message")
    assert status["serving"]["variant"] == "digits-int8-arm"
    assert status["parity"]["passed"] is True and status["parity"]["samples"] > 0
    assert status["url"].startswith("http://127.0.0.1:") and status["url"].endswith("/v2/models/digits")
    code, out, _ = run(capsys, "local", "get", "mdep", "--home", str(home))
    assert code == 0 and status["url"] in out


def test_the_readmes_inference_call_answers_with_predictions(deployed: Path):
    """examples/quickstart/infer.py, the README's first command's last step."""
    import subprocess
    import sys

    from tests.support.quickstart import QUICKSTART

    data = next(deployed.parent.glob("training/digits-test.npz"))
    done = subprocess.run([sys.executable, str(QUICKSTART / "infer.py"), "--home", str(deployed), "--data", str(data)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(None, 1) for line in done.stdout.splitlines() if line.startswith(("predicted", "labels")))
    predicted, labels = json.loads(lines["predicted"]), json.loads(lines["labels"])
    assert len(predicted) == len(labels) == 5
    assert sum(p == y for p, y in zip(predicted, labels, strict=True)) >= 4  # a gated model (accuracy >= 0.9) gets these right


def test_rest_and_grpc_answer_as_onnxruntime_does(deployed: Path, capsys: pytest.CaptureFixture[str]):
    import onnxruntime
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    home = deployed
    url = body(capsys, home, "mdep", "digits")["status"]["url"]
    version = body(capsys, home, "mv", "digits-int8-arm")
    artifact = Path(version["status"]["artifact"]["uri"].removeprefix("file://"))
    model = next(artifact.rglob("model.onnx"))
    grpc_port = json.loads(next((home / "state" / "Deployment").rglob("*.json")).read_text())["metadata"][
        "annotations"]["modelyard.dev/grpc-port"]
    features = np.random.default_rng(0).random((4, 64), dtype=np.float32) * 16
    expected = onnxruntime.InferenceSession(str(model)).run(["logits"], {"features": features})[0]

    rest = httpclient.InferenceServerClient(url.removeprefix("http://").split("/")[0])
    given = httpclient.InferInput("features", list(features.shape), "FP32")
    given.set_data_from_numpy(features)
    np.testing.assert_allclose(rest.infer("digits", [given]).as_numpy("logits"), expected, rtol=1e-5, atol=1e-5)

    remote = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}")
    given = grpcclient.InferInput("features", list(features.shape), "FP32")
    given.set_data_from_numpy(features)
    np.testing.assert_allclose(remote.infer("digits", [given]).as_numpy("logits"), expected, rtol=1e-5, atol=1e-5)


def test_the_live_deployment_is_evaluated_with_the_stored_versions_gates(deployed: Path, capsys, tmp_path: Path):
    """An EvaluationJob with deploymentRef: the endpoint measured on the held-out split, the
    variant it served recorded, the verdict the deployment's (the version's Evaluated condition
    stays its own evaluation's)."""
    import yaml

    home = deployed
    data = next(deployed.parent.glob("training/digits-test.npz"))
    live = {"apiVersion": "modelyard.dev/v1alpha1", "kind": "EvaluationJob", "metadata": {"name": "digits-live-eval"},
            "spec": {"deploymentRef": {"name": "digits"}, "dataset": {"uri": data.resolve().as_uri(), "format": "npz"},
                     "batchSize": 64, "gates": [{"metric": "accuracy", "op": ">=", "value": 0.9}]}}
    manifest = tmp_path / "live.yaml"
    manifest.write_text(yaml.safe_dump(live))
    before = body(capsys, home, "mv", "digits-int8-arm")["status"]["conditions"]
    run(capsys, "local", "apply", "-f", str(manifest), "--home", str(home))
    status = body(capsys, home, "evj", "digits-live-eval")["status"]
    assert status["phase"] == "Succeeded" and status["passed"] is True, status.get("message")
    assert status["evaluatedVersion"] == "digits-int8-arm" and status["endpoint"].startswith("http://127.0.0.1:")
    assert status["results"]["accuracy"] >= 0.9
    stored = body(capsys, home, "evj", "digits-int8-arm-eval")["status"]["results"]["accuracy"]
    assert abs(status["results"]["accuracy"] - stored) < 1e-9  # the live endpoint computes what was evaluated
    assert body(capsys, home, "mv", "digits-int8-arm")["status"]["conditions"] == before


def test_reapplying_keeps_the_running_server(deployed: Path, capsys: pytest.CaptureFixture[str]):
    home = deployed
    before = body(capsys, home, "mdep", "digits")["status"]["url"]
    pids = server_pids(home)
    manifests = home.parent / "manifests"
    run(capsys, "local", "apply", "-f", str(manifests), "--home", str(home))
    assert body(capsys, home, "mdep", "digits")["status"]["url"] == before
    assert server_pids(home) == pids and all(servers.alive(p) for p in pids)


def test_deleting_the_deployment_stops_its_server(deployed: Path, capsys: pytest.CaptureFixture[str]):
    home = deployed
    pids = server_pids(home)
    assert pids
    code, out, err = run(capsys, "local", "delete", "mdep", "digits", "--home", str(home))
    assert code == 0, err
    assert all(gone(pid) for pid in pids)
    assert not list((home / "state" / "Deployment").rglob("*.json"))

