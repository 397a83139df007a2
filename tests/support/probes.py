"""Container probes for the process kubelet, as a kubelet runs them: httpGet, tcpSocket, grpc
(the standard health service) and exec, against the pod's own address; each probe's result
turns only after `successThreshold` successes or `failureThreshold` failures in a row, and is
not run before `initialDelaySeconds` nor more often than `periodSeconds`.

`Probe.check` runs one probe; `Tracker` holds one probe's thresholds for one container run.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from typing import Any, Callable

Exec = Callable[[list[str], float], int]
"""(command, timeout seconds) -> exit code of the command run in the container's environment."""

READINESS, LIVENESS, STARTUP = "readiness", "liveness", "startup"
LABEL = {READINESS: "Readiness", LIVENESS: "Liveness", STARTUP: "Startup"}


def resolve_port(port: int | str, ports: dict[str, int]) -> int:
    """A probe's port by number or by the name of one of the container's ports."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    if port not in ports:
        raise ValueError(f"port {port!r} is not a named port of the container")
    return ports[port]


@dataclass(frozen=True)
class Probe:
    kind: str
    spec: dict[str, Any]

    @property
    def initial_delay(self) -> float:
        return float(self.spec.get("initialDelaySeconds") or 0)

    @property
    def period(self) -> float:
        return float(self.spec.get("periodSeconds") or 10)

    @property
    def timeout(self) -> float:
        return float(self.spec.get("timeoutSeconds") or 1)

    @property
    def success_threshold(self) -> int:
        return int(self.spec.get("successThreshold") or 1)

    @property
    def failure_threshold(self) -> int:
        return int(self.spec.get("failureThreshold") or 3)

    def check(self, pod_ip: str, ports: dict[str, int], run: Exec | None = None) -> tuple[bool, str]:
        """One probe: (succeeded, what a kubelet would say about a failure)."""
        try:
            if "httpGet" in self.spec:
                return self.http(self.spec["httpGet"], pod_ip, ports)
            if "tcpSocket" in self.spec:
                action = self.spec["tcpSocket"]
                address = (action.get("host") or pod_ip, resolve_port(action["port"], ports))
                with socket.create_connection(address, timeout=self.timeout):
                    return True, ""
            if "grpc" in self.spec:
                return self.grpc(self.spec["grpc"], pod_ip)
            if "exec" in self.spec:
                if run is None:
                    return False, "exec probes need the container's environment"
                command = self.spec["exec"].get("command") or []
                try:
                    code = run(command, self.timeout)
                except subprocess.TimeoutExpired:
                    return False, f"command timed out after {self.timeout:g}s"
                return code == 0, "" if code == 0 else f"command {command!r} exited with {code}"
            return False, "probe has no handler (httpGet, tcpSocket, grpc or exec)"
        except ValueError as error:
            return False, str(error)
        except OSError as error:
            return False, f"dial tcp: {error}"

    def http(self, action: dict[str, Any], pod_ip: str, ports: dict[str, int]) -> tuple[bool, str]:
        host, port = action.get("host") or pod_ip, resolve_port(action["port"], ports)
        path = action.get("path") or "/"
        scheme = (action.get("scheme") or "HTTP").upper()
        if scheme == "HTTPS":  # a kubelet does not verify a probed certificate
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=ssl._create_unverified_context())  # noqa: S323
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        headers = {"User-Agent": "kube-probe/1.37", "Accept": "*/*"}
        headers.update({h["name"]: h["value"] for h in action.get("httpHeaders") or []})
        url = f"{scheme.lower()}://{host}:{port}{path}"
        try:
            connection.request("GET", path, headers=headers)
            status = connection.getresponse().status
        except OSError as error:
            return False, f'Get "{url}": {error}'
        finally:
            connection.close()
        if 200 <= status < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {status}"

    def grpc(self, action: dict[str, Any], pod_ip: str) -> tuple[bool, str]:
        """grpc.health.v1.Health/Check, its two messages written by hand (one string field in,
        one enum field out: SERVING is 1)."""
        import grpc

        service = (action.get("service") or "").encode()
        request = (b"\x0a" + bytes([len(service)]) + service) if service else b""
        target = f"{pod_ip}:{int(action['port'])}"
        with grpc.insecure_channel(target) as channel:
            check = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=None,
                                        response_deserializer=None)
            try:
                reply = check(request, timeout=self.timeout)
            except grpc.RpcError as error:
                return False, f"failed to connect service {target!r} within {self.timeout:g}s: {error.code().name}"
        if reply == b"\x08\x01":
            return True, ""
        return False, f"service unhealthy (responded with {reply.hex() or 'UNKNOWN'})"


@dataclass
class Tracker:
    """One probe of one container run: when it is due, and its result after the thresholds.

    Results start as a kubelet's do: readiness failed (not ready until a probe succeeds),
    liveness succeeded, startup not yet succeeded.
    """

    probe: Probe
    started: float
    result: bool = field(init=False)
    last_run: float | None = None
    run_of: bool | None = None
    run_length: int = 0

    def __post_init__(self) -> None:
        self.result = self.probe.kind == LIVENESS

    def due(self, now: float) -> bool:
        if now < self.started + self.probe.initial_delay:
            return False
        return self.last_run is None or now >= self.last_run + self.probe.period

    @property
    def failed(self) -> bool:
        """`failureThreshold` failures in a row: for liveness and startup, a restart."""
        return self.run_of is False and self.run_length >= self.probe.failure_threshold

    def record(self, ok: bool, now: float) -> bool:
        """Count one probe; True when the result turned."""
        self.last_run = now
        if ok == self.run_of:
            self.run_length += 1
        else:
            self.run_of, self.run_length = ok, 1
        threshold = self.probe.success_threshold if ok else self.probe.failure_threshold
        if self.run_length < threshold or self.result == ok:
            return False
        self.result = ok
        return True
