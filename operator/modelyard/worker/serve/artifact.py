"""The served version's files: downloaded from the store, every file's sha256 checked against the
manifest before anything loads, and the file the backend loads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelyard.api.common import Signature
from modelyard.api.modelversion import ModelVersion
from modelyard.storage.base import Store, StoreError
from modelyard.storage.layout import Manifest, download_version, version_prefix
from modelyard.worker.evaluate.model import model_candidates
from modelyard.worker.serve.errors import ServeError

SUFFIXES = {"onnx": (".onnx",), "openvino": (".xml",), "torchscript": (".pt", ".pth", ".torchscript", ".ts", ".jit")}
"""The suffix of the file each runtime loads (OpenVINO's .bin sits beside its .xml)."""


@dataclass(frozen=True)
class Artifact:
    root: Path
    model: Path
    """The file the backend loads."""
    manifest: Manifest
    digest: str
    """sha256 of the manifest: the version's digest."""


def runtime_format(format: str) -> str:
    """onnx-fp16 and onnx-int8 are ONNX files."""
    return "onnx" if format.startswith("onnx") else format


def signature_of(version: ModelVersion, manifest: Manifest | None = None) -> Signature | None:
    """The inspected signature (status) else the declared one (spec) else the manifest's."""
    found = (version.status.signature if version.status else None) or version.spec.signature
    if found is None and manifest is not None and manifest.signature:
        found = Signature.model_validate(manifest.signature)
    return found


def fetch(store: Store, namespace: str, version: ModelVersion, dest: Path) -> Artifact:
    """Download the version; a file whose sha256 differs from the manifest's stops here."""
    prefix = version_prefix(namespace, version.spec.model_ref.name, version.spec.version)
    try:
        manifest, digest = download_version(store, prefix, dest)
    except StoreError as error:
        if error.reason == "IntegrityError":
            raise ServeError("DigestMismatch", f"refusing to serve {version.metadata.name}: {error}") from None
        raise
    return Artifact(dest, model_file(manifest, dest, version.spec.format), manifest, digest)


def model_file(manifest: Manifest, root: Path, format: str) -> Path:
    found = model_candidates(manifest, SUFFIXES.get(runtime_format(format), ()))
    if len(found) != 1:
        listed = ", ".join(f.path for f in manifest.files)
        raise ServeError("InvalidModel", f"version {manifest.name}: cannot tell which file is the {format} model "
                         f"among {listed or 'no files'}")
    return root.joinpath(*found[0].split("/"))
