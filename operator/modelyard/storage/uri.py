"""Parsing of the store and source URIs Modelyard accepts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class Location:
    """A parsed `s3://bucket/key`, `file:///path` or `https://host/path`."""

    scheme: str
    bucket: str
    key: str

    @property
    def path(self) -> Path:
        """The local path of a file:// location."""
        return Path("/" + self.key) if self.scheme == "file" else Path(self.key)

    def __str__(self) -> str:
        if self.scheme == "s3":
            return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"
        if self.scheme == "file":
            return f"file:///{self.key}"
        return f"{self.scheme}://{self.bucket}/{self.key}"


def parse(uri: str) -> Location:
    """Parse a URI; a ValueError names what was wrong."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"{uri!r}: an s3:// URI needs a bucket: s3://bucket/key")
        return Location("s3", parsed.netloc, parsed.path.lstrip("/"))
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"{uri!r}: a file URI is file:///absolute/path")
        return Location("file", "", unquote(parsed.path).lstrip("/"))
    if parsed.scheme in ("https", "http"):
        return Location(parsed.scheme, parsed.netloc, parsed.path.lstrip("/") + (f"?{parsed.query}" if parsed.query else ""))
    raise ValueError(f"{uri!r}: expected an s3://, file:// or https:// URI")


def join(base: str, *parts: str) -> str:
    """Append key parts to a URI with single slashes."""
    cleaned = [p.strip("/") for p in parts if p.strip("/")]
    return "/".join([base.rstrip("/"), *cleaned])
