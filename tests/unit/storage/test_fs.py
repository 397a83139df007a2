"""The filesystem store."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from modelyard.storage.base import StoreError
from modelyard.storage.fs import FileStore


class Exploding(io.RawIOBase):
    """A source that fails part-way, like a dropped download."""

    def __init__(self, good: int):
        self.left = good

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            raise OSError(104, "Connection reset by peer")
        chunk = min(self.left, 4096 if n < 0 else n)
        self.left -= chunk
        return b"x" * chunk


def test_put_hashes_while_streaming_and_round_trips(tmp_path: Path):
    store = FileStore(tmp_path)
    data = bytes(range(256)) * 5000
    result = store.put("ns/m/1.0.0/model.onnx", io.BytesIO(data))
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert store.get_bytes("ns/m/1.0.0/model.onnx") == data
    assert store.list("ns/m") == ["ns/m/1.0.0/model.onnx"]
    assert store.describe("a/b") == f"file://{tmp_path.resolve()}/a/b"


def test_failed_write_leaves_nothing_behind(tmp_path: Path):
    store = FileStore(tmp_path)
    with pytest.raises(StoreError, match="cannot write .*model.onnx: Connection reset"):
        store.put("v/model.onnx", Exploding(good=10_000))
    assert list(tmp_path.rglob("*")) == [tmp_path / "v"]


def test_missing_object_and_escaping_keys_are_errors(tmp_path: Path):
    store = FileStore(tmp_path)
    with pytest.raises(StoreError, match="does not exist") as caught:
        store.get_bytes("nope")
    assert caught.value.reason == "NotFound"
    with pytest.raises(StoreError, match="escapes the store root"):
        store.put_bytes("../outside", b"x")


def test_delete_prefix(tmp_path: Path):
    store = FileStore(tmp_path)
    for key in ("a/1", "a/2", "b/1"):
        store.put_bytes(key, b"x")
    assert store.delete_prefix("a") == 2
    assert store.list("") == ["b/1"]
