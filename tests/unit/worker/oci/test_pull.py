"""Resolving a reference: an index's entry for this platform, what is recorded about the source."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from modelyard.worker.oci.errors import OciError
from modelyard.worker.oci.pull import Pulled, _platform_manifest

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def entry(digit: str, **extra) -> dict:
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + digit * 64, "size": 1, **extra}


def test_an_index_gives_this_platforms_manifest_and_never_an_attestation():
    index = {"manifests": [
        entry("a", platform={"os": "unknown", "architecture": "unknown"},
              annotations={"vnd.docker.reference.type": "attestation-manifest"}),
        entry("b", platform={"os": "linux", "architecture": "s390x"}),
        entry("c", platform={"os": "linux", "architecture": ARCH}),
    ]}
    assert _platform_manifest(index, "r.io/m:1").digest == "sha256:" + "c" * 64
    index["manifests"].pop()
    assert _platform_manifest(index, "r.io/m:1").digest == "sha256:" + "b" * 64, "a model's bytes fit any platform"
    with pytest.raises(OciError, match="lists no manifest"):
        _platform_manifest({"manifests": index["manifests"][:1]}, "r.io/m:1")


def test_what_is_recorded_pins_the_tag_to_what_it_pointed_at():
    pulled = Pulled(Path("/w"), [Path("m.onnx")], "r.io/team/m:1", "sha256:" + "1" * 64, "sha256:" + "2" * 64,
                    "image", "application/vnd.oci.image.index.v1+json", 1)
    assert pulled.pinned == "r.io/team/m@sha256:" + "1" * 64
    assert pulled.provenance() == {"oci": "r.io/team/m:1", "digest": "sha256:" + "1" * 64, "kind": "image",
                                   "mediaType": "application/vnd.oci.image.index.v1+json",
                                   "manifestDigest": "sha256:" + "2" * 64}
