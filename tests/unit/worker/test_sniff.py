"""The first bytes prove the format: a wrong source fails before the rest is read."""

from __future__ import annotations

import io
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from modelyard.worker.sniff import NotTheDeclaredFormat, PrefixedStream, read_prefix
from tests.support.sources import tiny_onnx


class Source(io.BytesIO):
    """Counts what was read."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.taken = 0

    def read(self, n: int | None = -1) -> bytes:
        data = super().read(n)
        self.taken += len(data)
        return data


def safetensors_bytes(header: dict, body: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


GOOD_HEADER = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "__metadata__": {"format": "pt"}}


def test_a_safetensors_header_is_read_and_its_bytes_go_on_first():
    data = safetensors_bytes(GOOD_HEADER, b"\0" * 8)
    source = Source(data)
    prefix = read_prefix("safetensors", source, len(data), "w.safetensors")
    assert prefix.safetensors_header == GOOD_HEADER
    assert PrefixedStream(prefix.data, source).read(-1) == data


@pytest.mark.parametrize(
    "data, why",
    [
        (os.urandom(1 << 20), "its first 8 bytes give a header of"),
        (b"abc", "shorter than the 8-byte header length"),
        (struct.pack("<Q", 6) + b"nojson" + b"\0" * 64, "its header is not JSON"),
        (safetensors_bytes({"w": {"dtype": "F32"}}), "does not describe tensors"),
    ],
)
def test_a_file_that_is_not_safetensors_is_refused_from_its_first_bytes(data: bytes, why: str):
    source = Source(data)
    with pytest.raises(NotTheDeclaredFormat, match=why) as caught:
        read_prefix("safetensors", source, len(data), "w.safetensors")
    assert "w.safetensors is not safetensors (spec.format)" in str(caught.value)
    assert source.taken <= 64 + 8


def test_a_real_onnx_model_passes_and_random_bytes_do_not(tmp_path: Path):
    model = tiny_onnx(tmp_path / "m.onnx").read_bytes()
    assert read_prefix("onnx", Source(model), len(model), "m.onnx").data == model[: len(model)]
    for seed in range(50):
        noise = np.random.default_rng(seed).bytes(1 << 20)
        source = Source(noise)
        with pytest.raises(NotTheDeclaredFormat, match="m.onnx is not onnx"):
            read_prefix("onnx", source, len(noise), "m.onnx")
        assert source.taken <= 64 * 1024


@pytest.mark.parametrize("format", ["pytorch-exportedprogram", "torchscript", "pytorch-state-dict"])
def test_torch_archives_start_like_a_zip(format: str):
    assert read_prefix(format, Source(b"PK\x03\x04rest"), 8, "m.pt").data == b"PK\x03\x04"
    with pytest.raises(NotTheDeclaredFormat, match="first bytes 00000000"):
        read_prefix(format, Source(b"\0" * 64), 64, "m.pt")


def test_a_legacy_torch_save_is_a_state_dict_and_openvino_is_xml():
    assert read_prefix("pytorch-state-dict", Source(b"\x80\x02rest"), 6, "m.pt").data
    assert read_prefix("openvino", Source(b'<?xml version="1.0"?>\n<net>'), 27, "m.xml").data
    with pytest.raises(NotTheDeclaredFormat, match="OpenVINO IR XML"):
        read_prefix("openvino", Source(b"\x7fELF"), 4, "m.xml")


def test_formats_without_a_header_read_nothing():
    source = Source(b"plan bytes")
    assert read_prefix("tensorrt-plan", source, 10, "m.plan").data == b"" and source.taken == 0
