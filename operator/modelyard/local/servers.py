"""Local mode's stand-in for a Deployment's pods: a ModelDeployment's server Deployment runs as
one detached process on loopback (`python -m modelyard.worker serve`, the container's command and
environment, its ports replaced by free ones), however many replicas it asks for.

`server_process` (pure) turns the Deployment manifest into a process description; `start` and
`wait_ready` run it until it answers GET /v2/health/ready or exits; `stop` ends its process
group. The state of a server (pid, ports, pods) is recorded by LocalCluster (state.py)."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
SERVER_CONTAINER = "server"
READY_SECONDS = 180.0
"""How long a server may take to load its model and answer ready (the artifact is downloaded
and its digests checked first)."""
STOP_SECONDS = 10.0
"""How long a stopped server gets to end after SIGTERM before SIGKILL."""
LOG_TAIL = 4096


class ServerRunError(Exception):
    """A Deployment that local mode cannot run; the message says why."""


@dataclass(frozen=True)
class ServerProcess:
    """One server run: argv, environment overrides, where it logs, its ports."""

    name: str
    argv: list[str]
    env: dict[str, str]
    workdir: Path
    log: Path
    http_port: int
    grpc_port: int
    model: str

    @property
    def url(self) -> str:
        return model_url(self.http_port, self.model)


@dataclass(frozen=True)
class ServerRun:
    """How a start ended: ready (the process serves) or not (it exited, or was too slow)."""

    pid: int
    ready: bool
    exit_code: int | None = None
    message: str = ""


def model_url(http_port: int, model: str) -> str:
    return f"http://{HOST}:{http_port}/v2/models/{model}"


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _replace(argv: list[str], flag: str, value: str) -> list[str]:
    if flag not in argv or argv.index(flag) + 1 >= len(argv):
        return [*argv, flag, value]
    at = argv.index(flag) + 1
    return [*argv[:at], value, *argv[at + 1:]]


def _option(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv and argv.index(flag) + 1 < len(argv) else None


def server_process(deployment: dict[str, Any], home: Path, http_port: int, grpc_port: int,
                   python: str = sys.executable) -> ServerProcess:
    """The local equivalent of a server Deployment manifest, listening on loopback ports."""
    from modelyard.local.runner import container_env  # runner imports state, which imports this module

    name = deployment["metadata"]["name"]
    pod = deployment["spec"]["template"]["spec"]
    container = next((c for c in pod["containers"] if c["name"] == SERVER_CONTAINER), None)
    if container is None:
        raise ServerRunError(f"Deployment {name} has no {SERVER_CONTAINER} container")
    command = [*container.get("command", []), *container.get("args", [])]
    if command[:4] != ["python", "-m", "modelyard.worker", "serve"]:
        raise ServerRunError(f"Deployment {name}: local mode runs only the Modelyard server, not {shlex.join(command)}")
    run_dir = home / "servers" / name
    env, _ = container_env(container, home, run_dir)
    env.pop("MODELYARD_TERMINATION_LOG", None)  # a server has no result to write
    env["MODELYARD_SERVE_HOST"] = HOST
    argv = _replace(_replace(command[1:], "--http-port", str(http_port)), "--grpc-port", str(grpc_port))
    model = _option(argv, "--model-name") or name
    return ServerProcess(name=name, argv=[python, *argv], env=env, workdir=home / "work", log=run_dir / "server.log",
                         http_port=http_port, grpc_port=grpc_port, model=model)


def start(process: ServerProcess, detached: bool = True) -> subprocess.Popen[bytes]:
    """Start the server, its output in its log; detached, it is a session of its own that
    outlives the command that started it (as a pod outlives `kubectl apply`)."""
    process.log.parent.mkdir(parents=True, exist_ok=True)
    process.workdir.mkdir(parents=True, exist_ok=True)
    with process.log.open("wb") as log:
        return subprocess.Popen(process.argv, env={**os.environ, **process.env}, cwd=process.workdir,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=detached)


def answers(http_port: int, timeout: float = 2.0) -> bool:
    """Whether a server on `http_port` says it is ready."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{http_port}/v2/health/ready", timeout=timeout) as reply:
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def wait_ready(server: subprocess.Popen[bytes], process: ServerProcess, deadline: float = READY_SECONDS) -> ServerRun:
    """Poll the process and its ready endpoint until it is ready, exits, or `deadline` seconds
    passed (then it is stopped)."""
    ends = time.monotonic() + deadline
    while time.monotonic() < ends:
        if answers(process.http_port, timeout=1.0):
            return ServerRun(pid=server.pid, ready=True)
        try:
            code = server.wait(timeout=0.25)  # returns at once when it exits
        except subprocess.TimeoutExpired:
            continue
        return ServerRun(pid=server.pid, ready=False, exit_code=code, message=log_tail(process.log))
    stop(server.pid)
    server.poll()
    return ServerRun(pid=server.pid, ready=False, exit_code=server.returncode,
                     message=f"not ready within {int(deadline)} s\n{log_tail(process.log)}")


def log_tail(log: Path, size: int = LOG_TAIL) -> str:
    return log.read_text(errors="replace")[-size:].strip() if log.is_file() else ""


def alive(pid: int | None) -> bool:
    """Whether process `pid` runs (a child of ours that ended is reaped, not taken for alive)."""
    if not pid:
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass  # not our child: another command started it
    except OSError:
        return False
    try:
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def stop(pid: int | None, grace: float = STOP_SECONDS) -> None:
    """End the server's process group: SIGTERM, then SIGKILL after `grace` seconds."""
    if not alive(pid):
        return
    assert pid is not None
    try:
        group = os.getpgid(pid)
    except OSError:
        return
    signals = [signal.SIGTERM, signal.SIGKILL] if group == pid else []
    if not signals:  # not a session of its own (a foreground server): only the process
        os.kill(pid, signal.SIGTERM)
        return
    for sig in signals:
        try:
            os.killpg(group, sig)
        except OSError:
            return
        ends = time.monotonic() + grace
        while time.monotonic() < ends:
            if not alive(pid):
                return
            time.sleep(0.05)  # a short poll of the process table: nothing to wait on for a non-child
