"""Fixtures of the conversion tests: a file store and quick benchmarks."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.storage.fs import FileStore
from modelyard.worker.convert import benchmark


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "store")


@pytest.fixture(autouse=True)
def quick_benchmarks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timing figures are checked for shape, not value: keep each measurement short."""
    monkeypatch.setattr(benchmark, "BUDGET_S", 0.0)
    monkeypatch.setattr(benchmark, "MIN_RUNS", 2)
