"""The version layout in a store and its integrity.

`<store>/<namespace>/<model>/<version>/` holds the model files, then `manifest.json` (every
file's path, size and sha256, the model's facts, lineage and tool versions), written last: a
folder without a manifest is an incomplete version, never a Ready one. `result.json` is the
worker's full result. A version's digest is the sha256 of its manifest's bytes.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterator

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from modelyard.api import API_VERSION
from modelyard.storage.base import CHUNK, Progress, Store, StoreError

MANIFEST = "manifest.json"
RESULT = "result.json"


def training_prefix(namespace: str, model: str, job: str) -> str:
    """Where a TrainingJob's artifacts live (checkpoints, TensorBoard files, metrics, report)."""
    return f"{namespace}/{model}/trainings/{job}"


def version_prefix(namespace: str, model: str, version: str) -> str:
    """Where a version lives, relative to the store root."""
    return f"{namespace}/{model}/{version}"


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class FileEntry(_Camel):
    """One file of a version."""

    path: str
    size_bytes: int
    sha256: str


class Manifest(_Camel):
    """What a version is; written last."""

    api_version: str = API_VERSION
    kind: str = "VersionManifest"
    namespace: str
    model: str
    name: str
    version: str
    format: str
    files: list[FileEntry]
    signature: dict[str, Any] = {}
    inspection: dict[str, Any] = {}
    lineage: dict[str, Any] = {}
    source: dict[str, Any] = {}
    tools: dict[str, str] = {}
    created_at: str = ""

    def to_bytes(self) -> bytes:
        body = self.model_dump(by_alias=True, exclude_none=True)
        return (json.dumps(body, sort_keys=True, indent=2) + "\n").encode()

    @property
    def size_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)

    def same_content(self, other: "Manifest") -> bool:
        """Whether both describe byte-identical files."""
        return {(f.path, f.sha256) for f in self.files} == {(f.path, f.sha256) for f in other.files}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read_manifest(store: Store, prefix: str) -> tuple[Manifest, str] | None:
    """The version's manifest and digest, or None when the version is incomplete/absent."""
    key = f"{prefix}/{MANIFEST}"
    if not store.exists(key):
        return None
    data = store.get_bytes(key)
    try:
        return Manifest.model_validate_json(data), digest_of(data)
    except ValueError:
        raise StoreError("IntegrityError", f"{store.describe(key)} is not a valid manifest") from None


class _VerifyingReader:
    """Passes a file through and fails at its end unless size and sha256 match the manifest."""

    def __init__(self, stream: BinaryIO, entry: FileEntry, where: str):
        self._stream = stream
        self._entry = entry
        self._where = where
        self._hash = hashlib.sha256()
        self._size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._hash.update(data)
        self._size += len(data)
        if not data or (n is not None and n < 0):
            self._check()
        return data

    def _check(self) -> None:
        if self._size != self._entry.size_bytes:
            raise StoreError(
                "IntegrityError",
                f"{self._where}: {self._size} bytes but the manifest records {self._entry.size_bytes} (truncated or replaced)",
            )
        actual = self._hash.hexdigest()
        if actual != self._entry.sha256:
            raise StoreError(
                "IntegrityError",
                f"{self._where}: sha256 {actual} but the manifest records {self._entry.sha256} (the file changed after it was stored)",
            )


@contextmanager
def open_verified(store: Store, prefix: str, entry: FileEntry) -> Iterator[BinaryIO]:
    """Read one file of a version; reading to the end verifies its size and sha256."""
    key = f"{prefix}/{entry.path}"
    with store.open(key) as stream:
        yield _VerifyingReader(stream, entry, store.describe(key))  # type: ignore[misc]


def verify_version(store: Store, prefix: str, progress: Progress | None = None) -> tuple[Manifest, str]:
    """Read every file of a complete version and check it against the manifest."""
    found = read_manifest(store, prefix)
    if found is None:
        raise StoreError("Incomplete", f"{store.describe(prefix)}/ has no {MANIFEST}: the version is incomplete")
    manifest, digest = found
    for entry in manifest.files:
        with open_verified(store, prefix, entry) as stream:
            while chunk := stream.read(CHUNK):
                if progress:
                    progress(len(chunk))
    return manifest, digest


def download_version(
    store: Store, prefix: str, dest: Path, progress: Progress | None = None
) -> tuple[Manifest, str]:
    """Copy a complete version's files into `dest`, verifying each against the manifest."""
    found = read_manifest(store, prefix)
    if found is None:
        raise StoreError("Incomplete", f"{store.describe(prefix)}/ has no {MANIFEST}: the version is incomplete")
    manifest, digest = found
    for entry in manifest.files:
        target = dest.joinpath(*PurePosixPath(entry.path).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open_verified(store, prefix, entry) as stream, target.open("wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                if progress:
                    progress(len(chunk))
    return manifest, digest


def delete_version(store: Store, prefix: str) -> int:
    """Delete a version: its manifest first (so it is never seen complete yet partial), then the
    rest of its folder. Returns how many objects were deleted; a missing version is fine."""
    manifest = f"{prefix}/{MANIFEST}"
    had_manifest = store.exists(manifest)
    if had_manifest:
        store.delete([manifest])
    return store.delete_prefix(f"{prefix}/") + int(had_manifest)


class VersionWriter:
    """Writes one version: files first, the manifest last; refuses to change a complete one."""

    def __init__(self, store: Store, prefix: str):
        self.store = store
        self.prefix = prefix
        self.written: list[FileEntry] = []
        found = read_manifest(store, prefix)
        self.existing: Manifest | None = found[0] if found else None
        self.existing_digest: str | None = found[1] if found else None

    def key(self, path: str) -> str:
        return f"{self.prefix}/{path}"

    def put_file(self, path: str, stream: BinaryIO, progress: Progress | None = None, size: int | None = None) -> FileEntry:
        if self.existing is not None:
            raise StoreError("AlreadyExists", f"{self.store.describe(self.prefix)}/ is a complete version; it is never written again")
        result = self.store.put(self.key(path), stream, progress, size)
        entry = FileEntry(path=path, size_bytes=result.size, sha256=result.sha256)
        self.written.append(entry)
        return entry

    def refuse_unless_identical(self, manifest: Manifest) -> str | None:
        """For a version already complete in the store: its digest when `manifest` describes
        byte-identical files, else an AlreadyExists error naming both digests."""
        if self.existing is None:
            return None
        if self.existing.same_content(manifest):
            return self.existing_digest
        raise StoreError(
            "AlreadyExists",
            f"{self.store.describe(self.prefix)}/ already holds version {manifest.version} with different "
            f"content ({self.existing_digest}); versions are immutable: import under a new version",
        )

    def commit(self, manifest: Manifest, result: dict[str, Any] | None = None) -> str:
        """Write the manifest (making the version complete) and the result; returns the digest."""
        identical = self.refuse_unless_identical(manifest)
        if identical is not None:
            return identical
        data = manifest.to_bytes()
        self.store.put_bytes(self.key(MANIFEST), data)
        if result is not None:
            self.write_result(result)
        return digest_of(data)

    def write_result(self, result: dict[str, Any]) -> None:
        self.store.put_bytes(self.key(RESULT), (json.dumps(result, indent=2, sort_keys=True) + "\n").encode())

    def abort(self) -> None:
        """Remove what this writer uploaded (never a complete version's files)."""
        if self.existing is None:
            self.store.delete([self.key(e.path) for e in self.written])
            self.written.clear()
