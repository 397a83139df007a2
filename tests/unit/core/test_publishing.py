"""A Model's publish rule on its versions: which are pushed where, the Job, the recorded digest,
a failed push that leaves the version Ready."""

from __future__ import annotations

from datetime import datetime, timezone

from modelyard.api.validation import parse_object
from modelyard.config import Settings
from modelyard.core.decision import Decision
from modelyard.core.jobstate import JobObservation
from modelyard.core.publishing import add_publishing, already_published, publish_job_name, publish_target, tag_for
from modelyard.workloads.jobs import build_publish_job
from modelyard.workloads.profiles import default_profiles
from tests.support import builders
from tests.support.builders import served_version

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
RULE = {"repository": "oci://registry.example.com/team/classifier", "pushSecretRef": {"name": "regcred"}}


def model(**publish):
    body = builders.model(publish={**RULE, **publish})
    body["metadata"]["uid"] = "model-uid"
    return parse_object(body)


def test_the_target_is_the_repository_tagged_with_the_version_once_the_rule_holds():
    gated = parse_object(served_version("classifier-int8", format="onnx-int8", parent="classifier-1-0-0", hardware="arm"))
    assert publish_target(gated, model()) == "registry.example.com/team/classifier:1.0.0_onnx-int8.arm"
    ungated = parse_object(served_version("classifier-1-0-0", gates=None))
    assert publish_target(ungated, model()) is None  # GatesPassed by default
    assert publish_target(ungated, model(when="Ready")) == "registry.example.com/team/classifier:1.0.0"
    importing = parse_object(served_version("classifier-1-0-0", phase="Importing"))
    assert publish_target(importing, model(when="Ready")) is None
    assert publish_target(ungated, parse_object(builders.model())) is None
    assert tag_for("2.1.0-rc.1+build.7") == "2.1.0-rc.1_build.7"


def test_the_publish_job_mounts_the_push_secret_and_names_the_target():
    version = parse_object(served_version("classifier-1-0-0"))
    target = "registry.example.com/team/classifier:1.0.0"
    name = publish_job_name(version, target)
    job = build_publish_job(version, model(), target, name, {}, default_profiles(), Settings(store_uri="s3://models"))
    pod = job["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert job["metadata"]["name"] == name and name.startswith("publish-classifier-1-0-0-")
    assert env["MODELYARD_PUBLISH_TARGET"] == target and env["MODELYARD_REGISTRY_SECRET"] == "regcred"
    assert {"name": "registry-auth", "secret": {"secretName": "regcred", "optional": True, "defaultMode": 0o440}} in pod["volumes"]
    assert pod["containers"][0]["command"][-1] == "publish"
    assert publish_job_name(version, target + "x") != name  # another target is another push


def test_a_push_is_recorded_and_a_refused_one_leaves_the_version_ready():
    version = parse_object(served_version("classifier-1-0-0"))
    target = "registry.example.com/team/classifier:1.0.0"

    def step(observed):
        return add_publishing(Decision(status={"phase": "Ready", "conditions": []}), version, target, observed,
                              lambda: {"kind": "Job", "metadata": {"name": "publish-x"}}, NOW)

    started = step(JobObservation("Missing"))
    assert started.create and started.status["conditions"][-1]["reason"] == "Publishing"
    assert started.status["conditions"][-1]["status"] == "Unknown"  # neither published nor refused yet
    done = step(JobObservation("Succeeded", result={"ok": True, "digest": "sha256:" + "e" * 64}))
    assert done.status["published"] == [{"reference": target, "digest": "sha256:" + "e" * 64, "publishedAt": "2026-12-06T12:00:00Z"}]
    assert done.status["conditions"][-1]["status"] == "True" and [e.reason for e in done.events] == ["Published"]
    assert already_published(parse_object({**served_version("classifier-1-0-0"),
                                           "status": {**served_version("classifier-1-0-0")["status"], **done.status}}), target)
    refused = step(JobObservation("Failed", result={"ok": False, "reason": "TagExists",
                                                    "message": f"{target} already points at sha256:ff"}))
    assert refused.status["phase"] == "Ready" and "published" not in refused.status
    condition = refused.status["conditions"][-1]
    assert condition["status"] == "False" and condition["reason"] == "TagExists" and "delete Job" in condition["message"]
