# ruff: noqa: F811 - the registry fixtures are imported from tests/support/registry.py and named as parameters
"""Import from a real OCI registry (Debian's docker-registry, tests/support/registry.py): the worker
pulls over the distribution API, no container engine.

What a hand-written fake would not show: the registry's own auth challenges and error bodies,
its content negotiation of manifests, its storage serving a blob whose bytes rotted.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

from modelyard.storage.fs import FileStore
from modelyard.storage.layout import read_manifest, verify_version
from modelyard.worker.importer import run_import
from modelyard.worker.oci.errors import OciError
from tests.support import builders
from tests.support.registry import (RegistryServer, TokenRegistry, no_user_credentials, registry, tar_file,  # noqa: F401
                                    token_registry)
from tests.support.sources import tiny_onnx

MIB = 1024 * 1024
PREFIX = "default/classifier/1.0.0"
SIGNATURE = {"inputs": [{"name": "x", "shape": [-1]}], "outputs": [{"name": "y", "shape": [-1]}]}
RUN = uuid.uuid4().hex[:8]
"""Repositories are per run: a registry reused across runs (MODELYARD_REGISTRY_ENV) keeps its tags."""

pytestmark = pytest.mark.usefixtures("no_user_credentials")


def weights(path: Path, floats: int = 1024) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"w": np.arange(floats, dtype="float32")}, str(path))
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def oci_job(tmp_path: Path, store: FileStore, reference: str, path: str | None = None, secret: str | None = None,
            format: str = "safetensors", registry_auth: Path | None = None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = {"reference": reference, **({"path": path} if path else {}),
              **({"pullSecretRef": {"name": secret}} if secret else {})}
    job = builders.import_job(tmp_path, store, format=format, signature=SIGNATURE if format == "safetensors" else None,
                              source={"oci": source})
    job.registry_auth = registry_auth
    return job


def nothing_stored(store: FileStore) -> bool:
    return store.list("") == []


def test_import_by_tag_and_by_digest_records_what_the_tag_pointed_at(registry: RegistryServer, tmp_path: Path):
    model = weights(tmp_path / "src" / "model.safetensors").read_bytes()
    digest = registry.pusher().oras(f"team{RUN}/classifier", "1.0", {"model.safetensors": model})
    by_tag = FileStore(tmp_path / "by-tag")
    result = run_import(oci_job(tmp_path, by_tag, f"{registry.open}/team{RUN}/classifier:1.0"))
    assert result["phase"] == "Ready" and result["reason"] == "Imported"
    manifest, _ = verify_version(by_tag, PREFIX)
    assert [(f.path, f.sha256) for f in manifest.files] == [("model.safetensors", sha(model))]
    assert manifest.lineage["oci"] == f"{registry.open}/team{RUN}/classifier:1.0" and manifest.lineage["ociDigest"] == digest
    assert manifest.source == {"oci": f"{registry.open}/team{RUN}/classifier:1.0", "digest": digest,
                               "kind": "ORAS artifact", "mediaType": "application/vnd.oci.image.manifest.v1+json"}
    assert result["source"]["digest"] == digest
    by_digest = FileStore(tmp_path / "by-digest")
    run_import(oci_job(tmp_path, by_digest, f"{registry.open}/team{RUN}/classifier@{digest}"))
    assert read_manifest(by_digest, PREFIX)[0].files == manifest.files
    again = run_import(oci_job(tmp_path, by_tag, f"{registry.open}/team{RUN}/classifier:1.0"))
    assert again["reason"] == "AlreadyImported"


def secret_folder(tmp_path: Path, registry: RegistryServer, password: str | None = None, host: str | None = None) -> Path:
    """The pull secret as the import Job mounts it: kubectl create secret docker-registry's key."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    folder = tmp_path / "registry-auth"
    config = registry.docker_config(tmp_path / "made", password, host)
    folder.mkdir()
    (folder / ".dockerconfigjson").write_text((config / "config.json").read_text())
    return folder


def test_a_private_repository_with_a_pull_secret(registry: RegistryServer, tmp_path: Path):
    model = weights(tmp_path / "src" / "model.safetensors").read_bytes()
    registry.pusher(authenticated=True).oras(f"private{RUN}/classifier", "1.0", {"model.safetensors": model})
    store = FileStore(tmp_path / "store")
    run_import(oci_job(tmp_path, store, f"{registry.auth}/private{RUN}/classifier:1.0", secret="regcred",
                       registry_auth=secret_folder(tmp_path, registry)))
    assert verify_version(store, PREFIX)[0].files[0].sha256 == sha(model)


