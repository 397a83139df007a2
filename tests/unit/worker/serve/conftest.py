"""The built-in server as a real subprocess on loopback over a file:// store holding small real
models: the digits MLP as ONNX, and conversions of it that record parity samples."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from modelyard.api.modelversion import ModelVersion
from modelyard.storage.fs import FileStore
from tests.support import evaluation as ev

ROOT = Path(__file__).resolve().parents[4]
START_DEADLINE_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def version_json(version: ModelVersion) -> str:
    return json.dumps(version.model_dump(by_alias=True, exclude_none=True, mode="json"))


@dataclass
class Server:
    process: subprocess.Popen
    http_port: int
    grpc_port: int
    log: Path
    termination: Path
    model: str

    @property
    def http(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def output(self) -> str:
        return self.log.read_text()

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://{self.http}{path}", timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def wait_ready(self, deadline_s: float = START_DEADLINE_S) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited ({self.process.returncode}):\n{self.output()}")
            try:
                if self.get("/v2/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the server was not ready within {deadline_s}s:\n{self.output()}")

    def wait_exit(self, deadline_s: float = START_DEADLINE_S) -> int:
        return self.process.wait(timeout=deadline_s)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=30)


@dataclass
class Servers:
    tmp: Path
    started: list[Server] = field(default_factory=list)

    def start(self, store: FileStore, version: ModelVersion, env: dict[str, str] | None = None,
              args: list[str] | None = None) -> Server:
        http_port, grpc_port = free_port(), free_port()
        index = len(self.started)
        log, termination = self.tmp / f"server{index}.log", self.tmp / f"server{index}.termination"
        workdir = self.tmp / f"work{index}"
        workdir.mkdir()
        environ = {**os.environ, "MODELYARD_OBJECT": version_json(version), "MODELYARD_WORKDIR": str(workdir),
                   "MODELYARD_SERVE_HOST": "127.0.0.1", "MODELYARD_TERMINATION_LOG": str(termination),
                   "PYTHONPATH": os.pathsep.join([str(ROOT / "operator"), str(ROOT)]), **(env or {})}
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard.worker", "serve", "--store", store.uri, "--http-port", str(http_port),
             "--grpc-port", str(grpc_port), "--threads", "1", *(args or [])],
            env=environ, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=workdir)
        server = Server(process, http_port, grpc_port, log, termination, version.spec.model_ref.name)
        self.started.append(server)
        return server


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    held = Servers(tmp_path)
    yield held
    for server in held.started:
        server.stop()


@dataclass(frozen=True)
class Stored:
    store: FileStore
    version: ModelVersion
    onnx: Path


@pytest.fixture(scope="session")
def digits_store(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    folder = tmp_path_factory.mktemp("serve")
    module = ev.classifier()
    onnx = ev.mlp_onnx(module, folder / "model.onnx")
    store = FileStore(folder / "store")
    version = ev.publish(store, onnx, "1.0.0", signature=ev.MLP_SIGNATURE)
    return Stored(store, version, onnx)


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())
