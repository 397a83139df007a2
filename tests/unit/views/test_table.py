"""`get` prints what kubectl would for the CRDs."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import yaml

from modelyard.views.objects import UnknownKind, resolve_kind
from modelyard.views.table import age, render, rows
from tests.support import builders as b


def _stored(body, status=None):
    body = {**body, "metadata": {**body["metadata"], "namespace": "default", "creationTimestamp": "2026-11-24T08:00:00Z"}}
    return {**body, "status": status or {}}


def test_kinds_resolve_like_kubectl():
    assert {resolve_kind(x) for x in ("mv", "modelversions", "ModelVersion", "modelversion")} == {"ModelVersion"}
    with pytest.raises(UnknownKind, match="expected one of Model"):
        resolve_kind("pods")


def test_rows_use_the_printer_columns():
    version = _stored(b.model_version(), {"phase": "Ready", "artifact": {"digest": "sha256:ab"}, "conditions": [
        {"type": "Reconciling", "status": "False", "reason": "Done"}, {"type": "Ready", "status": "True", "reason": "Imported"}]})
    now = datetime(2026, 11, 24, 8, 5, tzinfo=timezone.utc)
    header, row = rows("ModelVersion", [version], now=now)
    assert header == ["NAME", "MODEL", "VERSION", "FORMAT", "PHASE", "REASON", "DIGEST", "AGE"]
    assert row == ["classifier-1-0-0", "classifier", "1.0.0", "onnx", "Ready", "Imported", "sha256:ab", "5m"]
    wide_header = rows("ModelVersion", [version], wide=True, now=now)[0]
    assert "PARENT" in wide_header


def test_json_and_yaml_are_a_v1_list_with_full_status():
    evaluation = _stored(b.evaluation_job(), {"phase": "Succeeded", "passed": True, "results": {"accuracy": 0.97}})
    listed = json.loads(render("EvaluationJob", [evaluation], "json"))
    assert listed["apiVersion"] == "v1" and listed["kind"] == "List"
    assert listed["items"][0]["status"]["results"] == {"accuracy": 0.97}
    assert yaml.safe_load(render("EvaluationJob", [evaluation], "yaml")) == listed
    assert json.loads(render("EvaluationJob", [evaluation], "json", single=True))["kind"] == "EvaluationJob"
    assert render("Model", [], "table") == "No resources found."


def test_age_reads_like_kubectl():
    now = datetime(2026, 11, 24, 8, 0, tzinfo=timezone.utc)
    assert [age(t, now) for t in ("2026-11-24T07:59:18Z", "2026-11-24T05:00:00Z", "2026-11-20T08:00:00Z")] == ["42s", "3h", "4d"]
