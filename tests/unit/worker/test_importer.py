"""Import end to end: every source kind, integrity, immutability, faults, secrets."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from modelyard.api.modelversion import ModelVersionSpec
from modelyard.storage.base import StoreError
from modelyard.storage.fs import FileStore
from modelyard.storage.layout import MANIFEST, RESULT, read_manifest, verify_version
from modelyard.storage.open import open_store
from modelyard.worker.__main__ import main as worker_main
from modelyard.worker.importer import ImportFailure, ImportJob, run_import
from modelyard.worker.source import SourceStream
from tests.support import builders
from tests.support.s3server import SECRET_KEY
from tests.support.sources import https_server, tar_gz, tiny_onnx

PREFIX = "default/classifier/1.0.0"


def spec(**changes) -> ModelVersionSpec:
    return ModelVersionSpec.model_validate(builders.model_version(**changes)["spec"])


def job(tmp_path: Path, store, **changes) -> ImportJob:
    return builders.import_job(tmp_path, store, **changes)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return tiny_onnx(tmp_path / "src" / "model.onnx")


def test_file_source_into_file_store(tmp_path: Path, model_file: Path):
    store = FileStore(tmp_path / "store")
    order: list[str] = []
    original = store.put
    store.put = lambda key, stream, progress=None, size=None: order.append(key.rsplit("/", 1)[-1]) or original(key, stream, progress, size)
    result = run_import(job(tmp_path, store, source={"uri": f"file://{model_file}"}))
    assert order == ["model.onnx", MANIFEST, RESULT], "the manifest is written after the files"
    assert result["ok"] and result["phase"] == "Ready" and result["reason"] == "Imported"
    manifest, digest = verify_version(store, PREFIX)
    assert result["artifact"]["digest"] == digest
    assert digest == "sha256:" + hashlib.sha256(store.get_bytes(f"{PREFIX}/{MANIFEST}")).hexdigest()
    (entry,) = manifest.files
    assert entry.path == "model.onnx"
    assert entry.sha256 == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert manifest.signature["inputs"] == [{"name": "x", "dtype": "float32", "shape": [-1, 4]}]
    assert manifest.tools["modelyard"] and manifest.tools["onnx"]
    assert json.loads(store.get_bytes(f"{PREFIX}/{RESULT}"))["artifact"]["digest"] == digest


def test_s3_source_is_streamed_once_into_the_s3_store(tmp_path: Path, model_file: Path, bucket: str):
    source = open_store(f"s3://{bucket}")
    source.put_bytes("runs/42/model.onnx", model_file.read_bytes())
    store = open_store(f"s3://{bucket}/store")
    gets = []
    import modelyard.storage.s3 as s3

    original = s3._ResumingReader._open
    s3._ResumingReader._open = lambda self: gets.append(self._key) or original(self)
    try:
        sha = hashlib.sha256(model_file.read_bytes()).hexdigest()
        result = run_import(job(tmp_path, store, source={"uri": f"s3://{bucket}/runs/42/model.onnx", "sha256": sha}))
    finally:
        s3._ResumingReader._open = original
    assert gets == ["runs/42/model.onnx"], "one GET of the source, nothing read back"
    assert result["artifact"]["uri"] == f"s3://{bucket}/store/{PREFIX}/"
    manifest, _ = verify_version(store, PREFIX)
    assert manifest.source == {"uri": f"s3://{bucket}/runs/42/model.onnx", "sha256": sha}


def test_wrong_sha256_fails_with_both_digests_and_stores_nothing(tmp_path: Path, model_file: Path):
    store = FileStore(tmp_path / "store")
    wrong = "0" * 64
    with pytest.raises(ImportFailure) as caught:
        run_import(job(tmp_path, store, source={"uri": f"file://{model_file}", "sha256": wrong}))
    actual = hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert caught.value.reason == "DigestMismatch"
    assert actual in str(caught.value) and wrong in str(caught.value)
    assert store.list("") == []


def test_reimport_is_idempotent_and_a_different_model_is_refused(tmp_path: Path, model_file: Path):
    store = FileStore(tmp_path / "store")
    first = run_import(job(tmp_path, store, source={"uri": f"file://{model_file}"}))
    again = run_import(job(tmp_path, store, source={"uri": f"file://{model_file}"}))
    assert again["reason"] == "AlreadyImported"
    assert again["artifact"]["digest"] == first["artifact"]["digest"]
    other = tiny_onnx(tmp_path / "other" / "model.onnx", classes=5)
    before = {k: store.get_bytes(k) for k in store.list("")}
    with pytest.raises(StoreError) as caught:
        run_import(job(tmp_path, store, source={"uri": f"file://{other}"}, signature=None))
    assert caught.value.reason == "AlreadyExists"
    assert first["artifact"]["digest"] in str(caught.value)
    assert {k: store.get_bytes(k) for k in store.list("")} == before, "a complete version is never touched"


def test_tampered_and_truncated_files_are_named(tmp_path: Path, model_file: Path):
    store = FileStore(tmp_path / "store")
    run_import(job(tmp_path, store, source={"uri": f"file://{model_file}"}))
    stored = tmp_path / "store" / PREFIX / "model.onnx"
    data = stored.read_bytes()
    stored.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(StoreError, match=r"model.onnx: sha256 .* but the manifest records"):
        verify_version(store, PREFIX)
    stored.write_bytes(data[:100])
    with pytest.raises(StoreError, match=r"model.onnx: 100 bytes but the manifest records"):
        verify_version(store, PREFIX)


def test_archive_source_stores_every_file(tmp_path: Path, model_file: Path):
    labels = tmp_path / "src" / "labels.txt"
    labels.write_text("cat\ndog\nbird\n")
    archive = tar_gz(tmp_path / "src" / "bundle.tar.gz", {"model.onnx": model_file, "extra/labels.txt": labels})
    store = FileStore(tmp_path / "store")
    run_import(job(tmp_path, store, source={"uri": f"file://{archive}"}))
    manifest, _ = verify_version(store, PREFIX)
    assert sorted(f.path for f in manifest.files) == ["extra/labels.txt", "model.onnx"]


def test_training_job_source_records_lineage(tmp_path: Path, model_file: Path):
    store = FileStore(tmp_path / "store")
    source = {"trainingJob": {"kind": "PyTorchJob", "name": "train-43", "outputUri": f"file://{model_file}"}}
    result = run_import(job(tmp_path, store, source=source, lineage={"dataset": "s3://data/train"}))
    assert result["lineage"] == {"dataset": "s3://data/train", "trainingJob": "train-43", "trainingJobKind": "PyTorchJob"}


def test_image_source_reads_what_the_init_container_copied(tmp_path: Path, model_file: Path):
    image_root = tmp_path / "image"
    image_root.mkdir()
    (image_root / "model.onnx").write_bytes(model_file.read_bytes())
    store = FileStore(tmp_path / "store")
    source = {"image": {"image": "registry.example.com/m:1", "path": "/models/model.onnx"}}
    result = run_import(job(tmp_path, store, source=source))
    assert result["lineage"]["image"] == "registry.example.com/m:1"
    assert [f["path"] for f in result["artifact"]["files"]] == ["model.onnx"]


def test_https_source(tmp_path: Path, model_file: Path, monkeypatch):
    store = FileStore(tmp_path / "store")
    with https_server(model_file.parent, tmp_path) as (base, cert):
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        result = run_import(job(tmp_path, store, source={"uri": f"{base}/model.onnx?X-Amz-Signature=s3cr3t"}))
        assert result["ok"]
        manifest, _ = verify_version(store, PREFIX)
        assert manifest.source["uri"] == f"{base}/model.onnx?<redacted>", "pre-signed URL signatures are secrets"
        with pytest.raises(Exception, match="HTTP 404"):
            run_import(job(tmp_path, FileStore(tmp_path / "s2"), source={"uri": f"{base}/missing.onnx"}))


def test_signature_mismatch_fails_and_stores_nothing(tmp_path: Path, model_file: Path):
    store = FileStore(tmp_path / "store")
    declared = {"inputs": [{"name": "input", "shape": [-1, 3, 224, 224]}], "outputs": [{"name": "y", "shape": [-1, 3]}]}
    with pytest.raises(Exception) as caught:
        run_import(job(tmp_path, store, source={"uri": f"file://{model_file}"}, signature=declared))
    assert type(caught.value).__name__ == "SignatureMismatch"
    assert "input" in str(caught.value) and "x" in str(caught.value)
    assert read_manifest(store, PREFIX) is None
    assert store.list("") == []


class _StopsServer(io.RawIOBase):
    """A source that stops the S3 server after `after` bytes, mid-upload."""

    def __init__(self, data: bytes, after: int, server):
        self.data, self.pos, self.after, self.server = data, 0, after, server

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.pos >= self.after and self.server is not None:
            self.server.stop()
            self.server = None
        n = min(len(buffer), len(self.data) - self.pos, 1024 * 1024)
        buffer[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


def test_s3_outage_mid_upload_leaves_no_manifest_and_retry_succeeds(tmp_path: Path, bucket: str, s3_server, monkeypatch):
    monkeypatch.setenv("MODELYARD_S3_PART_SIZE_MIB", "5")
    monkeypatch.setenv("MODELYARD_S3_MAX_ATTEMPTS", "1")
    weights = tmp_path / "src" / "weights.safetensors"
    weights.parent.mkdir(parents=True)
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"w": np.ones(4 * 1024 * 1024, dtype="float32")}, str(weights))  # 16 MiB: 4 parts
    data = weights.read_bytes()
    store = open_store(f"s3://{bucket}/store")
    import modelyard.worker.importer as importer

    real_open = importer.open_source
    monkeypatch.setattr(importer, "open_source", lambda uri, s3=None, **_: _wrap(_StopsServer(data, 6 * 1024 * 1024, s3_server)))
    signature = {"inputs": [{"name": "x", "shape": [-1]}], "outputs": [{"name": "y", "shape": [-1]}]}
    source = {"uri": f"file://{weights}"}
    with pytest.raises(StoreError) as caught:
        run_import(job(tmp_path, store, source=source, format="safetensors", signature=signature))
    assert caught.value.reason == "EndpointUnreachable"
    assert s3_server.endpoint in str(caught.value)
    s3_server.start()
    assert read_manifest(store, PREFIX) is None, "no manifest after a failed upload"
    monkeypatch.setattr(importer, "open_source", real_open)
    result = run_import(job(tmp_path, store, source=source, format="safetensors", signature=signature))
    assert result["reason"] == "Imported"
    verify_version(store, PREFIX)


class _wrap:
    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return SourceStream(io.BufferedReader(self.stream), None)

    def __exit__(self, *exc):
        return False


def test_worker_cli_result_termination_message_and_no_secrets(tmp_path: Path, model_file: Path, bucket: str, capsys, caplog):
    obj = builders.model_version(source={"uri": f"file://{model_file}"})
    obj["metadata"]["namespace"] = "team-a"
    path = tmp_path / "mv.json"
    path.write_text(json.dumps(obj))
    termination = tmp_path / "termination-log"
    code = worker_main(["import", "--object", str(path), "--store", f"s3://{bucket}/store",
                        "--workdir", str(tmp_path), "--termination-log", str(termination)])
    out = capsys.readouterr()
    assert code == 0
    result = json.loads(out.out.strip().splitlines()[-1])
    assert result["artifact"]["uri"] == f"s3://{bucket}/store/team-a/classifier/1.0.0/"
    assert json.loads(termination.read_text())["artifact"]["digest"] == result["artifact"]["digest"]
    # A failure: the store's bucket does not exist.
    code = worker_main(["import", "--object", str(path), "--store", "s3://no-such-bucket-anywhere",
                        "--workdir", str(tmp_path), "--termination-log", str(termination)])
    out2 = capsys.readouterr()
    assert code == 1
    failure = json.loads(termination.read_text())
    assert failure["ok"] is False and failure["reason"] == "NoSuchBucket"
    everything = out.out + out.err + out2.out + out2.err + caplog.text + termination.read_text()
    assert SECRET_KEY not in everything


def test_worker_cli_reports_an_invalid_object(tmp_path: Path, capsys):
    path = tmp_path / "mv.json"
    path.write_text(json.dumps(builders.model_version(version="1.0")))
    code = worker_main(["import", "--object", str(path), "--store", f"file://{tmp_path}/store",
                        "--termination-log", str(tmp_path / "t")])
    assert code == 1
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["reason"] == "InvalidSpec" and "spec.version" in result["message"]


def test_delete_command_removes_the_manifest_first_then_the_files(tmp_path: Path, model_file: Path, capsys):
    store = FileStore(tmp_path / "store")
    run_import(job(tmp_path, store, source={"uri": f"file://{model_file}"}))
    deleted: list[str] = []
    original = FileStore.delete
    FileStore.delete = lambda self, keys: deleted.extend(keys) or original(self, keys)
    try:
        path = tmp_path / "mv.json"
        path.write_text(json.dumps(builders.model_version()))
        code = worker_main(["delete", "--object", str(path), "--store", f"file://{tmp_path}/store",
                            "--termination-log", str(tmp_path / "t")])
    finally:
        FileStore.delete = original
    assert code == 0
    assert deleted[0].endswith("/manifest.json")
    assert store.list("default/classifier") == []
    assert "deleted 3 object(s)" in capsys.readouterr().out
