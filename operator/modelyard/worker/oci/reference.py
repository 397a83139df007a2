"""OCI references: `registry/repository[:tag][@sha256:digest]`, as distribution parses them.

A first component with a `.` or a `:`, or `localhost`, is the registry; otherwise the reference
is Docker Hub's (`docker.io`, served by registry-1.docker.io, single names under `library/`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from modelyard.api.modelversion import OCI_REFERENCE_PATTERN
from modelyard.worker.oci.errors import OciError

_REFERENCE = re.compile(f"^(?:{OCI_REFERENCE_PATTERN})$")
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DEFAULT_TAG = "latest"


@dataclass(frozen=True)
class Reference:
    """A parsed reference. `registry` is as written (`docker.io` for Docker Hub)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def ref(self) -> str:
        """What the manifest endpoint is asked for: the digest when pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def api_host(self) -> str:
        """The host that serves the distribution API."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    def pinned(self, digest: str) -> "Reference":
        """The same repository at `digest` (no tag: a digest names one thing)."""
        return replace(self, tag=None, digest=digest)

    def with_tag(self, tag: str) -> "Reference":
        return replace(self, tag=tag, digest=None)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str) -> Reference:
    """Parse a reference (an `oci://` prefix is accepted); InvalidReference names what is wrong."""
    raw = text.removeprefix("oci://")
    if not _REFERENCE.match(raw) or len(raw) > 512:
        raise OciError(
            "InvalidReference",
            f"{text!r} is not an OCI reference: expected registry/repository:tag or registry/repository@sha256:<64 hex>, "
            "with a lowercase repository",
        )
    name, _, digest = raw.partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name
        if "/" not in repository:
            repository = f"library/{repository}"
    return Reference(registry, repository, tag, digest or None)
