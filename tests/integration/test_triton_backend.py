"""The triton backend against a real KServe v2 server on loopback gives the same metrics as
onnxruntime in-process.

The server is kserve's ModelServer wrapping onnxruntime. kserve needs protobuf<7, so it lives
in its own virtual environment: MODELYARD_KSERVE_PYTHON names one, else the first run builds
`.venv-kserve/` at the repository root (about 40 s, from the same package index as the rest)
and later runs reuse it. A failed build fails the tests: CI must not go green by skipping them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from modelyard.storage.fs import FileStore
from modelyard.worker.evaluate import run_evaluate
from modelyard.worker.evaluate.errors import EvaluationError
from tests.support import evaluation as ev
from tests.support.s3server import free_port

KSERVE_VENV = Path(__file__).resolve().parents[2] / ".venv-kserve"
# Pinned to what the test was proven with, so that a new kserve release cannot turn CI red.
KSERVE_PACKAGES = ("kserve==0.21.0", "onnxruntime==1.32.0", "numpy==2.4.6")


def kserve_python() -> str:
    """A python that has kserve (MODELYARD_KSERVE_PYTHON, or a venv built once and reused)."""
    named = os.environ.get("MODELYARD_KSERVE_PYTHON")
    if named:
        return named
    python = KSERVE_VENV / "bin" / "python"
    check = [str(python), "-c", "import kserve, onnxruntime, numpy"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return str(python)
    steps = ([sys.executable, "-m", "venv", "--clear", str(KSERVE_VENV)],
             [str(python), "-m", "pip", "install", "--quiet", *KSERVE_PACKAGES], check)
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"could not build the KServe venv ({' '.join(step)}): {done.stderr[-2000:]}; "
                        "or set MODELYARD_KSERVE_PYTHON to a python with kserve, onnxruntime and numpy")
    return str(python)

SERVER = '''
import os, uuid
import onnxruntime as ort
from kserve import Model, ModelServer
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

V2 = {"tensor(float)": "FP32", "tensor(int64)": "INT64", "tensor(int32)": "INT32", "tensor(double)": "FP64"}


class OnnxModel(Model):
    def __init__(self, name, path):
        super().__init__(name)
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.ready = True

    @staticmethod
    def _types(args):
        return [{"name": a.name, "datatype": V2[a.type], "shape": [d if isinstance(d, int) else -1 for d in a.shape]}
                for a in args]

    def get_input_types(self):
        return self._types(self.session.get_inputs())

    def get_output_types(self):
        return self._types(self.session.get_outputs())

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        feed = {tensor.name: tensor.as_numpy() for tensor in payload.inputs}
        wanted = {o.name: o.binary_data for o in (payload.request_outputs or [])}
        outputs = []
        for arg, value in zip(self.session.get_outputs(), self.session.run(None, feed)):
            if wanted and arg.name not in wanted:
                continue
            output = InferOutput(name=arg.name, shape=list(value.shape), datatype=V2[arg.type])
            output.set_data_from_numpy(value, binary_data=bool(wanted.get(arg.name, False)))
            outputs.append(output)
        return InferResponse(model_name=self.name, infer_outputs=outputs, response_id=payload.id or str(uuid.uuid4()))


ModelServer(http_port=int(os.environ["HTTP_PORT"]), grpc_port=int(os.environ["GRPC_PORT"]), workers=1).start(
    [OnnxModel(os.environ["MODEL_NAME"], os.environ["MODEL_PATH"])])
'''

STARTUP_DEADLINE_S = 60


@pytest.fixture(scope="module")
def kserve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A KServe v2 server serving the digits classifier as `digits`; yields its URL."""
    folder = tmp_path_factory.mktemp("kserve")
    model = ev.mlp_onnx(ev.classifier(), folder / "model.onnx")
    (folder / "server.py").write_text(SERVER)
    port = free_port()
    env = {**os.environ, "MODEL_NAME": "digits", "MODEL_PATH": str(model), "HTTP_PORT": str(port),
           "GRPC_PORT": str(free_port())}
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen([kserve_python(), str(folder / "server.py")], env=env, stdout=log,
                              stderr=subprocess.STDOUT, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"the KServe server exited: {(folder / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/v2/models/digits/ready", timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"the KServe server was not ready in {STARTUP_DEADLINE_S} s")
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


QUALITY = ("accuracy", "top5", "precision", "recall", "f1")


def test_served_model_gives_the_same_metrics_as_onnxruntime(kserve: str, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    data = ev.digits()
    dataset = ev.write_npz(tmp_path / "test.npz", x=data.x_test, y=data.y_test)
    version = ev.publish(store, ev.mlp_onnx(ev.classifier(), tmp_path / "model.onnx"), "1.0.0")
    local = run_evaluate(ev.job(store, tmp_path / "a", version, ev.spec(f"file://{dataset}"), name="local"))
    served_spec = ev.spec(f"file://{dataset}", backend={"type": "triton", "url": kserve, "modelName": "digits"},
                          gates=[{"metric": "accuracy", "op": ">=", "value": 0.9}])
    served = run_evaluate(ev.job(store, tmp_path / "b", version, served_spec, name="served"))
    assert {k: served["metrics"][k] for k in QUALITY} == pytest.approx({k: local["metrics"][k] for k in QUALITY},
                                                                       abs=1e-12)
    assert served["passed"] and served["metrics"]["sizeBytes"] == local["metrics"]["sizeBytes"]
    assert served["metrics"]["latencyP50Ms"] > 0


def test_wrong_model_name_on_a_real_server(kserve: str, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    version = ev.publish(store, ev.mlp_onnx(ev.classifier(), tmp_path / "model.onnx"), "1.0.0")
    dataset = ev.write_npz(tmp_path / "test.npz", x=ev.digits().x_test, y=ev.digits().y_test)
    spec = ev.spec(f"file://{dataset}", backend={"type": "triton", "url": kserve, "modelName": "resnet"})
    with pytest.raises(EvaluationError, match="does not serve a ready model named 'resnet'") as error:
        run_evaluate(ev.job(store, tmp_path / "w", version, spec))
    assert error.value.reason == "ModelNotServed"
