"""`python -m modelyard.worker serve` as a real process on loopback, called with tritonclient over
REST and gRPC: the answers are what onnxruntime gives on the stored model."""

from __future__ import annotations


import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from modelyard.api.validation import parse_object
from modelyard.storage.layout import version_prefix
from tests.support import evaluation as ev
from tests.unit.worker.serve.conftest import read


def _expected(stored, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(stored.onnx), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def _inputs(api, x: np.ndarray, binary: bool | None = None):
    item = api.InferInput("input", list(x.shape), "FP32")
    if binary is None:
        item.set_data_from_numpy(x)
    else:
        item.set_data_from_numpy(x, binary_data=binary)
    return [item]


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return ev.digits().x_test[:5]


def test_rest_and_grpc_answer_what_onnxruntime_gives(servers, digits_store, x):
    server = servers.start(digits_store.store, digits_store.version, args=["--model-name", "digits-live"])
    server.wait_ready()
    expected = _expected(digits_store, x)

    http = httpclient.InferenceServerClient(server.http)
    for binary in (True, False):
        outputs = [httpclient.InferRequestedOutput("logits", binary_data=binary)]
        result = http.infer("digits-live", _inputs(httpclient, x, binary), outputs=outputs)
        np.testing.assert_allclose(result.as_numpy("logits"), expected, rtol=1e-6, atol=1e-6)
    # tritonclient's defaults: binary request, every output binary; and at the version's URL
    result = http.infer("digits-live", _inputs(httpclient, x), model_version="1.0.0")
    np.testing.assert_allclose(result.as_numpy("logits"), expected, rtol=1e-6, atol=1e-6)

    grpc = grpcclient.InferenceServerClient(server.grpc)
    result = grpc.infer("digits-live", _inputs(grpcclient, x))
    np.testing.assert_allclose(result.as_numpy("logits"), expected, rtol=1e-6, atol=1e-6)
    assert result.get_response().model_version == "1.0.0"

    # typed contents (no raw_input_contents), as other OIP clients send them
    from tritonclient.grpc import service_pb2 as pb

    request = pb.ModelInferRequest(model_name="digits-live")
    request.inputs.add(name="input", datatype="FP32", shape=list(x.shape)).contents.fp32_contents.extend(x.ravel().tolist())
    response = grpc._client_stub.ModelInfer(request)
    answer = np.frombuffer(response.raw_output_contents[0], dtype=np.float32).reshape(list(response.outputs[0].shape))
    np.testing.assert_allclose(answer, expected, rtol=1e-6, atol=1e-6)

    # metadata from the version's signature, the version string is spec.version
    for client in (http, grpc):
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("digits-live")
        assert not client.is_model_ready("other")
    metadata = http.get_model_metadata("digits-live")
    assert metadata["versions"] == ["1.0.0"] and metadata["platform"] == "onnxruntime_onnx"
    assert metadata["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]
    assert metadata["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}]
    grpc_metadata = grpc.get_model_metadata("digits-live", as_json=True)
    assert grpc_metadata["inputs"] == [{"name": "input", "datatype": "FP32", "shape": ["-1", "64"]}]
    assert grpc.get_server_metadata().name == "modelyard"

    # bad requests name the input and what was expected
    with pytest.raises(InferenceServerException) as wrong_shape:
        http.infer("digits-live", _inputs(httpclient, np.zeros((2, 63), np.float32)))
    assert wrong_shape.value.status() == "400" and "input" in str(wrong_shape.value) and "[-1, 64]" in str(wrong_shape.value)
    with pytest.raises(InferenceServerException) as wrong_type:
        grpc.infer("digits-live", [_typed(grpcclient, "input", np.zeros((2, 64), np.float64))])
    assert wrong_type.value.status() == "StatusCode.INVALID_ARGUMENT" and "expected FP32" in str(wrong_type.value)
    with pytest.raises(InferenceServerException) as unknown:
        http.infer("digits-live", [_typed(httpclient, "pixels", x)])
    assert unknown.value.status() == "400" and "unknown input pixels" in str(unknown.value)
    with pytest.raises(InferenceServerException) as wrong_model:
        http.infer("digits", _inputs(httpclient, x))
    assert wrong_model.value.status() == "404"

    # /metrics counts by model, version, protocol and outcome
    status, body = server.get("/metrics")
    text = body.decode()
    assert status == 200
    assert 'modelyard_serve_requests_total{model="digits-live",outcome="ok",protocol="rest",version="1.0.0"} 3.0' in text
    assert 'modelyard_serve_requests_total{model="digits-live",outcome="ok",protocol="grpc",version="1.0.0"} 2.0' in text
    assert 'modelyard_serve_requests_total{model="digits-live",outcome="invalid",protocol="rest",version="1.0.0"} 2.0' in text
    assert 'modelyard_serve_inference_duration_seconds_count{model="digits-live",protocol="grpc",version="1.0.0"} 2.0' in text
    assert "modelyard_serve_ready 1.0" in text

    assert server.stop() == 0
    assert read(server.termination)["reason"] == "Stopped"
    assert "ready: model digits-live version 1.0.0" in server.output()


def _typed(api, name: str, array: np.ndarray):
    item = api.InferInput(name, list(array.shape), {"float64": "FP64"}.get(str(array.dtype), "FP32"))
    item.set_data_from_numpy(array)
    return item


def test_a_tampered_file_is_never_served(servers, digits_store, tmp_path):
    from modelyard.storage.fs import FileStore

    store = FileStore(tmp_path / "tampered")
    version = ev.publish(store, digits_store.onnx, "1.0.0", signature=ev.MLP_SIGNATURE)
    stored = store.root / version_prefix(ev.NAMESPACE, ev.MODEL, "1.0.0") / "model.onnx"
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF
    stored.write_bytes(bytes(data))

    server = servers.start(store, version)
    assert server.wait_exit() == 1
    result = read(server.termination)
    assert not result["ok"] and result["reason"] == "DigestMismatch"
    assert "model.onnx" in result["message"] and result["message"].count("sha256") >= 1
    assert "manifest records" in result["message"]
    assert "ready:" not in server.output()


def test_a_format_it_does_not_run_is_refused_with_what_serves_it(servers, digits_store):
    body = digits_store.version.model_dump(by_alias=True, exclude_none=True, mode="json")
    body["spec"]["format"] = "tensorrt-plan"
    server = servers.start(digits_store.store, parse_object(body))
    assert server.wait_exit() == 1
    result = read(server.termination)
    assert result["reason"] == "FormatNotServed" and "tensorrt-plan" in result["message"]
    assert "Triton" in result["message"]


def test_a_port_in_use_is_a_clear_failure(servers, digits_store):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = servers.start(digits_store.store, digits_store.version, args=["--grpc-port", str(port)])
        assert server.wait_exit() == 1
    result = read(server.termination)
    assert result["reason"] == "PortUnavailable" and f"127.0.0.1:{port}" in result["message"]
