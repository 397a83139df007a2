"""Open the bytes a ModelVersion's source names: s3://, file:// or https://, streamed."""

from __future__ import annotations

import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import BinaryIO, Iterator

from modelyard.storage.base import StoreError
from modelyard.storage.config import S3Settings
from modelyard.storage.uri import parse
from modelyard.worker.errors import WorkerError


class SourceError(WorkerError):
    """The source cannot be read; the message says which and why (with no credentials)."""


def redact(uri: str) -> str:
    """A URI safe to show: query strings (pre-signed URL signatures) are dropped."""
    return uri.split("?", 1)[0] + ("?<redacted>" if "?" in uri else "")


def basename(uri: str) -> str:
    """The file name a source URI ends with."""
    name = PurePosixPath(parse(uri).key.split("?", 1)[0]).name
    return name or "model"


@contextmanager
def open_source(uri: str, settings: S3Settings | None = None, timeout_s: float = 60) -> Iterator[BinaryIO]:
    """A readable stream of the source."""
    location = parse(uri)
    if location.scheme == "s3":
        from modelyard.storage.s3 import S3Store

        try:
            with S3Store(location.bucket, "", settings).open(location.key) as stream:
                yield stream
        except StoreError as error:
            raise SourceError(error.reason, f"source {error.message}") from None
    elif location.scheme == "file":
        try:
            stream = location.path.open("rb")
        except FileNotFoundError:
            raise SourceError("NotFound", f"source {uri} does not exist") from None
        except IsADirectoryError:
            raise SourceError("NotAFile", f"source {uri} is a folder; package it as .tar.gz or .zip") from None
        with stream:
            yield stream
    else:
        shown = redact(uri)
        try:
            response = urllib.request.urlopen(uri, timeout=timeout_s)  # noqa: S310 (scheme checked by the API)
        except urllib.error.HTTPError as error:
            raise SourceError("HTTPError", f"source {shown}: HTTP {error.code} {error.reason}") from None
        except urllib.error.URLError as error:
            raise SourceError("EndpointUnreachable", f"source {shown}: cannot connect ({error.reason})") from None
        with response:
            yield response
