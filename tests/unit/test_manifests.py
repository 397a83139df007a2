"""Reading manifests the way `kubectl apply -f` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.manifests import ManifestFileError, load, load_text


def test_multi_document_and_list_are_flattened(tmp_path: Path):
    text = """
apiVersion: modelyard.dev/v1alpha1
kind: Model
metadata: {name: a}
spec: {task: other}
---
---
apiVersion: v1
kind: List
items:
  - {apiVersion: modelyard.dev/v1alpha1, kind: Model, metadata: {name: b}, spec: {task: other}}
  - {apiVersion: v1, kind: Secret, metadata: {name: s}}
"""
    docs = load_text(text, tmp_path / "x.yaml")
    assert [d.body["metadata"]["name"] for d in docs] == ["a", "b", "s"]
    assert [d.is_modelyard for d in docs] == [True, True, False]


def test_timestamps_stay_strings_as_kubectl_sends_them(tmp_path: Path):
    (doc,) = load_text("created: 2026-11-22T10:00:00Z\nversion: 1.0\n", tmp_path / "x.yaml")
    assert doc.body["created"] == "2026-11-22T10:00:00Z"
    assert doc.body["version"] == 1.0  # an unquoted 1.0 is a number, as for kubectl


def test_folders_are_walked_in_order(tmp_path: Path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.yml").write_text("kind: B\n")
    (tmp_path / "a.yaml").write_text("kind: A\n")
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / "c.json").write_text('{"kind": "C"}')
    assert [d.body["kind"] for d in load([tmp_path])] == ["A", "B", "C"]


def test_missing_path_and_bad_yaml_name_the_file(tmp_path: Path):
    with pytest.raises(ManifestFileError, match="nope.yaml: no such file"):
        load([tmp_path / "nope.yaml"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [unclosed\n")
    with pytest.raises(ManifestFileError, match="bad.yaml: not valid YAML"):
        load([bad])
