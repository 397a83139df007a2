"""Test tiers: tests under tests/unit are `unit`, tests/integration `integration`, tests/e2e
`e2e` (opt-in: `pytest -m e2e`)."""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        tier = Path(item.path).relative_to(root).parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


pytest_plugins = ["tests.support.s3server", "tests.support.rgw"]
