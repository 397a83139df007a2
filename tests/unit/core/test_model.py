"""A Model's status aggregates its versions."""

from __future__ import annotations

from datetime import datetime, timezone

from modelyard.api.validation import parse_object
from modelyard.core.model import model_status
from tests.support import builders

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def version(name, semver, phase=None, model="classifier", **status):
    obj = builders.model_version(name=name, version=semver, modelRef={"name": model})
    if phase:
        obj["status"] = {"phase": phase, **status}
    return parse_object(obj)


def test_latest_ready_version_by_semver_not_by_name():
    versions = [
        version("v-1-10-0", "1.10.0", "Ready", artifact={"uri": "u", "digest": "sha256:x", "sizeBytes": 1}),
        version("v-1-9-0", "1.9.0", "Ready"),
        version("v-2-0-0-rc-1", "2.0.0-rc.1", "Importing"),
        version("other", "9.9.9", "Ready", model="another"),
    ]
    status = model_status(parse_object(builders.model()), versions, NOW)
    assert status["latestReadyVersion"] == "v-1-10-0"
    assert [v["name"] for v in status["versions"]] == ["v-1-9-0", "v-1-10-0", "v-2-0-0-rc-1"]
    assert status["versions"][1]["digest"] == "sha256:x"
    assert status["phase"] == "Ready"
    parse_object({**builders.model(), "status": status})


def test_no_ready_version():
    status = model_status(parse_object(builders.model()), [version("a", "1.0.0")], NOW)
    assert status["phase"] == "Pending" and "latestReadyVersion" not in status
    assert status["conditions"][0]["reason"] == "NoReadyVersion"


def test_the_release_is_latest_among_its_conversions():
    versions = [version("digits-1-0-0", "1.0.0", "Ready"), version("digits-onnx-cpu", "1.0.0+onnx.cpu", "Ready"),
                version("digits-int8", "1.0.0+onnx-int8.arm", "Ready")]
    status = model_status(parse_object(builders.model()), versions, NOW)
    assert status["latestReadyVersion"] == "digits-1-0-0"