def test_a_wrong_password_names_the_registry_and_the_secret_and_stores_nothing(registry: RegistryServer, tmp_path: Path):
    registry.pusher(authenticated=True).oras(f"private{RUN}/wrong", "1.0", {"model.safetensors": b"x"})
    store = FileStore(tmp_path / "store")
    job = oci_job(tmp_path, store, f"{registry.auth}/private{RUN}/wrong:1.0", secret="regcred",
                  registry_auth=secret_folder(tmp_path, registry, password="not-the-password"))
    with pytest.raises(OciError) as caught:
        run_import(job)
    assert caught.value.reason == "RegistryAuthFailed"
    message = str(caught.value)
    assert f"registry {registry.auth} refused the credentials from pull secret \"regcred\"" in message
    assert "not-the-password" not in message and registry.password not in message
    assert nothing_stored(store)


def test_without_credentials_a_private_repository_says_how_to_give_them(registry: RegistryServer, tmp_path: Path):
    registry.pusher(authenticated=True).oras(f"private{RUN}/anon", "1.0", {"model.safetensors": b"x"})
    with pytest.raises(OciError) as caught:
        run_import(oci_job(tmp_path, FileStore(tmp_path / "store"), f"{registry.auth}/private{RUN}/anon:1.0"))
    assert caught.value.reason == "RegistryAuthRequired" and "spec.source.oci.pullSecretRef" in str(caught.value)


def test_a_registry_behind_token_auth_as_docker_hub_and_harbor_run_it(registry: RegistryServer, token_registry: TokenRegistry,
                                                                       tmp_path: Path):
    """distribution's own token auth: a 401 names the realm, the worker asks it for a token with
    the pull secret's credentials, the registry checks the token's signature and grants."""
    model = weights(tmp_path / "src" / "model.safetensors").read_bytes()
    token_registry.pusher(f"private{RUN}/classifier").oras(f"private{RUN}/classifier", "1.0", {"model.safetensors": model})
    reference = f"{token_registry.host}/private{RUN}/classifier:1.0"
    store = FileStore(tmp_path / "store")
    run_import(oci_job(tmp_path, store, reference, secret="regcred", registry_auth=secret_folder(tmp_path, registry,
                       host=token_registry.host)))
    assert verify_version(store, PREFIX)[0].files[0].sha256 == sha(model)
    granted = token_registry.service.issued[-1]
    assert granted["sub"] == registry.username and granted["aud"] == "modelyard-test"
    assert granted["access"] == [{"type": "repository", "name": f"private{RUN}/classifier", "actions": ["pull"]}]
    with pytest.raises(OciError) as caught:
        run_import(oci_job(tmp_path / "anonymous", FileStore(tmp_path / "s2"), reference))
    assert caught.value.reason == "RegistryAuthRequired"
    with pytest.raises(OciError) as caught:
        run_import(oci_job(tmp_path / "wrong", FileStore(tmp_path / "s3"), reference, secret="regcred",
                           registry_auth=secret_folder(tmp_path / "wrong", registry, "not-it", host=token_registry.host)))
    assert caught.value.reason == "RegistryAuthFailed" and 'pull secret "regcred"' in str(caught.value)


def test_a_missing_tag_is_not_found_and_nothing_is_registered(registry: RegistryServer, tmp_path: Path):
    registry.pusher().oras(f"team{RUN}/tagged", "1.0", {"model.safetensors": b"x"})
    store = FileStore(tmp_path / "store")
    with pytest.raises(OciError) as caught:
        run_import(oci_job(tmp_path, store, f"{registry.open}/team{RUN}/tagged:2.0"))
    assert caught.value.reason == "NotFound"
    assert str(caught.value).startswith(f"{registry.open}/team{RUN}/tagged:2.0 not found in registry {registry.open}")
    assert "MANIFEST_UNKNOWN" in str(caught.value) and nothing_stored(store)


