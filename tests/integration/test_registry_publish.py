# ruff: noqa: F811 - the registry fixtures are imported from tests/support/registry.py and named as parameters
"""Publish a Ready version to a real OCI registry as a KitOps ModelKit and pull it back, through
the `modelyard` command line in local mode (the same store code and worker as on a cluster)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import uuid
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

from modelyard.cli import main
from modelyard.storage.fs import FileStore
from modelyard.storage.layout import verify_version
from modelyard.worker.importer import run_import
from tests.support import builders
from tests.support.registry import LAYER_TAR, OCI_MANIFEST, RegistryServer, no_user_credentials, registry  # noqa: F401
from tests.support.sources import tar_gz

RUN = uuid.uuid4().hex[:8]
"""Repositories are per run: a registry reused across runs (MODELYARD_REGISTRY_ENV) keeps its tags."""

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_user_credentials")]
SIGNATURE = {"inputs": [{"name": "x", "shape": [-1]}], "outputs": [{"name": "y", "shape": [-1]}]}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def version(name: str, semver: str, source: dict[str, Any]) -> dict[str, Any]:
    return builders.model_version(name, version=semver, format="safetensors", signature=SIGNATURE, source=source)


def apply(capsys: pytest.CaptureFixture[str], home: Path, *bodies: dict[str, Any]) -> None:
    manifests = home.parent / f"{bodies[-1]['metadata']['name']}.yaml"
    manifests.write_text(yaml.safe_dump_all(bodies))
    code, out, err = run(capsys, "local", "apply", "-f", str(manifests), "--home", str(home))
    assert code == 0, out + err


def stored(home: Path, semver: str) -> tuple[dict[str, str], str, dict]:
    manifest, digest = verify_version(FileStore(home / "store"), f"default/classifier/{semver}")
    return {f.path: f.sha256 for f in manifest.files}, digest, manifest.lineage


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Local mode with version 1.0.0 imported: a model folder of two files, one nested."""
    src = tmp_path / "src"
    src.mkdir()
    save_file({"w": np.arange(4096, dtype="float32")}, str(src / "model.safetensors"))
    (src / "config.json").write_text('{"hidden": 16}')
    archive = tar_gz(tmp_path / "model.tar.gz", {"model.safetensors": src / "model.safetensors",
                                                  "extra/config.json": src / "config.json"})
    home = tmp_path / "home"
    apply(capsys, home, builders.model(), version("classifier-1-0-0", "1.0.0", {"uri": f"file://{archive}"}))
    return home


def published(out: str) -> str:
    return out.strip().splitlines()[-1].rsplit("@", 1)[1]


