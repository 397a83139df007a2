"""The evaluated version's files: downloaded from the store, each checked against its manifest."""

from __future__ import annotations

from pathlib import Path

from modelyard.api.modelversion import ModelVersion
from modelyard.storage.base import Store
from modelyard.storage.layout import Manifest, download_version, read_manifest, version_prefix
from modelyard.worker.evaluate.errors import EvaluationError

SUFFIXES = {"onnx": (".onnx",), "torchscript": (".pt", ".pth", ".torchscript", ".ts", ".jit"),
            "pytorch-exportedprogram": (".pt2",)}


def prefix_of(namespace: str, version: ModelVersion) -> str:
    return version_prefix(namespace, version.spec.model_ref.name, version.spec.version)


def model_candidates(manifest: Manifest, suffixes: tuple[str, ...]) -> list[str]:
    """The version's files that can be its model: those with the format's suffix, else its only
    file. The caller refuses anything but exactly one."""
    found = [f.path for f in manifest.files if f.path.lower().endswith(suffixes)] if suffixes else []
    if not found and len(manifest.files) == 1:
        found = [manifest.files[0].path]
    return found


def model_file(manifest: Manifest, root: Path) -> Path:
    """The file a backend loads: the one with the format's suffix (or the only file)."""
    found = model_candidates(manifest, SUFFIXES.get(manifest.format, ()))
    if len(found) != 1:
        listed = ", ".join(f.path for f in manifest.files)
        raise EvaluationError("InvalidModel", f"version {manifest.name}: cannot tell which file is the "
                              f"{manifest.format} model among {listed or 'no files'}")
    return root.joinpath(*found[0].split("/"))


def fetch_model(store: Store, namespace: str, version: ModelVersion, dest: Path) -> tuple[Path, Manifest]:
    """Download the version (verified) and return its model file and manifest."""
    manifest, _ = download_version(store, prefix_of(namespace, version), dest)
    return model_file(manifest, dest), manifest


def model_size(store: Store, namespace: str, version: ModelVersion) -> int | None:
    """The version's size without downloading it (for models evaluated where they are served)."""
    if version.status and version.status.artifact:
        return version.status.artifact.size_bytes
    found = read_manifest(store, prefix_of(namespace, version))
    return found[0].size_bytes if found else None
