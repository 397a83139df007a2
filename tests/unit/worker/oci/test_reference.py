"""OCI references parse as distribution parses them, and the API accepts exactly those."""

from __future__ import annotations

import pytest

from modelyard.worker.oci.errors import OciError
from modelyard.worker.oci.reference import Reference, parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("text", "expected"), [
    ("registry.example.com/team/model:1.0", Reference("registry.example.com", "team/model", "1.0")),
    ("localhost:5000/model@" + DIGEST, Reference("localhost:5000", "model", None, DIGEST)),
    ("127.0.0.1:5000/a/b/c:v1@" + DIGEST, Reference("127.0.0.1:5000", "a/b/c", "v1", DIGEST)),
    ("oci://ghcr.io/org/model:latest", Reference("ghcr.io", "org/model", "latest")),
    ("team/model:2", Reference("docker.io", "team/model", "2")),
    ("busybox", Reference("docker.io", "library/busybox")),
    ("localhost/model:x", Reference("localhost", "model", "x")),
])
def test_references_name_their_registry_repository_tag_and_digest(text: str, expected: Reference):
    assert parse_reference(text) == expected


def test_what_the_manifest_endpoint_is_asked_for_and_where():
    assert parse_reference("team/model").ref == "latest"
    assert parse_reference("team/model").api_host == "registry-1.docker.io"
    pinned = parse_reference("r.io/m:1").pinned(DIGEST)
    assert pinned.ref == DIGEST and str(pinned) == f"r.io/m@{DIGEST}"


@pytest.mark.parametrize("text", ["Registry.io/Team/Model:1", "r.io/m@sha256:abc", "r.io/m:-bad", "https://r.io/m:1",
                                  "r.io//m", "", "r.io/m:" + "x" * 129])
def test_what_is_not_a_reference_is_refused_with_the_text(text: str):
    with pytest.raises(OciError) as caught:
        parse_reference(text)
    assert caught.value.reason == "InvalidReference" and repr(text) in str(caught.value)
