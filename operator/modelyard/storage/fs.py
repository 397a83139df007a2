"""The filesystem store (file://), the default of local mode."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from modelyard.storage.base import CHUNK, HashingReader, Progress, PutResult, Store, StoreError


class FileStore(Store):
    """Objects are files under `root`; writes go to a temporary file renamed into place, so
    a reader never sees a half-written object."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.uri = f"file://{self.root.resolve()}"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents and path != self.root.resolve():
            raise StoreError("InvalidKey", f"{key!r} escapes the store root {self.root}")
        return path

    def put(self, key: str, stream: BinaryIO, progress: Progress | None = None, size: int | None = None) -> PutResult:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as error:
            raise StoreError("WriteFailed", f"cannot write {self.describe(key)}: {error.strerror}") from None
        reader = HashingReader(stream, progress=progress)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := reader.read(CHUNK):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException as error:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise StoreError("WriteFailed", f"cannot write {self.describe(key)}: {error.strerror}") from None
            raise
        return reader.result()

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        try:
            stream = path.open("rb")
        except FileNotFoundError:
            raise StoreError("NotFound", f"{self.describe(key)} does not exist") from None
        with stream:
            yield stream

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root.resolve()
        if not base.is_dir():
            return []
        root = self.root.resolve()
        return sorted(
            str(p.relative_to(root))
            for p in base.rglob("*")
            if p.is_file() and not p.name.endswith(".tmp")
        )

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)
