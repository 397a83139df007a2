"""Import: fetch a ModelVersion's source, prove what it is, store it immutably.

A single model file is uploaded while it downloads, in one pass: its first bytes prove it is the
declared format before anything is stored (worker/sniff.py), then the bytes are hashed and sent
to the store as they arrive, and copied to the work folder only when inspection needs the whole
file (safetensors needs only its header, which the first bytes hold). Archives are unpacked
safely and their files uploaded one by one. The manifest is written only after the model was
inspected and its signature checked, so a version is never complete unless it is right.
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from modelyard import __version__
from modelyard.api.common import Signature
from modelyard.api.modelversion import ModelVersionSpec
from modelyard.storage.base import CHUNK, HashingReader, Progress, Store
from modelyard.storage.config import S3Settings
from modelyard.storage.layout import FileEntry, Manifest, VersionWriter, version_prefix
from modelyard.worker.archive import extract, is_archive
from modelyard.worker.errors import WorkerError
from modelyard.worker.sniff import NotTheDeclaredFormat, Prefix, PrefixedStream, read_prefix
from modelyard.worker.source import SourceStream, basename, open_source, redact
from modelyard.workloads.image_source import MOUNT

if TYPE_CHECKING:
    from modelyard.worker.oci.auth import Credentials
    from modelyard.worker.oci.pull import Pulled

IMAGE_ROOT = Path(MOUNT)
"""Where the image-source init container copies the model (a shared emptyDir)."""
REGISTRY_AUTH_VARIABLE = "MODELYARD_REGISTRY_AUTH"
"""The folder where the import Job mounts an OCI source's pull secret (workloads/jobs.py)."""


def _registry_auth_from_env() -> Path | None:
    folder = os.environ.get(REGISTRY_AUTH_VARIABLE)
    return Path(folder) if folder else None


class ImportFailure(WorkerError):
    """A failed import with a reason code and a message for the user."""


@dataclass
class ImportJob:
    """Everything one import needs."""

    namespace: str
    name: str
    spec: ModelVersionSpec
    store: Store
    workdir: Path
    s3: S3Settings | None = None
    image_root: Path = IMAGE_ROOT
    template_dir: Path | None = None
    progress: Progress | None = None
    started: float = field(default_factory=time.monotonic)
    registry_auth: Path | None = field(default_factory=_registry_auth_from_env)
    """The mounted pull secret of an OCI source; None outside a cluster, where the user's own
    docker config and environment supply credentials."""


def source_uri(spec: ModelVersionSpec, image_root: Path = IMAGE_ROOT) -> str:
    """The URI to read, whichever kind of source the spec names."""
    source = spec.source
    if source.uri:
        return source.uri
    if source.training_job:
        return source.training_job.output_uri
    if source.template:
        return source.template.uri
    if source.oci:
        return f"oci://{source.oci.reference}"
    assert source.image is not None
    return f"file://{image_root / PurePosixPath(source.image.path).name}"


def _lineage(spec: ModelVersionSpec) -> dict[str, Any]:
    lineage = spec.lineage.to_dict() if spec.lineage else {}
    if spec.source.training_job:
        lineage.setdefault("trainingJob", spec.source.training_job.name)
        lineage["trainingJobKind"] = spec.source.training_job.kind
    if spec.source.image:
        lineage["image"] = spec.source.image.image
    if spec.source.template:
        lineage["template"] = spec.source.template.name
    return lineage


def tool_versions(*packages: str) -> dict[str, str]:
    versions = {"modelyard": __version__, "python": platform.python_version()}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _hash_file(path: Path) -> FileEntry:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(path=path.name, size_bytes=size, sha256=digest.hexdigest())


