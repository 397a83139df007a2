"""apply(): what a refused write becomes, over LocalCluster with writes that fail as the API
server's would."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from kubernetes.client.rest import ApiException

from modelyard.api.validation import parse_manifest
from modelyard.core.decision import Decision
from modelyard.handlers.apply import apply
from modelyard.local.state import LocalCluster
from tests.support import builders as b


class Refusing(LocalCluster):
    def __init__(self, root: Path, error: Exception):
        super().__init__(root)
        self.error = error

    def create(self, manifest):
        raise self.error


def _invalid() -> ApiException:
    error = ApiException(status=422, reason="Unprocessable Entity")
    error.body = json.dumps({"message": "Job is invalid", "details": {"causes": [
        {"field": "spec.template.spec.containers[0].image", "message": "Required value"}]}})
    return error


def _apply(tmp_path: Path, error: Exception) -> tuple[LocalCluster, bool, list[str]]:
    cluster = Refusing(tmp_path, error)
    cluster.apply(parse_manifest(b.model()))
    obj = cluster.get("Model", "default", "classifier")
    events: list[str] = []
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "default"}}
    done = apply(cluster, obj, Decision(status={"phase": "Pending"}, create=[job]), lambda e: events.append(e.message),
                 datetime(2026, 1, 1, tzinfo=timezone.utc))
    return cluster, done, events


def test_a_refused_create_is_said_in_the_status_and_an_event(tmp_path: Path):
    cluster, done, events = _apply(tmp_path, _invalid())
    status = cluster.get("Model", "default", "classifier").status.to_dict()
    assert done is False and status["phase"] == "Failed"
    expected = "the API server refused to create Job j: spec.template.spec.containers[0].image: Required value"
    assert status["message"] == expected and events == [expected]


def test_errors_that_are_not_refusals_propagate(tmp_path: Path):
    with pytest.raises(ApiException):
        _apply(tmp_path, ApiException(status=409, reason="Conflict"))
    with pytest.raises(OSError):
        _apply(tmp_path / "other", OSError("disk full"))
