"""Prove a source is the declared format from its first bytes, before the rest is moved.

A source that is not what the spec says must fail at the bytes that prove it (a header), not
after gigabytes were copied. Each check reads only what it needs from the stream and returns
those bytes, which the import then sends on ahead of the rest of the same stream (one pass).
Formats without a fixed header (TensorRT plans, Ascend OM) are checked by inspection only.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

from modelyard.storage.base import read_full

SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024
"""safetensors' own limit on its JSON header."""
ONNX_PREFIX = 64 * 1024
_ZIP = b"PK\x03\x04"
_PICKLE = b"\x80"
# ModelProto's fields (onnx.proto): number -> protobuf wire type (0 varint, 2 length-delimited).
# Fields a newer ONNX may add are skipped as protobuf does, if their wire type is valid.
_MODEL_PROTO = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
_WIRE_WIDTH = {1: 8, 5: 4}


class NotTheDeclaredFormat(ValueError):
    """The first bytes prove the source is not the declared format."""


@dataclass
class Prefix:
    """The bytes read to prove the format, and what they already told."""

    data: bytes
    safetensors_header: dict[str, Any] | None = None


def read_prefix(format: str, stream: BinaryIO, size: int | None, name: str) -> Prefix:
    """The first bytes of `stream` that prove it is `format` (NotTheDeclaredFormat otherwise)."""
    check = _CHECKS.get(format)
    if check is None:
        return Prefix(b"")
    return check(stream, size, name)


def _refuse(name: str, format: str, why: str) -> NotTheDeclaredFormat:
    return NotTheDeclaredFormat(f"{name} is not {format} (spec.format): {why}; nothing was stored")


def _safetensors(stream: BinaryIO, size: int | None, name: str) -> Prefix:
    data = read_full(stream, 8)
    if len(data) < 8:
        raise _refuse(name, "safetensors", f"{len(data)} bytes, shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", data)
    limit = min(SAFETENSORS_MAX_HEADER, size - 8 if size is not None else SAFETENSORS_MAX_HEADER)
    if not 2 <= length <= limit:
        raise _refuse(name, "safetensors", f"its first 8 bytes give a header of {length} bytes (expected 2 to {limit})")
    raw = read_full(stream, length)
    data += raw
    try:
        header = json.loads(raw)
    except ValueError:
        raise _refuse(name, "safetensors", "its header is not JSON") from None
    if not isinstance(header, dict) or not all(
        key == "__metadata__" or (isinstance(entry, dict) and {"dtype", "shape", "data_offsets"} <= entry.keys())
        for key, entry in header.items()
    ):
        raise _refuse(name, "safetensors", "its header does not describe tensors (dtype, shape, data_offsets)")
    return Prefix(data, safetensors_header=header)


def _onnx(stream: BinaryIO, size: int | None, name: str) -> Prefix:
    data = read_full(stream, ONNX_PREFIX)
    total = size if size is not None else len(data)
    # Protobuf writers emit fields in number order, so a model starts with ir_version (field 1,
    # a varint: 0x08 then a small number), which onnx.checker requires.
    if len(data) < 2 or data[0] != 0x08 or not 1 <= data[1] <= 64:
        raise _refuse(name, "onnx", f"it does not start with an ONNX ir_version field (first bytes {data[:8].hex()})")
    position = 0
    while position < len(data):
        start = position
        tag, position = _varint(data, position, name)
        number, wire = tag >> 3, tag & 7
        expected = _MODEL_PROTO.get(number)
        if number == 0 or (expected is not None and expected != wire) or wire not in (0, 1, 2, 5):
            raise _refuse(name, "onnx", f"byte {start} starts no ModelProto field (field {number}, wire type {wire})")
        if wire in _WIRE_WIDTH:
            position += _WIRE_WIDTH[wire]
            continue
        value, position = _varint(data, position, name)
        if wire == 2:
            if position + value > total:
                raise _refuse(name, "onnx", f"field {number} at byte {start} claims {value} bytes, past the end of the file")
            position += value
    return Prefix(data)


def _varint(data: bytes, position: int, name: str) -> tuple[int, int]:
    value = shift = 0
    while position < len(data):
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
        if shift > 63:
            break
    if position >= len(data) and shift <= 63:
        return value, position  # cut by the prefix, not proven wrong
    raise _refuse(name, "onnx", f"a malformed protobuf varint at byte {position}")


def _magic(format: str, allowed: tuple[bytes, ...], what: str) -> Callable[[BinaryIO, int | None, str], Prefix]:
    def check(stream: BinaryIO, size: int | None, name: str) -> Prefix:
        width = max(len(m) for m in allowed)
        data = read_full(stream, width)
        if not any(data.startswith(m) for m in allowed):
            raise _refuse(name, format, f"it does not start like {what} (first bytes {data[:width].hex()})")
        return Prefix(data)

    return check


def _openvino(stream: BinaryIO, size: int | None, name: str) -> Prefix:
    data = read_full(stream, 256)
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"<?xml", b"<net")):
        raise _refuse(name, "openvino", "it does not start like OpenVINO IR XML (<?xml or <net)")
    return Prefix(data)


_CHECKS: dict[str, Callable[[BinaryIO, int | None, str], Prefix]] = {
    "safetensors": _safetensors,
    "onnx": _onnx,
    "pytorch-exportedprogram": _magic("pytorch-exportedprogram", (_ZIP,), "a .pt2 zip archive"),
    "torchscript": _magic("torchscript", (_ZIP,), "a TorchScript zip archive"),
    "pytorch-state-dict": _magic("pytorch-state-dict", (_ZIP, _PICKLE), "a torch.save file (zip or legacy)"),
    "openvino": _openvino,
}


class PrefixedStream:
    """`prefix` followed by the rest of `stream`: the bytes read to check the format go on first."""

    def __init__(self, prefix: bytes, stream: BinaryIO):
        self._prefix = memoryview(prefix)
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        if not self._prefix:
            return self._stream.read(n)
        if n is None or n < 0:
            data = bytes(self._prefix) + self._stream.read()
            self._prefix = memoryview(b"")
            return data
        data = bytes(self._prefix[:n])
        self._prefix = self._prefix[n:]
        return data
