"""Long-running pods on the real control plane: a Deployment's pods run by the process kubelet
with their own pod IPs and readiness probes, published by the real EndpointSlice controller,
rolled by the real Deployment controller; a crashing container restarted with back-off; a
failing liveness probe restarting its container."""

from __future__ import annotations

import ipaddress
import json
import time
import urllib.request
from typing import Any

from kubernetes import client

from tests.support.controlplane import Namespace, wait_until

IMAGE = "ghcr.io/modelyard/worker-cpu:test"  # a worker image: the kubelet runs it on this machine
PORT = 8080

# A tiny model server stand-in: answers its VERSION on /, its health on /healthz (503 when
# UNHEALTHY is set), after DELAY seconds; it binds the pod's own address.
SERVER = """
import http.server, os, time
time.sleep(float(os.environ.get("DELAY", "0")))
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        sick = self.path == "/healthz" and os.environ.get("UNHEALTHY")
        body = b"sick" if sick else os.environ["VERSION"].encode()
        self.send_response(503 if sick else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((os.environ["MODELYARD_SERVE_HOST"], 8080), Handler).serve_forever()
"""


def server(version: str, delay: float = 0, **probes: Any) -> dict[str, Any]:
    return {"name": "server", "image": IMAGE, "command": ["python", "-c", SERVER],
            "env": [{"name": "VERSION", "value": version}, {"name": "DELAY", "value": str(delay)}],
            "ports": [{"name": "http", "containerPort": PORT}], **probes}


def deployment(name: str, container: dict[str, Any]) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"terminationGracePeriodSeconds": 5, "containers": [container]}}}}


def service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def pods(ns: Namespace, app: str) -> list[dict[str, Any]]:
    raw = client.CoreV1Api(ns.cp.api()).list_namespaced_pod(ns.name, label_selector=f"app={app}",
                                                            _preload_content=False)
    return json.loads(raw.data)["items"]


