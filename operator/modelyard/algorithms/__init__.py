"""The preset algorithms: ClusterAlgorithm manifests that the chart installs and local mode
provides (the same files; a test fails when the chart's copies drift)."""

from __future__ import annotations

from pathlib import Path

import yaml

from modelyard.api.algorithm import ClusterAlgorithm
from modelyard.api.validation import parse_manifest

CATALOG = Path(__file__).parent


def preset_files() -> dict[str, str]:
    """File name -> YAML text of every preset."""
    return {path.name: path.read_text() for path in sorted(CATALOG.glob("*.yaml"))}


def presets() -> list[ClusterAlgorithm]:
    """Every preset, validated as the API server would."""
    found = []
    for text in preset_files().values():
        resource = parse_manifest(yaml.safe_load(text))
        assert isinstance(resource, ClusterAlgorithm)
        found.append(resource)
    return found