def fetch(registry: RegistryServer, path: str, accept: str = OCI_MANIFEST) -> bytes:
    request = urllib.request.Request(f"http://{registry.open}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return response.read()


def test_a_published_version_imports_back_with_the_same_files_and_digests(registry: RegistryServer, home: Path,
                                                                          capsys: pytest.CaptureFixture[str]):
    target = f"oci://{registry.open}/team{RUN}/classifier:1.0.0"
    code, out, err = run(capsys, "local", "publish", "classifier-1-0-0", target, "--home", str(home))
    assert code == 0, err
    digest = published(out)
    assert out.startswith(f"published classifier-1-0-0 to {registry.open}/team{RUN}/classifier:1.0.0: {digest}")
    apply(capsys, home, version("classifier-2-0-0", "2.0.0", {"oci": {"reference": target.removeprefix("oci://")}}))
    original, original_digest, _ = stored(home, "1.0.0")
    pulled, _, lineage = stored(home, "2.0.0")
    assert pulled == original and set(original) == {"model.safetensors", "extra/config.json"}
    assert lineage["ociDigest"] == digest
    # and pinned by digest, as the printed reference says
    apply(capsys, home, version("classifier-3-0-0", "3.0.0", {"oci": {"reference": f"{registry.open}/team{RUN}/classifier@{digest}"}}))
    assert stored(home, "3.0.0")[0] == original
    manifest = json.loads(fetch(registry, f"team{RUN}/classifier/manifests/{digest}"))
    assert manifest["annotations"]["dev.modelyard.digest"] == original_digest


def test_the_modelkit_keeps_kits_rules_and_its_model_layer_is_a_modelcar_layer(registry: RegistryServer, home: Path,
                                                                                capsys: pytest.CaptureFixture[str],
                                                                                tmp_path: Path):
    code, out, _ = run(capsys, "local", "publish", "classifier-1-0-0", f"oci://{registry.open}/team{RUN}/kit:1", "--home", str(home))
    assert code == 0
    manifest = json.loads(fetch(registry, f"team{RUN}/kit/manifests/{published(out)}"))
    config = manifest["config"]
    assert config["mediaType"] == "application/vnd.kitops.modelkit.config.v1+json"
    kitfile = json.loads(fetch(registry, f"team{RUN}/kit/blobs/{config['digest']}", "*/*"))
    model_layer, docs_layer = manifest["layers"]
    # What kit's unpack checks: media types it parses, each layer's digest as the Kitfile records
    # it, tar entries that are folders or regular files only, under the Kitfile's path.
    assert model_layer["mediaType"] == "application/vnd.kitops.modelkit.model.v1.tar"
    assert docs_layer["mediaType"] == "application/vnd.kitops.modelkit.docs.v1.tar"
    assert kitfile["model"]["digest"] == model_layer["digest"] and kitfile["docs"][0]["digest"] == docs_layer["digest"]
    assert kitfile["model"]["path"] == "models" and kitfile["package"]["version"] == "1.0.0"
    files, version_digest, _ = stored(home, "1.0.0")
    with tarfile.open(fileobj=io.BytesIO(fetch(registry, f"team{RUN}/kit/blobs/{model_layer['digest']}", "*/*"))) as tar:
        members = tar.getmembers()
        assert all(m.isdir() or m.isfile() for m in members)
        assert {m.name: hashlib.sha256(tar.extractfile(m).read()).hexdigest() for m in members if m.isfile()} == {
            f"models/{p}": s for p, s in files.items()}
    with tarfile.open(fileobj=io.BytesIO(fetch(registry, f"team{RUN}/kit/blobs/{docs_layer['digest']}", "*/*"))) as tar:
        stored_manifest = tar.extractfile("modelyard/manifest.json").read()
    assert "sha256:" + hashlib.sha256(stored_manifest).hexdigest() == version_digest
    # The same blob as an image layer: an image whose /models is the model (what KServe's modelcar reads).
    pusher = registry.pusher()
    image_config = pusher.blob(f"team{RUN}/kit", json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [model_layer["digest"]]}}).encode(), "application/vnd.oci.image.config.v1+json")
    pusher.manifest(f"team{RUN}/kit", "1-modelcar", {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": image_config,
                                               "layers": [{**model_layer, "mediaType": LAYER_TAR, "annotations": {}}]})
    store = FileStore(tmp_path / "modelcar-store")
    job = builders.import_job(tmp_path, store, format="safetensors", signature=SIGNATURE,
                              source={"oci": {"reference": f"{registry.open}/team{RUN}/kit:1-modelcar"}})
    run_import(job)
    assert {f.path: f.sha256 for f in verify_version(store, "default/classifier/1.0.0")[0].files} == files


def test_a_tag_that_points_elsewhere_is_moved_only_with_force(registry: RegistryServer, home: Path,
                                                              capsys: pytest.CaptureFixture[str]):
    elsewhere = registry.pusher().oras(f"team{RUN}/taken", "1.0.0", {"other.bin": b"someone else's"})
    target = f"oci://{registry.open}/team{RUN}/taken:1.0.0"
    code, _, err = run(capsys, "local", "publish", "classifier-1-0-0", target, "--home", str(home))
    assert code == 1
    assert f"error: {registry.open}/team{RUN}/taken:1.0.0 already points at {elsewhere}, not at this version" in err
    assert "--force" in err
    assert json.loads(fetch(registry, f"team{RUN}/taken/manifests/1.0.0"))["layers"][0]["annotations"]["org.opencontainers.image.title"] == "other.bin"
    code, out, _ = run(capsys, "local", "publish", "classifier-1-0-0", target, "--home", str(home), "--force")
    assert code == 0 and f"(moved from {elsewhere})" in out
    code, out, _ = run(capsys, "local", "publish", "classifier-1-0-0", target, "--home", str(home))
    assert code == 0 and "already is this version" in out and "nothing pushed" in out