def condition(pod: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


def ready(pod: dict[str, Any]) -> bool:
    return condition(pod, "Ready").get("status") == "True"


def get(ip: str, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://{ip}:{PORT}{path}", timeout=5) as reply:
        return reply.read().decode()


def answers(ip: str) -> str | None:
    try:
        return get(ip)
    except OSError:
        return None


def slice_addresses(ns: Namespace, service_name: str) -> dict[str, bool]:
    """The Service's endpoint addresses with whether each is ready, as its EndpointSlices say."""
    slices = client.DiscoveryV1Api(ns.cp.api()).list_namespaced_endpoint_slice(
        ns.name, label_selector=f"kubernetes.io/service-name={service_name}").items
    return {address: bool(e.conditions and e.conditions.ready)
            for s in slices for e in s.endpoints or [] for address in e.addresses}


def test_a_deployment_serves_on_its_pod_ip_and_rolls_to_a_new_template_without_a_gap(ns: Namespace):
    ns.apply(deployment("echo", server("a", readinessProbe={"httpGet": {"path": "/healthz", "port": "http"},
                                                             "periodSeconds": 1})), service("echo"))
    first = wait_until("the first pod Ready", lambda: next((p for p in pods(ns, "echo") if ready(p)), None),
                       timeout=60)
    ip = first["status"]["podIP"]
    assert first["status"]["podIPs"] == [{"ip": ip}] and ip != "127.0.0.1"
    assert first["status"]["phase"] == "Running"
    status = first["status"]["containerStatuses"][0]
    assert status["ready"] and status["started"] and "running" in status["state"]
    assert get(ip) == "a"
    routed = not ipaddress.ip_address(ip).is_loopback
    if routed:  # loopback pod IPs (no route could be added) are refused in EndpointSlices
        wait_until("the EndpointSlice controller publishes the ready pod",
                   lambda: slice_addresses(ns, "echo") == {ip: True}, timeout=60)

    # The new template is slow to become ready: the old pod must keep serving until it is.
    ns.kubectl("set", "env", "deployment/echo", "VERSION=b", "DELAY=3")
    old_name = first["metadata"]["name"]
    seen: dict[str, dict[str, Any]] = {}
    both_alive = False

    def rolled() -> bool:
        nonlocal both_alive
        current = pods(ns, "echo")
        seen.update({p["metadata"]["name"]: p for p in current})
        serving = [p for p in current if ready(p) and not p["metadata"].get("deletionTimestamp")]
        assert serving, f"no pod was ready during the roll: {[p['metadata']['name'] for p in current]}"
        both_alive = both_alive or sum(p["status"].get("phase") == "Running" for p in current) == 2
        names = {p["metadata"]["name"] for p in current}
        return bool(names) and old_name not in names and all(ready(p) for p in current)

    wait_until("the rollout to the new template", rolled, timeout=90, every=0.2)
    assert both_alive, "the old and the new pod were never both running"
    new = next(p for name, p in seen.items() if name != old_name)
    became_ready = condition(new, "Ready")["lastTransitionTime"]
    stopped = [e["firstTimestamp"] for e in ns.events(old_name) if e["reason"] == "Killing"]
    assert stopped and stopped[0] >= became_ready, (stopped, condition(new, "Ready"))
    new_ip = new["status"]["podIP"]
    assert new_ip != ip and get(new_ip) == "b"
    if routed:
        wait_until("the EndpointSlice follows the roll", lambda: slice_addresses(ns, "echo") == {new_ip: True},
                   timeout=60)


def test_a_crashing_container_is_restarted_with_back_off(ns: Namespace):
    crasher = {"name": "crasher", "image": IMAGE, "command": ["python", "-c", "import sys; print('bye'); sys.exit(3)"]}
    ns.apply(deployment("crasher", crasher))

    def backing_off() -> dict[str, Any] | None:
        for pod in pods(ns, "crasher"):
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                if (status["state"].get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                    return pod
        return None

    pod = wait_until("CrashLoopBackOff", backing_off, timeout=60)
    status = pod["status"]["containerStatuses"][0]
    assert pod["status"]["phase"] == "Running"
    assert status["restartCount"] >= 1 and not status["ready"]
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert "back-off" in status["state"]["waiting"]["message"]
    assert not ready(pod)
    name = pod["metadata"]["name"]
    restarts = status["restartCount"]

    def restarted_again() -> bool:
        [current] = [p for p in pods(ns, "crasher") if p["metadata"]["name"] == name]
        return current["status"]["containerStatuses"][0]["restartCount"] > restarts

    wait_until("a restart after the back-off", restarted_again, timeout=40)
    assert any(e["reason"] == "BackOff" for e in ns.events(name))


def test_a_failing_liveness_probe_restarts_the_container(ns: Namespace):
    sick = server("a", livenessProbe={"httpGet": {"path": "/healthz", "port": PORT}, "periodSeconds": 1,
                                      "failureThreshold": 2},
                  readinessProbe={"tcpSocket": {"port": "http"}, "periodSeconds": 1})
    sick["env"].append({"name": "UNHEALTHY", "value": "1"})
    ns.apply(deployment("sick", sick))

    def restarted() -> dict[str, Any] | None:
        for pod in pods(ns, "sick"):
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            if statuses and statuses[0]["restartCount"] >= 1:
                return pod
        return None

    pod = wait_until("a restart for the failed liveness probe", restarted, timeout=60)
    events = ns.events(pod["metadata"]["name"])
    said = [(e["reason"], e["message"]) for e in events]
    assert ("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 503") in said
    assert ("Killing", "Container server failed liveness probe, will be restarted") in said
    assert pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] != 0


def test_a_pod_without_a_readiness_probe_is_ready_once_running_and_stops_on_scale_down(ns: Namespace):
    ns.apply(deployment("plain", server("a")))
    pod = wait_until("the pod Ready", lambda: next((p for p in pods(ns, "plain") if ready(p)), None), timeout=60)
    assert condition(pod, "ContainersReady")["status"] == "True"
    # Ready says only that the process runs (nothing probes it): the server may still be starting.
    wait_until("the server answers at its pod IP", lambda: answers(pod["status"]["podIP"]) == "a", timeout=30)
    started = time.monotonic()
    ns.kubectl("scale", "deployment/plain", "--replicas=0")
    wait_until("the pod gone after scale-down", lambda: not pods(ns, "plain"), timeout=60)
    assert time.monotonic() - started < 30  # SIGTERM ends the server well within its grace period
