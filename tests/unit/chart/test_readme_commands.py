"""The README's "On a cluster" commands, exercised as far as they go without a cluster: the helm
install renders valid objects with exactly its --set values, and what it applies is valid."""

from __future__ import annotations

import re
import shlex

from modelyard.api.validation import parse_manifest
from modelyard.manifests import load
from tests.support import helm
from tests.support.helm import ROOT
from tests.support.k8s import assert_valid


def _commands() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## On a cluster", 1)[1]
    block = re.search(r"```text\n(.+?)\n```", section, flags=re.S)[1]
    joined = block.replace("\\\n", " ")
    return [shlex.split(line.split("#", 1)[0]) for line in joined.splitlines() if line.strip()]


def test_the_helm_install_renders_valid_objects_with_its_values():
    install = next(c for c in _commands() if c[:2] == ["helm", "install"])
    sets = tuple(install[i + 1] for i, arg in enumerate(install) if arg == "--set")
    assert install[3] == "charts/modelyard" and (ROOT / install[3] / "Chart.yaml").is_file()
    objects = helm.render(sets=sets)
    for obj in objects:
        assert_valid(obj)
    env = helm.operator_env(objects)
    assert env["MODELYARD_STORE_URI"] == "s3://models/modelyard"
    assert env["MODELYARD_S3_ENDPOINT"] == "http://minio.minio.svc:9000"
    assert env["MODELYARD_STORE_SECRET_NAME"] == "model-store-credentials"


def test_what_the_readme_applies_is_valid():
    applied = [c for c in _commands() if c[:2] == ["kubectl", "apply"]]
    assert applied
    for command in applied:
        path = ROOT / command[command.index("-f") + 1]
        docs = load([path])
        assert docs and all(parse_manifest(d.body) for d in docs)