def test_a_blob_whose_bytes_do_not_match_its_digest_is_refused(registry: RegistryServer, tmp_path: Path):
    # bytes of this run only: the registry's storage is shared by digest, and this blob is spoiled for good
    (tmp_path / "src").mkdir()
    save_file({"w": np.random.default_rng().random(64 * 1024, dtype="float32")}, str(tmp_path / "src" / "model.safetensors"))
    model = (tmp_path / "src" / "model.safetensors").read_bytes()
    digest = registry.pusher().oras(f"team{RUN}/rotted", "1.0", {"model.safetensors": model})
    layer = json.loads(registry.blob_file(digest).read_bytes())["layers"][0]
    stored = registry.blob_file(layer["digest"])
    stored.write_bytes(model[:-4] + b"ROT!")  # same size, other bytes: what bit rot or a bad mirror serves
    store = FileStore(tmp_path / "store")
    job = oci_job(tmp_path, store, f"{registry.open}/team{RUN}/rotted:1.0")
    with pytest.raises(OciError) as caught:
        run_import(job)
    assert caught.value.reason == "BlobDigestMismatch"
    assert layer["digest"] in str(caught.value) and "nothing was imported" in str(caught.value)
    assert nothing_stored(store) and not (job.workdir / "oci").exists()


def test_a_multi_layer_image_with_the_model_in_a_lower_layer(registry: RegistryServer, tmp_path: Path):
    """A KServe modelcar: the model under /models of an image, below layers that change other files."""
    model = tiny_onnx(tmp_path / "src" / "model.onnx").read_bytes()
    registry.pusher().image(f"team{RUN}/modelcar", "1.0", [
        {"bin": None, "bin/sh": b"#!", "models": None, "models/model.onnx": model, "models/stale.txt": b"old"},
        {"etc": None, "etc/hostname": b"modelcar"},
        {"models/.wh.stale.txt": b"", "models/README.md": b"# model"},
    ])
    store = FileStore(tmp_path / "store")
    result = run_import(oci_job(tmp_path, store, f"{registry.open}/team{RUN}/modelcar:1.0", format="onnx"))
    manifest, _ = verify_version(store, PREFIX)
    assert {f.path: f.sha256 for f in manifest.files} == {"model.onnx": sha(model), "README.md": sha(b"# model")}
    assert result["signature"]["inputs"][0]["name"] == "x" and manifest.source["kind"] == "image"


def test_a_path_through_a_link_in_the_image_is_followed(registry: RegistryServer, tmp_path: Path):
    model = weights(tmp_path / "src" / "w.safetensors").read_bytes()
    registry.pusher().image(f"team{RUN}/linked", "1.0", [{"mnt/models/w.safetensors": model}, {"models": ("symlink", "/mnt/models")}])
    store = FileStore(tmp_path / "store")
    run_import(oci_job(tmp_path, store, f"{registry.open}/team{RUN}/linked:1.0", path="/models/w.safetensors"))
    assert verify_version(store, PREFIX)[0].files[0].sha256 == sha(model)


def test_a_modelkit_gives_its_model_and_not_its_datasets(registry: RegistryServer, tmp_path: Path):
    model = weights(tmp_path / "src" / "w.safetensors").read_bytes()
    registry.pusher().modelkit(f"team{RUN}/kit", "1.0", "weights", {"weights/model.safetensors": model},
                               datasets={"train.csv": b"a,b\n1,2\n"})
    store = FileStore(tmp_path / "store")
    run_import(oci_job(tmp_path, store, f"{registry.open}/team{RUN}/kit:1.0"))
    manifest, _ = verify_version(store, PREFIX)
    assert [(f.path, f.sha256) for f in manifest.files] == [("model.safetensors", sha(model))]
    assert manifest.source["kind"] == "ModelKit"


def test_a_file_that_is_not_the_declared_format_is_refused_from_its_first_bytes(registry: RegistryServer, tmp_path: Path):
    registry.pusher().oras(f"team{RUN}/notonnx", "1.0", {"model.onnx": b"<html>not a model</html>" * 10})
    store = FileStore(tmp_path / "store")
    from modelyard.worker.importer import ImportFailure

    with pytest.raises(ImportFailure) as caught:
        run_import(oci_job(tmp_path, store, f"{registry.open}/team{RUN}/notonnx:1.0", format="onnx"))
    assert caught.value.reason == "WrongFormat" and nothing_stored(store)


PEAK = ("import sys; from modelyard.worker.__main__ import main; code = main(sys.argv[1:]); "
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1], file=sys.stderr); "
        "sys.exit(code)")
"""The worker's command with its peak RSS (VmHWM, KiB) on stderr at the end: a forked child's
rusage would count its parent's pages from before exec."""


