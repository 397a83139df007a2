"""Artifact stores (S3-compatible and filesystem), version layout and integrity."""

from modelyard.storage.base import Store, StoreError
from modelyard.storage.open import open_store

__all__ = ["Store", "StoreError", "open_store"]
