"""The store interface: streamed, hashed writes and reads of immutable objects."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

CHUNK = 1024 * 1024

Progress = Callable[[int], None]
"""Called with the number of bytes just transferred."""


class StoreError(Exception):
    """A storage failure with a message a user can act on (never containing a secret).

    `reason` is a CamelCase code (NoSuchBucket, AccessDenied, InvalidCredentials,
    EndpointUnreachable, TLSError, NotFound, IntegrityError, AlreadyExists, ...) for programs.
    `advice` is the part of the message that says what to change where the store is reached
    from a worker (a Secret, the workload identity, the chart's values); `detail` is the rest,
    so that a caller somewhere else (the CLI, in a user's shell) can give its own advice.
    """

    def __init__(self, reason: str, message: str, advice: str = ""):
        self.reason = reason
        self.detail = message
        self.advice = advice
        self.message = f"{message}; {advice}" if advice else message
        super().__init__(self.message)


@dataclass(frozen=True)
class PutResult:
    """What was written: size and sha256 computed while streaming."""

    size: int
    sha256: str


class HashingReader:
    """Wraps a stream: hashes and counts what passes through, optionally copies it to a file.

    `hashing=False` when something downstream hashes the same bytes already (a store's put):
    one digest per byte is enough. (Hashing or copying on a helper thread measured slower on
    two cores: the hand-off costs more than it overlaps.)"""

    def __init__(
        self, stream: BinaryIO, tee: BinaryIO | None = None, progress: Progress | None = None, hashing: bool = True
    ):
        self._stream = stream
        self._tee = tee
        self._progress = progress
        self._hash = hashlib.sha256() if hashing else None
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        if data:
            if self._hash is not None:
                self._hash.update(data)
            self.size += len(data)
            if self._tee is not None:
                self._tee.write(data)
            if self._progress is not None:
                self._progress(len(data))
        return data

    @property
    def sha256(self) -> str:
        if self._hash is None:
            raise RuntimeError("this reader does not hash")
        return self._hash.hexdigest()

    def result(self) -> PutResult:
        return PutResult(self.size, self.sha256)


def hash_file(path: Path) -> str:
    """The sha256 of a local file, read in CHUNKs."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_full(stream: BinaryIO, size: int) -> bytes:
    """Read exactly `size` bytes unless the stream ends first (streams may return short reads)."""
    first = stream.read(size)  # usually complete: no join, no copy
    if len(first) == size or not first:
        return first
    parts, remaining = [first], size - len(first)
    while remaining > 0:
        data = stream.read(remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)


class Store(ABC):
    """An object store rooted at `uri`; keys are relative, '/'-separated."""

    uri: str

    @abstractmethod
    def put(self, key: str, stream: BinaryIO, progress: Progress | None = None, size: int | None = None) -> PutResult:
        """Stream `stream` into `key`, hashing on the way; the object appears only when complete.
        `size`, when the source tells it, lets a store cut the upload to fit any size."""

    @abstractmethod
    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """A readable stream of `key` (StoreError NotFound when absent)."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether `key` exists."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix` (relative to the store root), sorted."""

    @abstractmethod
    def delete(self, keys: list[str]) -> None:
        """Delete keys (missing keys are fine)."""

    def describe(self, key: str) -> str:
        """The full URI of `key`, for messages and status."""
        return f"{self.uri.rstrip('/')}/{key}"

    def put_bytes(self, key: str, data: bytes) -> PutResult:
        import io

        return self.put(key, io.BytesIO(data))

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list(prefix)
        self.delete(keys)
        return len(keys)
