"""`python -m modelyard.worker parity`: a conversion's recorded samples replayed against live
servers; it passes against a faithful server and names the output and the difference against
one whose runtime computes something else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelyard.api.modelversion import ModelVersion
from modelyard.api.validation import parse_object
from modelyard.storage.fs import FileStore
from modelyard.worker.__main__ import main
from modelyard.worker.convert import run_convert
from tests.support import builders
from tests.unit.worker.convert import models as m
from tests.unit.worker.serve.conftest import ROOT, free_port, version_json

PERTURB = """\
import onnxruntime

_run = onnxruntime.InferenceSession.run


def run(self, output_names, input_feed, run_options=None):
    # a broken runtime, arranged by the test: every float output is off by 0.25
    return [o + 0.25 if o.dtype.kind == "f" else o for o in _run(self, output_names, input_feed, run_options)]


onnxruntime.InferenceSession.run = run
"""


def _has_bf16() -> bool:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return "avx512_bf16" in flags or "amx_bf16" in flags


def converted(store: FileStore, workdir: Path, source: ModelVersion, format: str) -> ModelVersion:
    """The source converted to `format` (recording its parity samples) and the output
    ModelVersion as the operator creates it."""
    result = run_convert(m.job(store, workdir, source, m.spec(format)))
    body = builders.model_version(f"net-{format}", modelRef={"name": m.MODEL}, version=result["outputVersion"]["version"],
                                  format=format, signature=result["signature"])
    body["metadata"]["namespace"] = m.NAMESPACE
    return parse_object(body)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def conversions(tmp_path_factory: pytest.TempPathFactory) -> tuple[FileStore, dict[str, ModelVersion]]:
    folder = tmp_path_factory.mktemp("parity")
    store = FileStore(folder / "store")
    source = m.publish(store, "mlp")
    return store, {fmt: converted(store, folder / fmt, source, fmt) for fmt in ("onnx", "openvino")}


def parity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: FileStore, version: ModelVersion,
           *endpoints: str, extra: tuple[str, ...] = ()) -> tuple[int, dict]:
    termination = tmp_path / "parity.termination"
    monkeypatch.setenv("MODELYARD_OBJECT", version_json(version))
    args = ["parity", "--store", store.uri, "--termination-log", str(termination), "--model-name", m.MODEL, *extra]
    for endpoint in endpoints:
        args += ["--endpoint", endpoint]
    code = main(args)
    return code, json.loads(termination.read_text())


def test_parity_passes_on_every_replica_of_a_faithful_server(servers, conversions, tmp_path, monkeypatch):
    store, versions = conversions
    one, two = servers.start(store, versions["onnx"]), servers.start(store, versions["onnx"])
    one.wait_ready()
    two.wait_ready()
    endpoints = [f"grpc://{one.grpc}", f"http://{one.http}", f"grpc://{two.grpc}"]
    code, result = parity(tmp_path, monkeypatch, store, versions["onnx"], *endpoints)
    assert code == 0 and result["ok"] and result["passed"] and result["reason"] == "ParityPassed", result
    assert result["samples"] == 8 and result["endpoints"] == endpoints
    (output,) = result["outputs"]
    assert output["name"] == "logits" and output["passed"] and output["maxAbsDiff"] <= 1e-5
    assert (output["atol"], output["rtol"]) == (1e-4, 1e-3)


def test_parity_fails_naming_the_output_against_a_runtime_that_computes_something_else(
        servers, conversions, tmp_path, monkeypatch):
    store, versions = conversions
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "sitecustomize.py").write_text(PERTURB)
    good = servers.start(store, versions["onnx"])
    bad = servers.start(store, versions["onnx"], env={"PYTHONPATH": f"{broken}:{ROOT / 'operator'}"})
    good.wait_ready()
    bad.wait_ready()
    code, result = parity(tmp_path, monkeypatch, store, versions["onnx"], f"grpc://{good.grpc}", f"grpc://{bad.grpc}")
    assert code == 0 and result["ok"] and not result["passed"] and result["reason"] == "ParityFailed"
    assert result["outputs"][0]["maxAbsDiff"] == pytest.approx(0.25, abs=1e-3)
    assert result["message"].startswith("output logits differs by 0.25 (atol 0.0001, rtol 0.001)")
    assert result["message"].endswith(f"at grpc://{bad.grpc}")


@pytest.mark.skipif(not _has_bf16(), reason="this CPU has no bf16 instructions: OpenVINO would run f32 anyway")
def test_parity_fails_against_openvino_at_another_precision(servers, conversions, tmp_path, monkeypatch):
    store, versions = conversions
    faithful = servers.start(store, versions["openvino"])
    bf16 = servers.start(store, versions["openvino"], env={"MODELYARD_OPENVINO_PRECISION": "bf16"})
    faithful.wait_ready()
    bf16.wait_ready()
    code, result = parity(tmp_path, monkeypatch, store, versions["openvino"], f"http://{faithful.http}")
    assert result["passed"], result["message"]
    code, result = parity(tmp_path, monkeypatch, store, versions["openvino"], f"http://{bf16.http}")
    assert not result["passed"] and f"at http://{bf16.http}" in result["message"]
    assert "output logits differs by" in result["message"]


def test_a_version_without_samples_and_an_endpoint_that_does_not_answer(conversions, digits_store, tmp_path,
                                                                        monkeypatch):
    code, result = parity(tmp_path, monkeypatch, digits_store.store, digits_store.version, "grpc://127.0.0.1:1")
    assert code == 1 and not result["ok"] and result["reason"] == "NoParitySamples"
    assert "not produced by a conversion that records" in result["message"]

    store, versions = conversions
    nobody = f"grpc://127.0.0.1:{free_port()}"
    code, result = parity(tmp_path, monkeypatch, store, versions["onnx"], nobody)
    assert code == 1 and result["reason"] == "EndpointUnreachable" and nobody in result["message"]
    code, result = parity(tmp_path, monkeypatch, store, versions["onnx"], f"http://127.0.0.1:{free_port()}")
    assert code == 1 and result["reason"] == "EndpointUnreachable"


def test_a_canarys_judgement_counts_the_requests_its_servers_failed(servers, conversions, tmp_path, monkeypatch):
    store, versions = conversions
    good = servers.start(store, versions["onnx"])
    good.wait_ready()
    metrics = f"http://{good.http}/metrics"
    code, result = parity(tmp_path, monkeypatch, store, versions["onnx"], f"grpc://{good.grpc}",
                          extra=("--metrics", metrics, "--max-error-rate", "0.01"))
    assert code == 0 and result["passed"] and result["errorRates"][0]["failed"] == 0, result
    assert result["errorRates"][0]["requests"] >= 8  # the samples it just sent count as served


def test_error_rates_over_the_limit_are_named():
    from modelyard.worker.serve.errorrate import ErrorRate, judge

    assert judge([ErrorRate("http://a/metrics", 100, 1)], 0.01) is None
    said = judge([ErrorRate("http://a/metrics", 100, 1), ErrorRate("http://b/metrics", 50, 5)], 0.01)
    assert said == "5 of 50 requests failed (10.0%, limit 1.0%) at http://b/metrics"
    assert ErrorRate("http://c/metrics", 0, 0).rate == 0.0
