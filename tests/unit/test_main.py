"""The operator's entry point."""

from __future__ import annotations

from kopf._core.intents.causes import Activity

from modelyard.main import default_registry


def test_the_default_registry_can_log_in():
    # Found on the real control plane: with a plain OperatorRegistry, `modelyard operator` failed
    # at start with "Ran out of valid credentials" (no login handler at all).
    logins = default_registry()._activities.get_handlers(activity=Activity.AUTHENTICATION)
    assert [h.id for h in logins] == ["login_via_client"]


def test_every_thread_that_calls_the_api_keeps_its_connection(tmp_path, monkeypatch, caplog):
    # Found on the real control plane: ten "Connection pool is full, discarding connection"
    # warnings at start, the client's default pool (5 per CPU) being smaller than the threads.
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from kubernetes import client

    from modelyard.main import KOPF_WORKERS, api_connections, default_api_client

    # Each request is answered only once all have arrived: every thread holds a connection.
    arrived = threading.Barrier(api_connections())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - the http.server interface
            arrived.wait(timeout=10)
            body = json.dumps({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    monkeypatch.setattr("kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr("multiprocessing.cpu_count", lambda: 2)  # a small node's operator pod
    api = client.CoreV1Api(default_api_client())

    def call():
        api.list_namespace()

    try:
        with caplog.at_level("WARNING", logger="urllib3.connectionpool"):
            threads = [threading.Thread(target=call) for _ in range(api_connections())]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
    finally:
        server.shutdown()
    assert api_connections() >= 16 + KOPF_WORKERS, "the work queue's 16 threads and Kopf's"
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
