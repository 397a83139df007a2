"""A version laid out as a ModelKit: a tar any reader reads, the same bytes every time."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from contextlib import contextmanager

from modelyard.storage.layout import FileEntry, Manifest
from modelyard.worker.oci.modelkit import (ANNOTATION_LIMIT, TarStream, VersionRecord, annotations, docs_layer,
                                           kitfile)

FILES = {"model.onnx": b"onnx" * 1000, "sub/weights.bin": b"\x01" * 513, "a" * 120 + ".json": b"{}"}


def entries() -> list[FileEntry]:
    return [FileEntry(path=p, size_bytes=len(d), sha256=hashlib.sha256(d).hexdigest()) for p, d in FILES.items()]


@contextmanager
def opener(entry: FileEntry):
    yield io.BytesIO(FILES[entry.path])


def record(**changes) -> VersionRecord:
    manifest = Manifest(namespace="ml", model="digits", name="digits-1-0-0", version="1.0.0", format="onnx",
                        files=entries(), signature={"inputs": [{"name": "x"}]}, lineage={"parentVersion": "p"},
                        created_at="2026-01-02T03:04:05+00:00")
    return VersionRecord("ml", "digits-1-0-0", manifest, manifest.to_bytes(), "sha256:" + "1" * 64, **changes)


def read_stream(stream: TarStream, n: int) -> bytes:
    parts = []
    while chunk := stream.read(n):
        parts.append(chunk)
    return b"".join(parts)


def test_the_model_layer_is_a_tar_of_models_with_the_version_files():
    stream = TarStream("models", entries(), opener)
    data = read_stream(stream, 1000)
    assert len(data) == stream.size
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == sorted(["models", "models/sub", *(f"models/{p}" for p in FILES)])
        for path, content in FILES.items():
            assert tar.extractfile(f"models/{path}").read() == content
            assert (members[f"models/{path}"].mode, members[f"models/{path}"].mtime, members[f"models/{path}"].uid) == (0o644, 0, 0)
        assert members["models"].isdir() and members["models"].mode == 0o755


def test_the_same_version_gives_the_same_bytes_whatever_the_read_size():
    assert read_stream(TarStream("models", entries(), opener), 7) == read_stream(TarStream("models", entries()[::-1], opener), 1 << 20)


def test_the_docs_layer_holds_the_version_manifest_byte_for_byte():
    rec = record(verification={"passed": True}, evaluations=[{"name": "e", "passed": True}])
    with tarfile.open(fileobj=io.BytesIO(docs_layer(rec))) as tar:
        assert tar.extractfile("modelyard/manifest.json").read() == rec.manifest_bytes
        version = json.loads(tar.extractfile("modelyard/version.json").read())
    assert version["digest"] == rec.digest and version["verification"] == {"passed": True}


def test_the_kitfile_records_the_model_folder_and_each_layer():
    body = json.loads(kitfile(record(), {"digest": "sha256:" + "a" * 64}, {"digest": "sha256:" + "b" * 64}))
    assert body["manifestVersion"] == "1.0.0"
    assert body["package"] == {"name": "digits", "version": "1.0.0",
                               "description": "ModelVersion ml/digits-1-0-0, published by Modelyard"}
    model = body["model"]
    assert (model["path"], model["digest"], model["diffId"]) == ("models", "sha256:" + "a" * 64, "sha256:" + "a" * 64)
    assert model["parameters"]["modelyard"]["signature"] == {"inputs": [{"name": "x"}]}
    assert body["docs"][0]["path"] == "modelyard"


def test_annotations_carry_the_facts_and_stay_small():
    notes = annotations(record(evaluations=[{"name": "e", "results": {f"m{i}": 0.5 for i in range(3000)}}]))
    assert notes["dev.modelyard.digest"] == "sha256:" + "1" * 64
    assert notes["org.opencontainers.image.created"] == "2026-01-02T03:04:05+00:00"
    assert json.loads(notes["dev.modelyard.lineage"]) == {"parentVersion": "p"}
    assert json.loads(notes["dev.modelyard.evaluations"]) == {"truncated": True, "see": "/modelyard/version.json"}
    assert all(len(v) <= ANNOTATION_LIMIT for v in notes.values())
    assert "dev.modelyard.verification" not in notes
