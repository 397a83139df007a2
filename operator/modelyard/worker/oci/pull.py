"""Pull a model's files out of an OCI reference, for the importer.

The reference is resolved once (a tag to the digest it points at now; an index to the manifest
for this platform), the manifest read (layers.plan), the selected layers streamed, checked
against their digests and sizes, and their files written under a folder. Anything that fails
leaves nothing behind: the folder is removed.
"""

from __future__ import annotations

import platform
import posixpath
import shutil
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from modelyard.worker.archive import Limits
from modelyard.worker.oci.auth import Credentials
from modelyard.worker.oci.client import INDEX_TYPES, Descriptor, Manifest, Registry, RegistrySettings
from modelyard.worker.oci.errors import OciError
from modelyard.worker.oci.layers import DEFAULT_LIMITS, Plan, extract, model_root, normal, plan
from modelyard.worker.oci.reference import Reference, parse_reference

MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_LINKS = 4
"""How many symbolic links on the way to an image's model path are followed (as /models ->
/mnt/models); each costs another pass over the layers it needs."""
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class Pulled:
    """The model's files (`files`, relative to `root`) and what they were pulled from."""

    root: Path
    files: list[Path]
    reference: str
    """The reference as given."""
    digest: str
    """What the reference resolved to (for a tag: the digest it pointed at)."""
    manifest_digest: str
    """The manifest read (differs from `digest` when the reference is an index)."""
    kind: str
    """image, ModelKit, ModelPack or ORAS artifact."""
    media_type: str
    layers_read: int

    @property
    def pinned(self) -> str:
        """`registry/repository@digest`: the same content, whatever the tag points at later."""
        return str(parse_reference(self.reference).pinned(self.digest))

    def provenance(self) -> dict[str, Any]:
        """What the version's manifest records about its source."""
        body = {"oci": self.reference, "digest": self.digest, "kind": self.kind, "mediaType": self.media_type}
        if self.manifest_digest != self.digest:
            body["manifestDigest"] = self.manifest_digest
        return body


def _platform_manifest(index: dict[str, Any], what: str) -> Descriptor:
    """The entry of an index for this machine's platform (linux/<arch>), else the first that is
    not an attestation: a model's bytes do not depend on the platform."""
    entries = [Descriptor.parse(d, f"{what} index entry {i + 1}") for i, d in enumerate(index.get("manifests") or [])]
    usable = [d for d in entries if d.annotations.get("vnd.docker.reference.type") != "attestation-manifest"
              and d.platform.get("os") != "unknown"]
    if not usable:
        raise OciError("ManifestInvalid", f"{what}: the index lists no manifest")
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    return next((d for d in usable if d.platform.get("os") in (None, "linux") and d.platform.get("architecture") == arch),
                usable[0])


def resolve(registry: Registry, reference: Reference, what: str) -> tuple[Manifest, Manifest]:
    """(what the reference points at, the manifest to read): the same unless it is an index."""
    top = registry.manifest(reference.repository, reference.ref, what)
    if top.media_type not in INDEX_TYPES and "manifests" not in top.body:
        return top, top
    chosen = _platform_manifest(top.body, what)
    return top, registry.manifest(reference.repository, chosen.digest, what)


def _read_config(registry: Registry, reference: Reference, what: str):
    def read(descriptor: Descriptor) -> bytes:
        if descriptor.size > MAX_CONFIG_BYTES:
            raise OciError("ManifestInvalid", f"{what}: its config is {descriptor.size} bytes, more than {MAX_CONFIG_BYTES}")
        with registry.blob(reference.repository, descriptor, f"{what} config") as blob:
            parts = []
            while chunk := blob.read():
                parts.append(chunk)
        return b"".join(parts)

    return read


def pull(text: str, path: str | None, dest: Path, credentials: Credentials | None = None, *, auth_hint: str = "",
         settings: RegistrySettings | None = None, limits: Limits = DEFAULT_LIMITS) -> Pulled:
    """Pull the model at `path` (None: the artifact's default) of reference `text` into `dest`."""
    reference = parse_reference(text)
    what = str(reference)
    registry = Registry(reference.api_host, credentials, auth_hint=auth_hint, settings=settings)
    top, manifest = resolve(registry, reference, what)
    chosen: Plan = plan(manifest.body, _read_config(registry, reference, what), path, what)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        for _ in range(MAX_LINKS + 1):
            extracted = extract(chosen, lambda d: registry.blob(reference.repository, d, f"{what} layer {d.digest[:19]}"),
                                dest, what, limits)
            followed = _through_link(chosen, extracted.links) if not extracted.files else None
            if followed is None:
                break
            chosen = followed
        if not extracted.files:
            raise _nothing_at(chosen, extracted.links, sorted(extracted.top), what, path)
        names = sorted(extracted.files)
        base = model_root(chosen, names)
        root = dest.joinpath(*PurePosixPath(base).parts) if base else dest
        files = [Path(*PurePosixPath(n).relative_to(base).parts) if base else Path(n) for n in names]
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return Pulled(root, files, str(text).removeprefix("oci://"), top.digest, manifest.digest, chosen.kind,
                  manifest.media_type, extracted.layers_read)


def _through_link(chosen: Plan, links: dict[str, str]) -> Plan | None:
    """The plan for the path a link on the way to the model path points at (images only)."""
    if not chosen.filesystem or not links:
        return None
    link, target = max(links.items(), key=lambda item: len(item[0]))
    resolved = normal(target if target.startswith("/") else posixpath.join(posixpath.dirname(link), target))
    root = resolved + chosen.root[len(link):]
    if not resolved or normal(root) == chosen.root:
        return None
    return replace(chosen, root=normal(root))


def _nothing_at(chosen: Plan, links: dict[str, str], top: list[str], what: str, path: str | None) -> OciError:
    where = "/" + chosen.root if chosen.filesystem else (chosen.root or "the selected layers")
    for link, target in links.items():
        return OciError("PathNotFound", f"{what}: {'/' + link} is a symbolic link to {target} in the image; "
                        "set path to the folder it points to")
    seen = f" (its top-level entries: {', '.join(top[:20])})" if top else ""
    default = "" if path is not None else " (the default; set spec.source.oci.path)"
    return OciError("PathNotFound", f"{what} ({chosen.kind}) has no files at {where}{default}{seen}")
