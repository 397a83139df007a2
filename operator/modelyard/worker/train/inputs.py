"""Bring each training input next to the worker, hashing it: the digest is checked against the
job's `sha256` before training starts, and recorded with the trained version either way."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.storage.base import CHUNK, HashingReader, hash_file
from modelyard.storage.uri import parse
from modelyard.worker.errors import WorkerError
from modelyard.worker.source import basename, open_source, redact

if TYPE_CHECKING:
    from modelyard.storage.config import S3Settings


class InputError(WorkerError):
    """An input that is missing or not the bytes the job names."""


def fetch_input(item: dict[str, Any], workdir: Path, s3: S3Settings | None = None) -> tuple[Path, str | None]:
    """(local path, sha256) of one input; a local folder (imagefolder) has no digest."""
    uri, expected, name = item["uri"], item.get("sha256"), item["name"]
    location = parse(uri)
    if location.scheme == "file":
        path = location.path
        if not path.exists():
            raise InputError("NotFound", f"spec.inputs[name={name}]: {uri} does not exist")
        if path.is_dir():
            if expected:
                raise InputError("InvalidInput", f"spec.inputs[name={name}]: {uri} is a folder and cannot be checked "
                                 "against sha256; package it as .tar.gz or .zip, or drop sha256")
            return path, None
        actual = hash_file(path)
    else:
        path = workdir / "inputs" / name / basename(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open_source(uri, s3) as stream, path.open("wb") as out:
            reader = HashingReader(stream, tee=out)
            while reader.read(CHUNK):
                pass
        actual = reader.sha256
    if expected and actual != expected:
        raise InputError("DigestMismatch", f"spec.inputs[name={name}]: {redact(uri)} has sha256 {actual}, but the job "
                         f"expects {expected}: the data changed or the checksum is wrong; nothing was trained")
    return path, actual
