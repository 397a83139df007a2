"""A real S3 server on loopback (moto's server mode) for storage tests."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Iterator

import pytest

ACCESS_KEY = "AKIAMODELYARDTEST"
SECRET_KEY = "modelyard-test-secret-never-logged-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class S3Server:
    """A running moto server; `stop()`/`start()` simulate an outage on the same port."""

    port: int
    server: object

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    running = S3Server(port, server)
    yield running
    try:
        running.stop()
    except Exception:  # already stopped by a fault test
        pass


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Credentials and endpoint in the environment, as the Job would set them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MODELYARD_S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("MODELYARD_S3_ADDRESSING_STYLE", "path")
    monkeypatch.setenv("MODELYARD_S3_MAX_ATTEMPTS", "2")
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return s3_server


@pytest.fixture
def bucket(s3_env: S3Server, request: pytest.FixtureRequest) -> str:
    """A fresh bucket per test."""
    import re

    from modelyard.storage.config import S3Settings
    from modelyard.storage.s3 import make_client

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:50].strip("-") + f"-{free_port()}"
    make_client(S3Settings()).create_bucket(Bucket=name)
    return name
