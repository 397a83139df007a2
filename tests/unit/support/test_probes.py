"""The process kubelet's probes and restart back-off, without a cluster: thresholds, delays,
ports by name, and each handler against a real socket on loopback."""

from __future__ import annotations

import http.server
import socket
import threading
from typing import Iterator

import pytest

from tests.support.kubelet import crash_backoff
from tests.support.probes import LIVENESS, READINESS, STARTUP, Probe, Tracker, resolve_port


@pytest.fixture
def web() -> Iterator[int]:
    """An HTTP server on 127.0.0.1: 200 on /ok, 503 elsewhere."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200 if self.path == "/ok" else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()


def test_readiness_needs_success_threshold_successes_and_failure_threshold_failures():
    tracker = Tracker(Probe(READINESS, {"successThreshold": 2, "failureThreshold": 3, "periodSeconds": 1}), 0)
    assert tracker.result is False  # not ready before a probe succeeds
    assert [tracker.record(ok, t) for t, ok in enumerate([True, False, True, True])] == [False, False, False, True]
    assert tracker.result is True
    assert [tracker.record(False, t) for t in range(4, 7)] == [False, False, True]
    assert tracker.result is False and tracker.failed


def test_liveness_starts_healthy_and_startup_starts_unstarted():
    assert Tracker(Probe(LIVENESS, {}), 0).result is True
    startup = Tracker(Probe(STARTUP, {"failureThreshold": 2}), 0)
    assert startup.result is False and not startup.failed
    startup.record(False, 1)
    startup.record(False, 2)
    assert startup.failed


def test_a_probe_waits_for_its_initial_delay_then_runs_once_per_period():
    tracker = Tracker(Probe(READINESS, {"initialDelaySeconds": 5, "periodSeconds": 2}), started=100)
    assert not tracker.due(104.9)
    assert tracker.due(105)
    tracker.record(True, 105)
    assert not tracker.due(106.5) and tracker.due(107)


def test_ports_by_number_or_by_name():
    assert resolve_port(8080, {}) == 8080
    assert resolve_port("8080", {}) == 8080
    assert resolve_port("http", {"http": 9000}) == 9000
    with pytest.raises(ValueError, match="not a named port"):
        resolve_port("grpc", {"http": 9000})


def test_http_probes_succeed_below_400_and_say_why_they_fail(web: int):
    ok = Probe(READINESS, {"httpGet": {"path": "/ok", "port": "web"}})
    assert ok.check("127.0.0.1", {"web": web}) == (True, "")
    sick = Probe(READINESS, {"httpGet": {"path": "/healthz", "port": web}})
    assert sick.check("127.0.0.1", {}) == (False, "HTTP probe failed with statuscode: 503")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    ok, why = Probe(READINESS, {"httpGet": {"path": "/", "port": port}}).check("127.0.0.1", {})
    assert not ok and why.startswith(f'Get "http://127.0.0.1:{port}/"') and "refused" in why


def test_tcp_and_exec_probes(web: int):
    assert Probe(READINESS, {"tcpSocket": {"port": web}}).check("127.0.0.1", {})[0]
    assert Probe(LIVENESS, {"exec": {"command": ["true"]}}).check("127.0.0.1", {}, lambda c, t: 0) == (True, "")
    ok, why = Probe(LIVENESS, {"exec": {"command": ["false"]}}).check("127.0.0.1", {}, lambda c, t: 1)
    assert not ok and "exited with 1" in why


def test_grpc_probes_ask_the_standard_health_service():
    grpc = pytest.importorskip("grpc")
    from concurrent import futures

    answers = {b"": b"\x08\x01", b"\x0a\x04slow": b"\x08\x02"}  # SERVING, NOT_SERVING
    handler = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(lambda request, context: answers[request])})
    server = grpc.server(futures.ThreadPoolExecutor(2), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        assert Probe(READINESS, {"grpc": {"port": port}}).check("127.0.0.1", {}) == (True, "")
        ok, why = Probe(READINESS, {"grpc": {"port": port, "service": "slow"}}).check("127.0.0.1", {})
        assert not ok and "unhealthy" in why
    finally:
        server.stop(0)


def test_crash_back_off_restarts_at_once_then_doubles_to_five_minutes():
    assert [crash_backoff(n) for n in range(7)] == [0, 10, 20, 40, 80, 160, 300]
    assert crash_backoff(2, initial=1) == 2