def run_worker(tmp_path: Path, reference: str, store: Path) -> tuple[dict, int, float]:
    """The import as its Job runs it (python -m modelyard.worker import): its result, peak RSS
    in KiB and wall time."""
    body = builders.model_version(format="safetensors", signature=SIGNATURE, source={"oci": {"reference": reference}})
    body["metadata"]["namespace"] = "default"
    tmp_path.mkdir(parents=True, exist_ok=True)
    obj = tmp_path / "mv.yaml"
    obj.write_text(yaml.safe_dump(body))
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = {**os.environ, "MODELYARD_WORKDIR": str(work)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", PEAK, "import", "--object", str(obj), "--store", f"file://{store}",
                           "--termination-log", str(tmp_path / "termination")], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    peak = int(done.stderr.strip().splitlines()[-1])
    return json.loads(done.stdout.strip().splitlines()[-1]), peak, time.monotonic() - started


def big_safetensors(path: Path, mib: int) -> Path:
    """A safetensors file of `mib` MiB written in chunks (the test process never holds it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = mib * MIB
    header = json.dumps({"w": {"dtype": "F32", "shape": [size // 4], "data_offsets": [0, size]}}).encode()
    header += b" " * (-len(header) % 8)
    chunk = np.arange(MIB // 4, dtype="float32").tobytes()
    with path.open("wb") as out:
        out.write(len(header).to_bytes(8, "little") + header)
        for _ in range(mib):
            out.write(chunk)
    return path


def streamed(registry: RegistryServer, tmp_path: Path, mib: int) -> tuple[int, int, float]:
    """Push a `mib` MiB model as an image layer and import it in a worker process: (peak RSS
    of that import, of a 4 KiB one, seconds)."""
    big = big_safetensors(tmp_path / "big" / "model.safetensors", mib)
    registry.pusher().image(f"team{RUN}/big{mib}", "1", [tar_file(tmp_path / "big" / "layer.tar", {"models/model.safetensors": big})])
    small = weights(tmp_path / "small" / "model.safetensors", 1024)
    registry.pusher().image(f"team{RUN}/small{mib}", "1", [{"models/model.safetensors": small.read_bytes()}], compress=False)
    _, baseline, _ = run_worker(tmp_path / "s", f"{registry.open}/team{RUN}/small{mib}:1", tmp_path / "store-small")
    result, peak, seconds = run_worker(tmp_path / "b", f"{registry.open}/team{RUN}/big{mib}:1", tmp_path / "store-big")
    assert result["artifact"]["sizeBytes"] == big.stat().st_size
    digest = hashlib.sha256()
    with big.open("rb") as stream:
        while chunk := stream.read(MIB):
            digest.update(chunk)
    assert result["artifact"]["files"][0]["sha256"] == digest.hexdigest()
    print(f"{mib} MiB through the registry: {seconds:.1f} s, peak RSS {peak // 1024} MiB (a 4 KiB model: {baseline // 1024} MiB)")
    return peak, baseline, seconds


def test_a_large_model_streams_with_flat_memory(registry: RegistryServer, tmp_path: Path):
    peak, baseline, _ = streamed(registry, tmp_path, 64)
    assert peak - baseline < 24 * 1024, f"peak RSS grew {(peak - baseline) // 1024} MiB for a 64 MiB model"


@pytest.mark.skipif(os.environ.get("MODELYARD_TEST_BIG_MODELS") != "1", reason="1 GiB: opt in with MODELYARD_TEST_BIG_MODELS=1")
def test_a_1_gib_model_streams_with_flat_memory(registry: RegistryServer, tmp_path: Path):
    peak, baseline, _ = streamed(registry, tmp_path, 1024)
    assert peak - baseline < 32 * 1024, f"peak RSS grew {(peak - baseline) // 1024} MiB for a 1 GiB model"


def test_a_failed_pull_is_the_versions_condition_naming_the_reference(registry: RegistryServer, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]):
    """Through local mode (the operator's reconcile code, the Job's worker): what a user sees."""
    from modelyard.cli import main

    reference = f"{registry.open}/team{RUN}/absent:1.0"
    body = builders.model_version(format="safetensors", signature=SIGNATURE, source={"oci": {"reference": reference}})
    (tmp_path / "mv.yaml").write_text(yaml.safe_dump_all([builders.model(), body]))
    assert main(["local", "apply", "-f", str(tmp_path / "mv.yaml"), "--home", str(tmp_path / "home")]) == 1
    capsys.readouterr()
    assert main(["local", "get", "mv", "classifier-1-0-0", "-o", "json", "--home", str(tmp_path / "home")]) == 0
    status = json.loads(capsys.readouterr().out)["status"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert status["phase"] == "Failed" and conditions["Stalled"]["status"] == "True"
    assert conditions["Ready"]["reason"] == "NotFound"
    assert conditions["Ready"]["message"].startswith(f"{reference} not found in registry {registry.open} (MANIFEST_UNKNOWN")
