"""Which bytes of a manifest are the model: images (overlaid layers), ModelKits, ORAS artifacts."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from contextlib import contextmanager
from pathlib import Path

import pytest

from modelyard.worker.archive import Limits
from modelyard.worker.oci.errors import OciError
from modelyard.worker.oci.layers import extract, model_root, plan
from tests.support.registry import tar_bytes

IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
KIT_CONFIG = "application/vnd.kitops.modelkit.config.v1+json"


class Blobs:
    """Blobs by digest, opened as the client opens them (read, drain); records what was read."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.opened: list[str] = []

    def add(self, data: bytes, media_type: str, **annotations: str) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.data[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data), **({"annotations": annotations} if annotations else {})}

    @contextmanager
    def open(self, descriptor):
        self.opened.append(descriptor.digest)
        stream = io.BytesIO(self.data[descriptor.digest])
        stream.drain = lambda: stream.read()
        yield stream

    def config(self, descriptor) -> bytes:
        return self.data[descriptor.digest]


def image(blobs: Blobs, *layers: dict, compress: bool = True) -> dict:
    media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else "")
    return {"config": blobs.add(b"{}", IMAGE_CONFIG),
            "layers": [blobs.add(gzip.compress(tar_bytes(layer)) if compress else tar_bytes(layer), media) for layer in layers]}


def pull(blobs: Blobs, manifest: dict, path: str | None, dest: Path, limits: Limits | None = None) -> dict[str, bytes]:
    chosen = plan(manifest, blobs.config, path, "r.io/m:1")
    out = extract(chosen, blobs.open, dest, "r.io/m:1", limits or Limits())
    names = sorted(out.files)
    root = model_root(chosen, names)
    return {(n[len(root) + 1:] if root else n): out.files[n].read_bytes() for n in names}


def test_later_layers_win_and_whiteouts_delete_what_is_below(tmp_path: Path):
    blobs = Blobs()
    manifest = image(
        blobs,
        {"models": None, "models/model.onnx": b"old", "models/deleted.bin": b"x", "models/sub": None, "models/sub/a": b"a"},
        {"./models/model.onnx": b"new", "models/.wh.deleted.bin": b"", "models/extra.json": b"{}"},
    )
    assert pull(blobs, manifest, None, tmp_path) == {"extra.json": b"{}", "model.onnx": b"new", "sub/a": b"a"}


def test_an_opaque_folder_hides_everything_below_it(tmp_path: Path):
    blobs = Blobs()
    manifest = image(blobs, {"models/old.onnx": b"old", "models/keep/x": b"x"},
                     {"models/.wh..wh..opq": b"", "models/new.onnx": b"new"})
    assert pull(blobs, manifest, "/models", tmp_path) == {"new.onnx": b"new"}


def test_the_model_in_a_lower_layer_and_a_file_path_keeps_its_name(tmp_path: Path):
    blobs = Blobs()
    manifest = image(blobs, {"opt/app/model.safetensors": b"weights"}, {"etc/os-release": b"debian"}, {"usr/bin/x": b"x"},
                     compress=False)
    assert pull(blobs, manifest, "/opt/app/model.safetensors", tmp_path) == {"model.safetensors": b"weights"}


def test_lower_layers_are_not_read_once_an_upper_one_settles_the_path(tmp_path: Path):
    blobs = Blobs()
    manifest = image(blobs, {"base/huge": b"x" * 1000}, {"models/model.onnx": b"m"}, {"models/.wh..wh..opq": b""})
    assert pull(blobs, manifest, None, tmp_path) == {}
    assert blobs.opened == [manifest["layers"][2]["digest"]], "the opaque top layer settles /models"


def test_a_path_that_is_a_link_is_named_with_its_target(tmp_path: Path):
    blobs = Blobs()
    manifest = image(blobs, {"mnt/models/m.onnx": b"m"}, {"models": ("symlink", "/mnt/models")})
    chosen = plan(manifest, blobs.config, None, "r.io/m:1")
    out = extract(chosen, blobs.open, tmp_path, "r.io/m:1")
    assert out.files == {} and out.links == {"models": "/mnt/models"}


