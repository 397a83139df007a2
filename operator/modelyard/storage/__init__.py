"""Artifact stores (S3-compatible and filesystem), version layout and integrity."""

from typing import Any

from modelyard.storage.base import Store, StoreError

__all__ = ["Store", "StoreError", "open_store"]


def __getattr__(name: str) -> Any:
    # open_store on first use: its settings (pydantic-settings) are not needed to name a store
    if name == "open_store":
        from modelyard.storage.open import open_store

        return open_store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
