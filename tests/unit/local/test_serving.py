"""Local mode's stand-in for Deployments, Services and their pods (LocalCluster) and for a
server's process (servers.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from modelyard.handlers.serving import crash_loop, server_state
from modelyard.local import servers
from modelyard.local.state import LocalCluster

OWNER = "owner-uid"
LABELS = {"modelyard.dev/deployment": "digits", "modelyard.dev/variant": "digits-int8-arm",
          "app.kubernetes.io/component": "server"}
READY_SERVER = """
import http.server, sys
class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/v2/health/ready" else 404); self.end_headers()
    def log_message(self, *args): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ready).serve_forever()
"""


def deployment(name: str = "digits-digits-int8-arm", owner: str = OWNER) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": LABELS, "ownerReferences": [{"uid": owner}]},
        "spec": {"replicas": 2, "template": {"metadata": {"labels": LABELS}, "spec": {"containers": [{
            "name": "server",
            "command": ["python", "-m", "modelyard.worker", "serve", "--model-name", "digits",
                        "--http-port", "8080", "--grpc-port", "8081"],
            "env": [{"name": "MODELYARD_OBJECT", "value": "{}"}, {"name": "MODELYARD_TERMINATION_LOG", "value": "/x"},
                    {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        }]}}},
    }


def service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "serve-digits", "namespace": "default", "ownerReferences": [{"uid": OWNER}]},
            "spec": {"selector": {"modelyard.dev/deployment": "digits", "modelyard.dev/variant": "a"}}}


def test_deployments_are_listed_by_label_and_services_read(tmp_path: Path):
    cluster = LocalCluster(tmp_path)
    cluster.create(deployment())
    cluster.create({**deployment("other"), "metadata": {**deployment("other")["metadata"], "labels": {"x": "y"}}})
    cluster.create(service())
    assert [d["metadata"]["name"] for d in cluster.list_deployments("default", {"modelyard.dev/deployment": "digits"})] == [
        "digits-digits-int8-arm"]
    assert cluster.get_builtin("Service", "default", "serve-digits")["spec"]["selector"]["modelyard.dev/variant"] == "a"
    assert cluster.get_builtin("Service", "default", "missing") is None


def test_patch_child_merges_removes_none_and_skips_foreign_and_unchanged(tmp_path: Path):
    cluster = LocalCluster(tmp_path)
    cluster.create(service())
    cluster.patch_child("Service", "default", "serve-digits", {"spec": {"selector": {"modelyard.dev/variant": None}}}, OWNER)
    assert cluster.read("Service", "default", "serve-digits")["spec"]["selector"] == {"modelyard.dev/deployment": "digits"}
    version = cluster.read("Service", "default", "serve-digits")["metadata"]["resourceVersion"]
    cluster.patch_child("Service", "default", "serve-digits", {"spec": {"selector": {"modelyard.dev/variant": None}}}, OWNER)
    assert cluster.read("Service", "default", "serve-digits")["metadata"]["resourceVersion"] == version
    cluster.patch_child("Service", "default", "serve-digits", {"spec": {"selector": {"a": "b"}}}, "someone-else")
    assert "a" not in cluster.read("Service", "default", "serve-digits")["spec"]["selector"]
    cluster.create(deployment())
    cluster.patch_child("Deployment", "default", "digits-digits-int8-arm", {"spec": {"replicas": 3}}, OWNER)
    assert cluster.read("Deployment", "default", "digits-digits-int8-arm")["spec"]["replicas"] == 3


def test_a_ready_server_has_one_ready_pod_on_loopback(tmp_path: Path):
    cluster = LocalCluster(tmp_path)
    cluster.create(deployment())
    assert [b["metadata"]["name"] for b in cluster.pending_servers()] == ["digits-digits-int8-arm"]
    cluster.server_ready("default", "digits-digits-int8-arm", 0, 40000, 40001, servers.model_url(40000, "digits"))
    body = cluster.read("Deployment", "default", "digits-digits-int8-arm")
    assert body["metadata"]["annotations"]["modelyard.dev/url"] == "http://127.0.0.1:40000/v2/models/digits"
    pods = cluster.pods("default", {"modelyard.dev/deployment": "digits", "modelyard.dev/variant": "digits-int8-arm"})
    state = server_state(body, pods)
    assert (state.ready, state.endpoints, state.failure) == (1, ("grpc://127.0.0.1:40001",), None)
    assert cluster.pods("default", {"modelyard.dev/variant": "another"}) == []


def test_a_server_that_exits_reads_as_a_crash_loop_and_is_not_started_again(tmp_path: Path):
    cluster = LocalCluster(tmp_path)
    cluster.create(deployment())
    cluster.server_failed("default", "digits-digits-int8-arm", 2, "loading\nerror: the artifact is not in the store")
    body = cluster.read("Deployment", "default", "digits-digits-int8-arm")
    pods = cluster.pods("default", {"modelyard.dev/deployment": "digits"})
    assert crash_loop(pods) == "the server exits (3 restarts): error: the artifact is not in the store"
    assert server_state(body, pods).ready == 0
    assert cluster.pending_servers() == []


def test_server_process_runs_the_container_on_free_loopback_ports(tmp_path: Path):
    process = servers.server_process(deployment(), tmp_path, 40000, 40001)
    assert process.argv == [sys.executable, "-m", "modelyard.worker", "serve", "--model-name", "digits",
                            "--http-port", "40000", "--grpc-port", "40001"]
    assert process.env["MODELYARD_SERVE_HOST"] == "127.0.0.1" and process.env["MODELYARD_OBJECT"] == "{}"
    assert "MODELYARD_TERMINATION_LOG" not in process.env and "AWS_SECRET_ACCESS_KEY" not in process.env
    assert process.url == "http://127.0.0.1:40000/v2/models/digits"


def _process(tmp_path: Path, argv: list[str], port: int) -> servers.ServerProcess:
    return servers.ServerProcess(name="s", argv=argv, env={}, workdir=tmp_path / "work", log=tmp_path / "s.log",
                                 http_port=port, grpc_port=0, model="m")


def test_a_server_that_exits_before_ready_reports_its_log(tmp_path: Path):
    process = _process(tmp_path, [sys.executable, "-c", "import sys; print('no model here'); sys.exit(3)"],
                       servers.free_port())
    run = servers.wait_ready(servers.start(process), process, deadline=60)
    assert (run.ready, run.exit_code) == (False, 3) and "no model here" in run.message


def test_a_ready_server_is_found_running_and_deleting_its_deployment_stops_it(tmp_path: Path):
    port = servers.free_port()
    process = _process(tmp_path, [sys.executable, "-c", READY_SERVER, str(port)], port)
    started = servers.start(process)
    try:
        run = servers.wait_ready(started, process, deadline=60)
        assert run.ready
        cluster = LocalCluster(tmp_path / "state")
        cluster.create(deployment())
        cluster.server_ready("default", "digits-digits-int8-arm", run.pid, port, 0, process.url)
        assert cluster.pending_servers() == []  # alive and answering: left running
        cluster.delete_child("Deployment", "default", "digits-digits-int8-arm", OWNER)
        assert started.wait(timeout=30) is not None
        assert cluster.read("Deployment", "default", "digits-digits-int8-arm") is None
    finally:
        if started.poll() is None:
            started.kill()
            started.wait()