def run_import(job: ImportJob) -> dict[str, Any]:
    """Import the version; returns the result (also stored as result.json)."""
    from modelyard.templates import load_catalog
    from modelyard.worker.inspect import check_signature, inspect_model, safetensors_facts

    spec = job.spec
    uri = source_uri(spec, job.image_root)
    prefix = version_prefix(job.namespace, spec.model_ref.name, spec.version)
    writer = VersionWriter(job.store, prefix)
    template = None
    if spec.source.template:
        catalog = load_catalog(job.template_dir)
        template = catalog.get(spec.source.template.name).resolve(spec.source.template.parameters or {})
    try:
        pulled = None
        if spec.source.oci is not None:
            fetched, pulled = _fetch_oci(job)
        else:
            fetched = _fetch(job, uri, writer)
        if fetched.path is None:
            assert fetched.prefix.safetensors_header is not None
            facts = safetensors_facts(fetched.prefix.safetensors_header, template,
                                      fetched.size - len(fetched.prefix.data), fetched.files[0].name)
        else:
            facts = inspect_model(fetched.path, spec.format, template)
        declared = spec.signature or (template.signature if template else None)
        signature: Signature = check_signature(declared, facts.signature, facts.named_outputs, facts.untyped)
        entries = _store_files(job, writer, fetched)
        lineage = _lineage(spec)
        source = {"uri": redact(uri), **({"sha256": spec.source.sha256} if spec.source.sha256 else {})}
        if pulled is not None:
            lineage.update(oci=pulled.reference, ociDigest=pulled.digest)
            source = pulled.provenance()
        manifest = Manifest(
            namespace=job.namespace,
            model=spec.model_ref.name,
            name=job.name,
            version=spec.version,
            format=spec.format,
            files=entries,
            signature=signature.to_dict(),
            inspection=facts.to_status(),
            lineage=lineage,
            source=source,
            tools=tool_versions("torch", "onnx", "onnxruntime", "safetensors"),
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        digest = writer.commit(manifest)
        result = _result(job, writer, manifest, digest)
        if writer.written:
            writer.write_result(result)
        return result
    except BaseException:
        writer.abort()
        raise


@dataclass
class Fetched:
    """What the import brought: `path` to inspect (None when the first bytes told all that
    inspection needs), the files that make up the version, and the source's first bytes."""

    path: Path | None
    files: list[Path]
    prefix: Prefix
    size: int = 0


# Formats whose facts need only the first bytes: no work-folder copy of the whole file.
_PREFIX_INSPECTED = {"safetensors"}


def _fetch(job: ImportJob, uri: str, writer: VersionWriter) -> Fetched:
    """Bring the source in, uploading a single file on the way; a source that is not the
    declared format fails at its first bytes, before anything is stored."""
    local_source = Path(uri[len("file://"):]) if uri.startswith("file://") else None
    if local_source is not None and local_source.is_dir():
        files = sorted(p.relative_to(local_source) for p in local_source.rglob("*") if p.is_file())
        return Fetched(local_source, files, Prefix(b""))
    name = basename(uri)
    archive = is_archive(name)
    stream_into_store = not archive and writer.existing is None
    keep_copy = not stream_into_store or job.spec.format not in _PREFIX_INSPECTED
    target = job.workdir / "source" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with open_source(uri, job.s3, client=_same_endpoint_client(job)) as source:
        prefix = Prefix(b"") if archive else _prefix(job.spec.format, source, name, uri)
        stream = PrefixedStream(prefix.data, source)
        with target.open("wb") if keep_copy else nullcontext() as copy:
            # Streaming into the store hashes on the way there; otherwise the bytes are hashed here.
            reader = HashingReader(stream, tee=copy, progress=job.progress, hashing=not stream_into_store)
            if stream_into_store:
                actual = writer.put_file(name, reader, size=source.size).sha256
            else:
                while reader.read(CHUNK):
                    pass
                actual = reader.sha256
    expected = job.spec.source.sha256
    if expected and actual != expected:
        raise ImportFailure(
            "DigestMismatch",
            f"source {redact(uri)} has sha256 {actual}, but spec.source.sha256 is {expected}",
        )
    if archive:
        unpacked = job.workdir / "unpacked"
        return Fetched(unpacked, sorted(extract(target, unpacked)), prefix, reader.size)
    return Fetched(target if keep_copy else None, [Path(name)], prefix, reader.size)


def _fetch_oci(job: ImportJob) -> tuple[Fetched, Pulled]:
    """Pull an OCI source's model into the work folder (every layer checked against its digest
    and size), then treat it as any other source: a single file is checked against spec.format
    from its first bytes and an archive unpacked; a folder is imported as a whole."""
    from modelyard.worker.oci.pull import pull
    from modelyard.worker.oci.reference import parse_reference

    oci = job.spec.source.oci
    assert oci is not None
    host = parse_reference(oci.reference).registry
    credentials, hint = _registry_credentials(job, host)
    pulled = pull(oci.reference, oci.path, job.workdir / "oci", credentials, auth_hint=hint)
    uri = f"oci://{oci.reference}"
    if len(pulled.files) != 1:
        return Fetched(pulled.root, pulled.files, Prefix(b"")), pulled
    path = pulled.root / pulled.files[0]
    if is_archive(path.name):
        unpacked = job.workdir / "unpacked"
        return Fetched(unpacked, sorted(extract(path, unpacked)), Prefix(b"")), pulled
    with path.open("rb") as stream:
        prefix = _prefix(job.spec.format, SourceStream(stream, path.stat().st_size), path.name, uri)
    return Fetched(path, [Path(path.name)], prefix, path.stat().st_size), pulled


def _registry_credentials(job: ImportJob, host: str) -> tuple[Credentials | None, str]:
    """The credentials for an OCI source's registry and what to say when they are missing: in a
    Job, its mounted pull secret only; elsewhere (local mode, tests), the user's own."""
    from modelyard.worker.oci.auth import from_pull_secret, user_credentials

    oci = job.spec.source.oci
    assert oci is not None
    if oci.pull_secret_ref is not None and job.registry_auth is not None:
        name = oci.pull_secret_ref.name
        found = from_pull_secret(job.registry_auth, name, host)
        return found, f'pull secret "{name}" holds no credentials for {host}'
    hint = "set spec.source.oci.pullSecretRef to a kubernetes.io/dockerconfigjson Secret with them"
    if job.registry_auth is None:
        hint += " (in local mode: docker login, or MODELYARD_REGISTRY_USERNAME and MODELYARD_REGISTRY_PASSWORD)"
    return user_credentials(host), hint


def _same_endpoint_client(job: ImportJob) -> Any:
    """The store's S3 client when the source is read with the same settings."""
    settings = getattr(job.store, "settings", None)
    if isinstance(settings, S3Settings) and (job.s3 or S3Settings()) == settings:
        return getattr(job.store, "client", None)
    return None


def _prefix(format: str, source: Any, name: str, uri: str) -> Prefix:
    try:
        return read_prefix(format, source, source.size, name)
    except NotTheDeclaredFormat as error:
        raise ImportFailure("WrongFormat", f"source {redact(uri)}: {error}") from None


def _store_files(job: ImportJob, writer: VersionWriter, fetched: Fetched) -> list[FileEntry]:
    """Upload what is not in the store yet; entries for every file of the version."""
    done = {e.path: e for e in writer.written}
    entries = []
    for relative in fetched.files:
        key = relative.as_posix()
        if key in done:
            entries.append(done[key])
            continue
        assert fetched.path is not None, "only a file already stored has no local copy"
        root = fetched.path if fetched.path.is_dir() else fetched.path.parent
        if writer.existing is not None:
            entry = _hash_file(root / relative)
            entries.append(FileEntry(path=key, size_bytes=entry.size_bytes, sha256=entry.sha256))
        else:
            with (root / relative).open("rb") as stream:
                entries.append(writer.put_file(key, stream, job.progress))
    return entries


def _result(job: ImportJob, writer: VersionWriter, manifest: Manifest, digest: str) -> dict[str, Any]:
    reused = writer.existing is not None
    return {
        "ok": True,
        "kind": "import",
        "phase": "Ready",
        "reason": "AlreadyImported" if reused else "Imported",
        "message": (
            f"version {manifest.version} already stored with identical content"
            if reused
            else f"imported {len(manifest.files)} file(s), {manifest.size_bytes} bytes"
        ),
        "artifact": {
            "uri": job.store.describe(writer.prefix) + "/",
            "digest": digest,
            "sizeBytes": manifest.size_bytes,
            "files": [f.model_dump(by_alias=True) for f in manifest.files],
        },
        "signature": manifest.signature,
        "inspection": manifest.inspection,
        "lineage": manifest.lineage,
        **({"source": manifest.source} if "oci" in manifest.source else {}),
        "durationSeconds": round(time.monotonic() - job.started, 3),
    }
