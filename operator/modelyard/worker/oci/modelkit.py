"""A stored version as a KitOps ModelKit whose model layer is also a KServe modelcar layer.

Layout (every byte deterministic, so publishing a version twice gives the same digest):

- config `application/vnd.kitops.modelkit.config.v1+json`: the Kitfile as JSON. `model.path` is
  `models`; `model.parameters.modelyard` holds the version's format, signature and digest; each
  layer's digest and diffId are recorded as `kit pack` records them.
- layer `application/vnd.kitops.modelkit.model.v1.tar`: an uncompressed tar of `models/` and the
  version's files under it (folders 0755, files 0644, owner 0, time 0). The same bytes as an
  image layer put the model at `/models`, where KServe's modelcar looks for it.
- layer `application/vnd.kitops.modelkit.docs.v1.tar`: `modelyard/manifest.json` (the version's
  manifest, byte for byte: its sha256 is the version's digest) and `modelyard/version.json`
  (signature, lineage, verification and evaluations).
- manifest annotations: `org.opencontainers.image.*` and `dev.modelyard.*` (the same facts, as
  compact JSON, each at most 16 KiB; the docs layer has them whole).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, BinaryIO, Callable, ContextManager, Iterator

from modelyard.storage.layout import FileEntry, Manifest
from modelyard.worker.oci.client import OCI_MANIFEST

KIT_CONFIG = "application/vnd.kitops.modelkit.config.v1+json"
KIT_MODEL_LAYER = "application/vnd.kitops.modelkit.model.v1.tar"
KIT_DOCS_LAYER = "application/vnd.kitops.modelkit.docs.v1.tar"
FILEPATH = "org.cncf.model.filepath"
MODEL_FOLDER = "models"
DOCS_FOLDER = "modelyard"
ANNOTATION_LIMIT = 16 * 1024
BLOCK = 512

OpenFile = Callable[[FileEntry], ContextManager[BinaryIO]]
"""Opens one of the version's files from the store, verifying it against the manifest."""


@dataclass(frozen=True)
class VersionRecord:
    """What is published about a Ready version: its stored manifest and what the API knows."""

    namespace: str
    name: str
    manifest: Manifest
    manifest_bytes: bytes
    digest: str
    """sha256 of manifest.json: the version's digest."""
    verification: dict[str, Any] | None = None
    evaluations: list[dict[str, Any]] = field(default_factory=list)


def _header(name: str, size: int, directory: bool) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def _folders(paths: list[str]) -> list[str]:
    found: set[str] = set()
    for path in paths:
        parts = PurePosixPath(path).parts
        found.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return sorted(found)


class TarStream:
    """An uncompressed tar of files under one folder, produced while it is read (the files come
    from the store one at a time): flat memory whatever the model's size. Its length is known
    before the first byte."""

    def __init__(self, folder: str, files: list[FileEntry], open_file: OpenFile):
        self._files = sorted(files, key=lambda f: f.path)
        self._open = open_file
        self._folder = folder
        folders = [folder, *(f"{folder}/{d}" for d in _folders([f.path for f in self._files]))]
        self._dirs = [_header(d + "/", 0, True) for d in sorted(set(folders))]
        self._heads = [_header(f"{folder}/{f.path}", f.size_bytes, False) for f in self._files]
        self.size = (sum(map(len, self._dirs)) + sum(len(h) + f.size_bytes + len(_padding(f.size_bytes))
                                                        for h, f in zip(self._heads, self._files, strict=True)) + 2 * BLOCK)
        self._chunks = self._generate()
        self._buffer = b""

    def _generate(self) -> Iterator[bytes]:
        yield b"".join(self._dirs)
        for head, entry in zip(self._heads, self._files, strict=True):
            yield head
            with self._open(entry) as stream:
                while chunk := stream.read(1024 * 1024):
                    yield chunk
            yield _padding(entry.size_bytes)
        yield b"\0" * (2 * BLOCK)

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if n < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data


def docs_layer(record: VersionRecord) -> bytes:
    """The docs layer: the version's manifest byte for byte and what the API says about it."""
    version = {"namespace": record.namespace, "name": record.name, "digest": record.digest,
               "format": record.manifest.format, "signature": record.manifest.signature,
               "lineage": record.manifest.lineage, "verification": record.verification,
               "evaluations": record.evaluations}
    files = {"manifest.json": record.manifest_bytes,
             "version.json": (json.dumps(version, indent=2, sort_keys=True) + "\n").encode()}
    parts = [_header(DOCS_FOLDER + "/", 0, True)]
    for name, data in files.items():
        parts += [_header(f"{DOCS_FOLDER}/{name}", len(data), False), data, _padding(len(data))]
    return b"".join(parts) + b"\0" * (2 * BLOCK)


def _compact(value: Any) -> str | None:
    if value in (None, {}, []):
        return None
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= ANNOTATION_LIMIT else json.dumps({"truncated": True, "see": f"/{DOCS_FOLDER}/version.json"})


def kitfile(record: VersionRecord, model: dict[str, str], docs: dict[str, str]) -> bytes:
    """The config: the Kitfile (as kit stores it, JSON) with each layer's digest and diffId."""
    manifest = record.manifest
    body = {
        "manifestVersion": "1.0.0",
        "package": {"name": manifest.model, "version": manifest.version,
                    "description": f"ModelVersion {record.namespace}/{record.name}, published by Modelyard"},
        "model": {"name": manifest.model, "path": MODEL_FOLDER, "version": manifest.version,
                  "format": manifest.format,
                  "parameters": {"modelyard": {"format": manifest.format, "digest": record.digest,
                                               "signature": manifest.signature}},
                  "digest": model["digest"], "diffId": model["digest"]},
        "docs": [{"path": DOCS_FOLDER, "description": "the version's manifest and record (Modelyard)",
                  "digest": docs["digest"], "diffId": docs["digest"]}],
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def annotations(record: VersionRecord) -> dict[str, str]:
    manifest = record.manifest
    values = {
        "org.opencontainers.image.title": manifest.model,
        "org.opencontainers.image.version": manifest.version,
        "org.opencontainers.image.created": manifest.created_at or None,
        "org.opencontainers.image.description": f"ModelVersion {record.namespace}/{record.name} ({manifest.format})",
        "dev.modelyard.version": f"{record.namespace}/{record.name}",
        "dev.modelyard.digest": record.digest,
        "dev.modelyard.format": manifest.format,
        "dev.modelyard.signature": _compact(manifest.signature),
        "dev.modelyard.lineage": _compact(manifest.lineage),
        "dev.modelyard.verification": _compact(record.verification),
        "dev.modelyard.evaluations": _compact(record.evaluations),
    }
    return {k: v for k, v in values.items() if v}


def image_manifest(config: dict[str, Any], layers: list[dict[str, Any]], notes: dict[str, str]) -> bytes:
    body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers, "annotations": notes}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def bytes_stream(data: bytes) -> BinaryIO:
    return io.BytesIO(data)
