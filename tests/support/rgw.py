"""A real S3 server for the tests: Ceph RGW over a one-node Ceph cluster (hack/rgw.sh).

Started once per test session (13 to 20 s); or, when MODELYARD_RGW_ENV names the env file of
one already running (`hack/rgw.sh start DIR` writes DIR/env), that one is used. A machine
without Ceph gets it from Debian's packages first (`hack/rgw.sh install`); if RGW cannot be
installed or started, the tests that need it fail with the reason, never skip.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "hack" / "rgw.sh"


@dataclass
class RGW:
    """A running RGW: its endpoint and the keys of its one user."""

    endpoint: str
    access_key: str
    secret_key: str
    state: Path | None

    def client(self, secret_key: str | None = None) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=self.access_key, aws_secret_access_key=secret_key or self.secret_key,
            config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                          response_checksum_validation="when_required", retries={"max_attempts": 1}),
        )

    def env(self) -> dict[str, str]:
        """The environment a worker Job gets for this store."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": "us-east-1", "MODELYARD_S3_ENDPOINT": self.endpoint,
                "MODELYARD_S3_ADDRESSING_STYLE": "path"}

    def down(self) -> None:
        """Stop radosgw alone (the store goes away; the cluster and its data stay)."""
        _run("down")(self._state())

    def up(self) -> None:
        """Start radosgw again on the same port and wait until it serves."""
        _run("up")(self._state())

    def _state(self) -> Path:
        if self.state is None:
            raise RuntimeError("this RGW's state folder is unknown (MODELYARD_RGW_ENV): it cannot be stopped here")
        return self.state


def _run(command: str):
    def run(state: Path) -> None:
        done = subprocess.run([str(SCRIPT), command, str(state)], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"hack/rgw.sh {command} failed:\n{done.stderr[-4000:]}")

    return run


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def _from_env(path: Path, state: Path | None) -> RGW:
    values = read_env(path)
    return RGW(values["MODELYARD_RGW_ENDPOINT"], values["MODELYARD_RGW_ACCESS_KEY"],
               values["MODELYARD_RGW_SECRET_KEY"], state)


@pytest.fixture(scope="session")
def rgw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RGW]:
    given = os.environ.get("MODELYARD_RGW_ENV")
    if given:
        env = Path(given)
        yield _from_env(env, env.parent if (env.parent / "ceph.conf").exists() else None)
        return
    # Always through the script: it waits for an install in progress (CI starts one beside pip)
    # and returns at once when every tool is there.
    _run("install")(Path("."))
    state = tmp_path_factory.mktemp("rgw")
    _run("start")(state)
    try:
        yield _from_env(state / "env", state)
    finally:
        subprocess.run([str(SCRIPT), "stop", str(state)], capture_output=True, timeout=120)


@pytest.fixture
def rgw_bucket(rgw: RGW, request: pytest.FixtureRequest) -> str:
    """A fresh bucket per test."""
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + f"-{os.getpid()}"
    client = rgw.client()
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def rgw_env(rgw: RGW, monkeypatch: pytest.MonkeyPatch) -> RGW:
    """The store's endpoint and keys in the environment, as a worker Job gets them."""
    for key, value in rgw.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MODELYARD_S3_MAX_ATTEMPTS", "2")
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return rgw
