"""Open the store a URI names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelyard.storage.base import Store
from modelyard.storage.uri import parse

if TYPE_CHECKING:
    from modelyard.storage.config import S3Settings


def open_store(uri: str, settings: S3Settings | None = None, session: Any = None) -> Store:
    """A Store for `s3://bucket[/prefix]` or `file:///path`; an S3 store's credentials from
    `session` (a boto3 Session) when given, else boto3's standard chain."""
    location = parse(uri)
    if location.scheme == "s3":
        from modelyard.storage.s3 import S3Store

        return S3Store(location.bucket, location.key, settings, session=session)
    if location.scheme == "file":
        from modelyard.storage.fs import FileStore

        return FileStore(location.path)
    raise ValueError(f"{uri!r}: a store is s3://bucket[/prefix] or file:///path")
