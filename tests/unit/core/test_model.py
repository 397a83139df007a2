"""A Model's status aggregates its versions."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from modelyard.api.model import LISTED_VERSIONS
from modelyard.api.validation import ManifestError, parse_object
from modelyard.core.model import model_status, version_facts
from tests.support import builders

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def version(name, semver, phase=None, model="classifier", **status):
    obj = builders.model_version(name=name, version=semver, modelRef={"name": model})
    if phase:
        obj["status"] = {"phase": phase, **status}
    return version_facts(parse_object(obj))


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


def test_a_model_with_many_versions_lists_the_newest_and_counts_them_all():
    # 1.0.0 is the only Ready one, 1.0.1-1.0.149 failed or importing: a status listing all 150
    # would be over the CRD's maximum, so the API server would refuse every write of it
    versions = [version("v-0", "1.0.0", "Ready")] + [
        version(f"v-{i}", f"1.0.{i}", "Failed" if i % 2 else "Importing") for i in range(1, 150)]
    status = model_status(parse_object(builders.model()), versions, NOW)
    assert len(status["versions"]) == LISTED_VERSIONS == 100
    assert [v["name"] for v in status["versions"]][-1] == "v-149" and status["versions"][0]["name"] == "v-50"
    assert status["versionCounts"] == {"total": 150, "pending": 0, "importing": 74, "ready": 1, "failed": 75}
    assert status["latestReadyVersion"] == "v-0"
    parse_object({**builders.model(), "status": status})
    too_many = {**status, "versions": status["versions"] + status["versions"][:1]}
    with pytest.raises(ManifestError, match="versions"):
        parse_object({**builders.model(), "status": too_many})
