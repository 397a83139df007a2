"""Push a stored version to `registry/repository:tag` as a ModelKit (worker/oci/modelkit.py).

The tag is never moved silently: when it already points at something else, publishing is
refused unless `force`, before any byte is pushed; when it already points at exactly what this
version publishes as (the layout is deterministic), nothing is pushed at all. The model layer
streams from the store through the upload (files verified against the version's manifest on the
way); blobs the registry already holds are not sent again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

from modelyard.worker.oci.auth import Credentials
from modelyard.worker.oci.client import OCI_MANIFEST, Registry, RegistrySettings
from modelyard.worker.oci.errors import OciError
from modelyard.worker.oci.modelkit import (FILEPATH, KIT_CONFIG, KIT_DOCS_LAYER, KIT_MODEL_LAYER, MODEL_FOLDER,
                                           DOCS_FOLDER, OpenFile, TarStream, VersionRecord, annotations, bytes_stream,
                                           digest_of, docs_layer, image_manifest, kitfile)
from modelyard.worker.oci.reference import parse_reference


@dataclass(frozen=True)
class Published:
    """Where the version went and what the tag points at now."""

    reference: str
    digest: str
    """The pushed manifest's digest."""
    pushed_bytes: int
    unchanged: bool
    """The tag already pointed at this exact manifest: nothing was pushed."""
    replaced: str | None = None
    """The digest the tag pointed at before (with force)."""

    @property
    def pinned(self) -> str:
        return str(parse_reference(self.reference).pinned(self.digest))


def _hash(stream: Any) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(1024 * 1024):
        digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def publish(record: VersionRecord, target: str, open_file: OpenFile, credentials: Credentials | None = None, *,
            force: bool = False, auth_hint: str = "", settings: RegistrySettings | None = None,
            progress: Callable[[int], None] | None = None) -> Published:
    """Push `record` (its files read with `open_file`) to `target` (`[oci://]registry/repo:tag`)."""
    reference = parse_reference(target)
    if reference.digest or not reference.tag:
        raise OciError("InvalidReference", f"{target}: publish needs a tag (registry/repository:tag), not a digest")
    what = str(reference)
    registry = Registry(reference.api_host, credentials, auth_hint=auth_hint, settings=settings)
    repository = reference.repository
    files = record.manifest.files
    model_stream = lambda: TarStream(MODEL_FOLDER, files, open_file)  # noqa: E731
    docs = docs_layer(record)
    docs_digest = digest_of(docs)
    existing = registry.manifest_digest(repository, reference.tag, what)
    pushed = 0

    def built(model_digest: str, model_size: int) -> tuple[bytes, bytes]:
        model = {"digest": model_digest}
        config = kitfile(record, model, {"digest": docs_digest})
        layers = [
            {"mediaType": KIT_MODEL_LAYER, "digest": model_digest, "size": model_size,
             "annotations": {FILEPATH: MODEL_FOLDER}},
            {"mediaType": KIT_DOCS_LAYER, "digest": docs_digest, "size": len(docs), "annotations": {FILEPATH: DOCS_FOLDER}},
        ]
        config_descriptor = {"mediaType": KIT_CONFIG, "digest": digest_of(config), "size": len(config)}
        return config, image_manifest(config_descriptor, layers, annotations(record))

    def push_bytes(data: bytes, label: str) -> None:
        nonlocal pushed
        if not registry.blob_exists(repository, digest_of(data), what):
            registry.push_blob(repository, bytes_stream(data), len(data), f"{what} {label}", digest_of(data))
            pushed += len(data)

    size = model_stream().size
    if existing is None:
        # First publish to this tag: one pass over the model, hashed on its way up.
        model_digest = registry.push_blob(repository, model_stream(), size, f"{what} model layer", progress=progress)
        pushed += size
    else:
        # The tag exists: what would it point at? Hash first, push nothing if refused.
        model_digest = _hash(model_stream())
        config, manifest = built(model_digest, size)
        if digest_of(manifest) == existing:
            return Published(what, existing, 0, unchanged=True)
        if not force:
            raise OciError("TagExists", f"{what} already points at {existing}, not at this version ({digest_of(manifest)} "
                           "would be pushed); publish to a new tag, or pass --force to move it")
        if not registry.blob_exists(repository, model_digest, what):
            registry.push_blob(repository, model_stream(), size, f"{what} model layer", model_digest, progress=progress)
            pushed += size
    config, manifest = built(model_digest, size)
    push_bytes(docs, "docs layer")
    push_bytes(config, "config")
    digest = registry.put_manifest(repository, reference.tag, manifest, OCI_MANIFEST, what)
    return Published(what, digest, pushed, unchanged=False, replaced=existing)
