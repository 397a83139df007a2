"""The generated API reference page."""

from __future__ import annotations

from pathlib import Path

from modelyard.api.conditions import TYPES
from modelyard.api.reference import markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "api-reference.md"


def test_checked_in_reference_matches_the_models():
    assert DOC.read_text() == markdown(), "run hack/generate.sh"


def test_reference_lists_fields_rules_and_conditions():
    text = markdown()
    assert "| `source.uri` | string |" in text
    assert "exactly one of uri, trainingJob, template, image or oci must be set" in text
    assert "- Rule: spec is immutable: create a new ModelVersion instead" in text
    for condition in TYPES:
        assert f"| `{condition}` |" in text
