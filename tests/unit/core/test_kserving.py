"""A ModelDeployment on KServe: the InferenceService for the chosen variant, KServe's readiness,
live parity at its address, roll back to the previous predictor."""

from __future__ import annotations

from datetime import datetime, timezone

from modelyard.api.validation import parse_object
from modelyard.config import Settings
from modelyard.core.jobstate import JobObservation
from modelyard.core.kserving import KServeObserved, decide_kserve, kserve_parity_name_for
from modelyard.core.rollout import Related
from modelyard.workloads.profiles import default_profiles
from tests.support import builders
from tests.support.builders import served_version

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
MODEL = parse_object({**builders.model(), "metadata": {"name": "classifier", "uid": "model-uid"}})
A = served_version("classifier-1-0-0")
B = served_version("classifier-2-0-0", version="2.0.0")
SETTINGS = Settings(store_uri="s3://models")


def dep(status=None, **spec):
    body = builders.model_deployment(backend="kserve", **spec)
    if status:
        body["status"] = status
    return parse_object(body)


def decide(d, isvc=None, parity=None, installed=True):
    related = Related(model=MODEL, versions=[parse_object(v) for v in (A, B)], conversions=[])
    return decide_kserve(d, related, KServeObserved(installed=installed, service=isvc, parity=parity or {}),
                         default_profiles(), SETTINGS, NOW)


def stored(manifest, ready=True, generation=1):
    body = {**manifest, "metadata": {**manifest["metadata"], "uid": "isvc-uid", "generation": generation}}
    body["status"] = {"observedGeneration": generation, "address": {"url": "http://serve-classifier.default.svc.cluster.local"},
                      "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                      "reason": None if ready else "ModelLoadFailed", "message": "" if ready else "bad model"}]}
    return body


def passed(ok=True):
    return JobObservation("Succeeded", result={"ok": True, "passed": ok, "samples": 8, "outputs": [],
                                               "reason": "ParityPassed" if ok else "ParityFailed",
                                               "message": "" if ok else "output y differs by 0.3"})


def test_not_installed_is_said_and_stalls():
    refused = decide(dep(), installed=False)
    assert refused.status["phase"] == "Failed" and "not installed" in refused.status["message"]


def test_the_inference_service_is_made_checked_live_and_promoted():
    d = dep()
    first = decide(d)
    (isvc,) = first.create
    assert isvc["kind"] == "InferenceService" and isvc["metadata"]["annotations"]["modelyard.dev/variant"] == "classifier-1-0-0"
    assert isvc["metadata"]["ownerReferences"][0]["uid"] == d.metadata.uid
    assert first.status["phase"] == "Deploying" and first.status["backend"] == "kserve"
    d = dep(status=first.status)
    body = stored(isvc)
    verifying = decide(d, isvc=body)
    (job,) = verifying.create
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--endpoint") + 1] == "http://serve-classifier.default.svc.cluster.local"
    assert command[command.index("--model-name") + 1] == "classifier-1-0-0"  # Triton serves the model directory's name
    name = kserve_parity_name_for(d, "classifier-1-0-0", body)
    served = decide(dep(status=verifying.status), isvc=body, parity={name: passed()})
    assert served.status["phase"] == "Serving" and served.status["serving"]["variant"] == "classifier-1-0-0"
    assert served.status["url"] == "http://serve-classifier.default.svc.cluster.local"


def test_a_failed_parity_puts_the_previous_predictor_back():
    status = {"phase": "Serving", "backend": "kserve",
              "serving": {"version": "classifier-1-0-0", "variant": "classifier-1-0-0", "format": "onnx"}}
    d = dep(status=status, versionRef={"name": "classifier-2-0-0"})
    old = stored(decide(dep()).create[0])
    moving = decide(d, isvc=old)
    (patch,) = moving.patches
    assert patch.kind == "InferenceService" and patch.body["metadata"]["annotations"]["modelyard.dev/variant"] == "classifier-2-0-0"
    new = stored({**old, "metadata": {**old["metadata"], "annotations": patch.body["metadata"]["annotations"]},
                  "spec": patch.body["spec"]}, generation=2)
    name = kserve_parity_name_for(d, "classifier-2-0-0", new)
    back = decide(dep(status=moving.status, versionRef={"name": "classifier-2-0-0"}), isvc=new, parity={name: passed(False)})
    assert back.status["rejected"]["variant"] == "classifier-2-0-0" and back.status["serving"]["variant"] == "classifier-1-0-0"
    (restore,) = back.patches
    assert restore.body["metadata"]["annotations"]["modelyard.dev/variant"] == "classifier-1-0-0"
    assert {c["type"]: c["status"] for c in back.status["conditions"]}["Degraded"] == "True"


def test_a_predictor_kserve_reports_failed_is_rolled_back_and_nothing_serves():
    d = dep()
    isvc = decide(d).create[0]
    d = dep(status=decide(d).status)
    back = decide(d, isvc=stored(isvc, ready=False))
    assert back.status["phase"] == "Failed" and "bad model" in back.status["message"]
    assert [r.kind for r in back.deletes] == ["InferenceService"]
