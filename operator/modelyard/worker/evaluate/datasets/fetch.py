"""Bring the dataset next to the worker and check its sha256.

A local file (file://) is read in place; anything else (s3://, https://) is streamed to the
work folder, hashing on the way, because npz and zip need random access. A local folder is
accepted only for imagefolder and cannot carry a sha256 (package it to checksum it).
"""

from __future__ import annotations

from pathlib import Path

from modelyard.api.evaluationjob import DatasetSpec
from modelyard.storage.base import CHUNK, HashingReader, hash_file
from modelyard.storage.config import S3Settings
from modelyard.storage.uri import parse
from modelyard.worker.evaluate.errors import EvaluationError
from modelyard.worker.source import basename, open_source, redact


def fetch_dataset(spec: DatasetSpec, workdir: Path, s3: S3Settings | None = None) -> Path:
    """A local path of the dataset (file or folder), its sha256 verified when given."""
    location = parse(spec.uri)
    if location.scheme == "file":
        path = location.path
        if not path.exists():
            raise EvaluationError("NotFound", f"dataset {spec.uri} does not exist")
        if path.is_dir():
            if spec.format != "imagefolder":
                raise EvaluationError("DatasetMismatch", f"dataset {spec.uri} is a folder; format {spec.format} needs a file")
            if spec.sha256:
                raise EvaluationError("DatasetMismatch", f"dataset {spec.uri} is a folder and cannot be checked against "
                                      "sha256; package it as .tar.gz or .zip, or drop dataset.sha256")
            return path
        if spec.sha256:
            _check(spec, hash_file(path))
        return path
    target = workdir / "dataset" / basename(spec.uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open_source(spec.uri, s3) as stream, target.open("wb") as out:
        reader = HashingReader(stream, tee=out)
        while reader.read(CHUNK):
            pass
    if spec.sha256:
        _check(spec, reader.sha256)
    return target


def _check(spec: DatasetSpec, actual: str) -> None:
    if actual != spec.sha256:
        raise EvaluationError(
            "DigestMismatch",
            f"dataset {redact(spec.uri)} has sha256 {actual} but dataset.sha256 is {spec.sha256}: "
            "the data changed or the checksum is wrong",
        )
