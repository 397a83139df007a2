"""Open the bytes a ModelVersion's source names: s3://, file:// or https://, streamed."""

from __future__ import annotations

import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Iterator

from modelyard.storage.base import StoreError
from modelyard.storage.uri import parse
from modelyard.worker.errors import WorkerError

if TYPE_CHECKING:
    from modelyard.storage.config import S3Settings


class SourceError(WorkerError):
    """The source cannot be read; the message says which and why (with no credentials)."""


def redact(uri: str) -> str:
    """A URI safe to show: query strings (pre-signed URL signatures) are dropped."""
    return uri.split("?", 1)[0] + ("?<redacted>" if "?" in uri else "")


def basename(uri: str) -> str:
    """The file name a source URI ends with."""
    name = PurePosixPath(parse(uri).key.split("?", 1)[0]).name
    return name or "model"


class SourceStream:
    """A source's bytes, with its size when the source tells it. Errors reading it are the
    source's (SourceError); errors of whatever the bytes are written to stay their own."""

    def __init__(self, stream: Any, size: int | None):
        self._stream = stream
        self.size = size

    def read(self, n: int = -1) -> bytes:
        try:
            return self._stream.read(n)
        except StoreError as error:
            raise SourceError(error.reason, f"source {error.message}") from None


@contextmanager
def open_source(
    uri: str, settings: S3Settings | None = None, timeout_s: float = 60, client: Any = None
) -> Iterator[SourceStream]:
    """A readable stream of the source; `client`: an S3 client for `settings` to reuse (making
    one costs about 0.1 s)."""
    location = parse(uri)
    with ExitStack() as stack:
        if location.scheme == "s3":
            from modelyard.storage.s3 import S3Store

            try:
                stream = stack.enter_context(S3Store(location.bucket, "", settings, client).open(location.key))
            except StoreError as error:
                raise SourceError(error.reason, f"source {error.message}") from None
            size = stream.size
        elif location.scheme == "file":
            try:
                stream = stack.enter_context(location.path.open("rb"))
            except FileNotFoundError:
                raise SourceError("NotFound", f"source {uri} does not exist") from None
            except IsADirectoryError:
                raise SourceError("NotAFile", f"source {uri} is a folder; package it as .tar.gz or .zip") from None
            size = location.path.stat().st_size
        else:
            shown = redact(uri)
            try:
                stream = stack.enter_context(urllib.request.urlopen(uri, timeout=timeout_s))  # noqa: S310 (scheme checked by the API)
            except urllib.error.HTTPError as error:
                raise SourceError("HTTPError", f"source {shown}: HTTP {error.code} {error.reason}") from None
            except urllib.error.URLError as error:
                raise SourceError("EndpointUnreachable", f"source {shown}: cannot connect ({error.reason})") from None
            size = stream.length
        yield SourceStream(stream, size)