def test_credentials_come_from_the_docker_config_and_are_never_printed(registry: RegistryServer, home: Path,
                                                                       capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    target = f"oci://{registry.auth}/private{RUN}/classifier:1.0.0"
    code, _, err = run(capsys, "local", "publish", "classifier-1-0-0", target, "--home", str(home))
    assert code == 1 and "asks for credentials to push to" in err and "docker login" in err
    wrong = registry.docker_config(tmp_path / "wrong", password="not-the-password")
    monkeypatch.setenv("DOCKER_CONFIG", str(wrong))
    code, out, err = run(capsys, "local", "publish", "classifier-1-0-0", target, "--home", str(home))
    assert code == 1 and f"registry {registry.auth} refused the credentials from {wrong / 'config.json'}" in err
    monkeypatch.setenv("DOCKER_CONFIG", str(registry.docker_config(tmp_path / "right")))
    code, out, err = run(capsys, "local", "publish", "classifier-1-0-0", target, "--home", str(home))
    assert code == 0, err
    assert "not-the-password" not in out + err and registry.password not in out + err
    # the import of what was pushed, by a local worker, with the same docker config
    apply(capsys, home, version("classifier-2-0-0", "2.0.0", {"oci": {"reference": target.removeprefix("oci://")}}))
    assert stored(home, "2.0.0")[0] == stored(home, "1.0.0")[0]


def test_only_a_ready_version_is_published(registry: RegistryServer, home: Path, capsys: pytest.CaptureFixture[str]):
    code, _, err = run(capsys, "local", "publish", "nothing-here", f"oci://{registry.open}/team{RUN}/x:1", "--home", str(home))
    assert code == 1 and 'ModelVersion "nothing-here" not found' in err
    code, _, err = run(capsys, "local", "publish", "classifier-1-0-0", f"{registry.open}/team{RUN}/x@sha256:{'0' * 64}",
                       "--home", str(home))
    assert code == 1 and "publish needs a tag" in err


def test_a_models_publish_rule_pushes_its_versions_and_records_the_digest(registry: RegistryServer, home: Path,
                                                                          capsys: pytest.CaptureFixture[str]):
    """Model spec.publish: every Ready version pushed by a publish Job (local mode runs it as a
    local process), its digest in status.published and a Published condition; a tag that points
    elsewhere is never moved, and says so."""
    repository = f"oci://{registry.open}/rule{RUN}/classifier"
    apply(capsys, home, builders.model(publish={"repository": repository, "when": "Ready"}))
    code, out, err = run(capsys, "local", "get", "mv", "classifier-1-0-0", "-o", "json", "--home", str(home))
    status = json.loads(out)["status"]
    (entry,) = status["published"]
    assert entry["reference"] == f"{registry.open}/rule{RUN}/classifier:1.0.0" and entry["digest"].startswith("sha256:")
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Published"]["status"] == "True" and entry["digest"] in conditions["Published"]["message"]
    # the pushed ModelKit imports back with the version's own files
    apply(capsys, home, version("classifier-9-0-0", "9.0.0", {"oci": {"reference": f"{registry.open}/rule{RUN}/classifier@{entry['digest']}"}}))
    assert stored(home, "9.0.0")[0] == stored(home, "1.0.0")[0]
    # 9.0.0 itself is Ready, so the rule pushes it too, to its own tag
    code, out, _ = run(capsys, "local", "get", "mv", "classifier-9-0-0", "-o", "json", "--home", str(home))
    assert json.loads(out)["status"]["published"][0]["reference"].endswith(":9.0.0")


def test_a_publish_rule_never_moves_a_tag_that_points_elsewhere(registry: RegistryServer, home: Path,
                                                               capsys: pytest.CaptureFixture[str], tmp_path: Path):
    repository = f"{registry.open}/taken{RUN}/classifier"
    other = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(8, dtype="float32")}, str(other))
    apply(capsys, home, version("classifier-0-9-0", "0.9.0", {"uri": f"file://{other}"}))
    code, _, err = run(capsys, "local", "publish", "classifier-0-9-0", f"oci://{repository}:1.0.0", "--home", str(home))
    assert code == 0, err
    manifests = home.parent / "rule.yaml"
    manifests.write_text(yaml.safe_dump(builders.model(publish={"repository": repository, "when": "Ready"})))
    run(capsys, "local", "apply", "-f", str(manifests), "--home", str(home))  # the failed push makes it exit 1
    code, out, _ = run(capsys, "local", "get", "mv", "classifier-1-0-0", "-o", "json", "--home", str(home))
    status = json.loads(out)["status"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert status["phase"] == "Ready" and not status.get("published")
    assert conditions["Published"]["status"] == "False" and conditions["Published"]["reason"] == "TagExists"
    assert f"{repository}:1.0.0 already points at" in conditions["Published"]["message"]
