"""The triton backend's error paths against servers that are down or serve something else.

The metric-equality test runs against a real KServe v2 server in
tests/integration/test_triton_backend.py; here a tiny in-process stand-in answers the
health and readiness endpoints only."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from modelyard.worker.evaluate.backends.triton import TritonBackend
from modelyard.worker.evaluate.errors import EvaluationError
from tests.support.s3server import free_port


class _Health(BaseHTTPRequestHandler):
    live = True

    def _send(self, code: int, body: object = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/v2/health/live":
            self._send(200 if self.live else 503)
        else:
            self._send(404, {"error": f"Model with name {self.path.split('/')[3]} does not exist."})

    def do_POST(self) -> None:  # noqa: N802
        if self.path == "/v2/repository/index":
            self._send(200, [{"name": "resnet", "state": "READY"}])
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_unreachable_server() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EvaluationError, match=f"http server {url} cannot be reached") as error:
        TritonBackend(url, "digits", timeout_s=5)
    assert error.value.reason == "BackendUnreachable"


def test_wrong_model_name_lists_what_is_served(server: ThreadingHTTPServer) -> None:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with pytest.raises(EvaluationError, match=r"does not serve a ready model named 'digits' \(it serves: resnet\); "
                       "check backend.modelName") as error:
        TritonBackend(url, "digits", timeout_s=5)
    assert error.value.reason == "ModelNotServed"


def test_server_not_live(server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Health, "live", False)
    with pytest.raises(EvaluationError, match="answers but is not live") as error:
        TritonBackend(f"http://127.0.0.1:{server.server_address[1]}", "digits", timeout_s=5)
    assert error.value.reason == "BackendUnreachable"
