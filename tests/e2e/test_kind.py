"""The whole product on a kind cluster (hack/e2e-kind.sh). Opt-in: `pytest -m e2e`; needs
Docker, kind, kubectl and helm, and takes tens of minutes (images are built first)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _docker_running() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


pytestmark = [
    pytest.mark.skipif(not _docker_running(), reason="no Docker engine (docker info fails)"),
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in ("kind", "kubectl", "helm")), reason="kind, kubectl and helm are needed"
    ),
]


def test_quickstart_on_kind():
    result = subprocess.run(["bash", "hack/e2e-kind.sh", "examples/quickstart"], cwd=ROOT, timeout=3600)
    assert result.returncode == 0, "hack/e2e-kind.sh failed; logs are in /tmp/modelyard-e2e-artifacts"
