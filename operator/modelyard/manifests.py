"""Read manifests from files and folders the way `kubectl apply -f` does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from modelyard.api import API_VERSION

SUFFIXES = (".yaml", ".yml", ".json")


class _Loader(yaml.SafeLoader):
    """YAML as Kubernetes reads it: timestamps stay strings (kubectl converts YAML to JSON)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Document:
    """One object read from a file, with where it came from."""

    source: Path
    index: int
    body: Any

    @property
    def where(self) -> str:
        return f"{self.source}#{self.index}"

    @property
    def is_modelyard(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("apiVersion") == API_VERSION


class ManifestFileError(ValueError):
    """A file that is not readable YAML/JSON, or a path that does not exist."""


def files(paths: list[Path]) -> Iterator[Path]:
    """Manifest files under `paths`, folders walked recursively in name order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        elif path.is_file():
            yield path
        else:
            raise ManifestFileError(f"{path}: no such file or directory")


def load_text(text: str, source: Path) -> list[Document]:
    """Every non-empty document of a YAML/JSON stream; `kind: List` is flattened."""
    try:
        bodies = [b for b in yaml.load_all(text, Loader=_Loader) if b is not None]
    except yaml.YAMLError as error:
        raise ManifestFileError(f"{source}: not valid YAML: {error}") from None
    docs: list[Document] = []
    for body in bodies:
        items = body.get("items", []) if isinstance(body, dict) and body.get("kind") == "List" else [body]
        docs.extend(Document(source, len(docs), item) for item in items)
    return docs


def load(paths: list[Path]) -> list[Document]:
    """Every document in the given files and folders."""
    return [doc for path in files(paths) for doc in load_text(path.read_text(), path)]