def test_links_inside_the_model_folder(tmp_path: Path):
    blobs = Blobs()
    manifest = image(blobs, {"models/a.bin": b"a", "models/b.bin": ("hardlink", "models/a.bin")})
    assert pull(blobs, manifest, None, tmp_path) == {"a.bin": b"a", "b.bin": b"a"}
    blobs = Blobs()
    manifest = image(blobs, {"models/a.bin": ("symlink", "/etc/passwd")})
    with pytest.raises(OciError, match="symbolic link to /etc/passwd") as caught:
        pull(blobs, manifest, None, tmp_path / "2")
    assert caught.value.reason == "UnsafeLayer"


def test_entries_that_escape_and_limits_are_refused(tmp_path: Path):
    blobs = Blobs()
    manifest = image(blobs, {"models/../../etc/passwd": b"x"})
    with pytest.raises(OciError, match="escapes"):
        pull(blobs, manifest, None, tmp_path)
    blobs = Blobs()
    manifest = image(blobs, {"models/a": b"x" * 10, "models/b": b"y" * 10})
    with pytest.raises(OciError, match="more than 15 bytes"):
        pull(blobs, manifest, None, tmp_path / "2", Limits(max_bytes=15))


def kitfile_manifest(blobs: Blobs, legacy: bool = False) -> dict:
    model = tar_bytes({"models": None, "models/model.onnx": b"onnx", "models/sub": None, "models/sub/w.bin": b"w"})
    data = tar_bytes({"data.csv": b"a,b"})
    layers = [blobs.add(data, "application/vnd.kitops.modelkit.dataset.v1.tar"),
              blobs.add(model, "application/vnd.kitops.modelkit.model.v1.tar")]
    info = {} if legacy else {"digest": layers[1]["digest"], "diffId": layers[1]["digest"]}
    kitfile = {"manifestVersion": "1.0.0", "model": {"path": "models", **info},
               "datasets": [{"name": "d", "path": "data.csv"}]}
    return {"config": blobs.add(json.dumps(kitfile).encode(), KIT_CONFIG), "layers": layers}


def test_a_modelkit_gives_its_model_folder_and_not_its_datasets(tmp_path: Path):
    blobs = Blobs()
    manifest = kitfile_manifest(blobs)
    assert pull(blobs, manifest, None, tmp_path) == {"model.onnx": b"onnx", "sub/w.bin": b"w"}
    assert manifest["layers"][0]["digest"] not in blobs.opened, "the dataset layer is never fetched"
    assert pull(blobs, manifest, "data.csv", tmp_path / "2") == {"data.csv": b"a,b"}
    assert pull(blobs, manifest, "models/sub", tmp_path / "3") == {"w.bin": b"w"}


def test_an_oras_artifact_gives_every_titled_file(tmp_path: Path):
    blobs = Blobs()
    title = "org.opencontainers.image.title"
    manifest = {"config": blobs.add(b"{}", "application/vnd.oci.empty.v1+json"),
                "layers": [blobs.add(b"m", "application/octet-stream", **{title: "model.onnx"}),
                           blobs.add(b"t", "application/octet-stream", **{title: "tokenizer.json"})]}
    assert pull(blobs, manifest, None, tmp_path) == {"model.onnx": b"m", "tokenizer.json": b"t"}
    assert pull(blobs, manifest, "model.onnx", tmp_path / "2") == {"model.onnx": b"m"}
    with pytest.raises(OciError, match="without nothing.bin .its files: model.onnx, tokenizer.json") as caught:
        pull(blobs, manifest, "nothing.bin", tmp_path / "3")
    assert caught.value.reason == "PathNotFound"


def test_an_artifact_of_an_unknown_kind_names_its_media_types():
    blobs = Blobs()
    manifest = {"config": blobs.add(b"{}", "application/vnd.example.config"),
                "layers": [blobs.add(b"x", "application/vnd.example.thing")]}
    with pytest.raises(OciError, match="application/vnd.example.thing") as caught:
        plan(manifest, blobs.config, None, "r.io/m:1")
    assert caught.value.reason == "UnsupportedArtifact"


def test_zstd_layers_are_refused_by_name():
    blobs = Blobs()
    manifest = {"config": blobs.add(b"{}", IMAGE_CONFIG), "layers": [blobs.add(b"x", "application/vnd.oci.image.layer.v1.tar+zstd")]}
    with pytest.raises(OciError, match="zstd is not supported"):
        plan(manifest, blobs.config, None, "r.io/m:1")
