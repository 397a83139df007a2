"""EvaluationJob decisions."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from modelyard.api.validation import parse_object
from modelyard.config import Settings
from modelyard.core.evaluation import decide_evaluation
from modelyard.core.jobstate import JobObservation, observe_job
from modelyard.workloads.profiles import default_profiles
from tests.support import builders
from tests.support.builders import job_status, worker_pod

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
MISSING = JobObservation("Missing")
MODEL = parse_object(builders.model())
READY = parse_object({**builders.model_version(), "status": {"phase": "Ready"}})


def decide(obj, version=READY, baseline=None, observed=MISSING):
    return decide_evaluation(parse_object(obj), version, baseline, MODEL, observed, default_profiles(), Settings(store_uri="s3://m"), NOW)


def finished(result):
    obj = builders.evaluation_job()
    obj["status"] = {"phase": "Running", "jobName": "evaluate-classifier-eval"}
    return decide(obj, observed=observe_job(job_status(complete=True), [worker_pod(json.dumps(result))]))


def test_waits_for_version_and_baseline():
    assert decide(builders.evaluation_job(), version=None).status["phase"] == "Pending"
    decision = decide(builders.evaluation_job(baselineRef={"name": "classifier-0-9-0"}))
    assert decision.create == [] and "baseline ModelVersion 'classifier-0-9-0'" in decision.status["message"]


def test_creates_the_job():
    (job,) = decide(builders.evaluation_job()).create
    assert job["metadata"]["name"] == "evaluate-classifier-eval"


def test_passed_gates_are_recorded_and_shown_on_the_version():
    result = {"ok": True, "passed": True, "reason": "GatesPassed", "message": "2/2 gates passed",
              "metrics": {"accuracy": 0.97, "latencyP95Ms": 3.2, "confusionMatrix": [[1]]},
              "gates": [{"metric": "accuracy", "op": ">=", "value": 0.95, "actual": 0.97, "passed": True}],
              "reportUri": "s3://m/default/classifier/evaluations/classifier-eval/"}
    decision = finished(result)
    assert decision.status["phase"] == "Succeeded" and decision.status["passed"] is True
    assert decision.status["results"] == {"accuracy": 0.97, "latencyP95Ms": 3.2}
    (update,) = decision.updates
    assert update.name == "classifier-1-0-0"
    assert update.conditions[0]["type"] == "Evaluated" and update.conditions[0]["status"] == "True"
    parse_object({**builders.evaluation_job(), "status": decision.status})


def test_failed_gates_are_a_result_not_an_error():
    result = {"ok": True, "passed": False, "reason": "GatesFailed", "message": "accuracy 0.80 < 0.95",
              "metrics": {"accuracy": 0.8}, "gates": [{"metric": "accuracy", "op": ">=", "value": 0.95, "actual": 0.8, "passed": False}]}
    decision = finished(result)
    assert decision.status["phase"] == "Succeeded" and decision.status["passed"] is False
    assert decision.updates[0].conditions[0]["status"] == "False"
    assert decision.updates[0].conditions[0]["reason"] == "GatesFailed"
    assert decision.events[0].type == "Warning"


def test_a_deployment_is_evaluated_at_its_live_endpoint_on_the_variant_it_serves():
    from modelyard.api.validation import parse_object as parse
    from tests.support.builders import model_deployment, served_version

    body = builders.evaluation_job(name="live")
    del body["spec"]["modelVersionRef"]
    body["spec"]["deploymentRef"] = {"name": "classifier"}
    job = parse(body)
    serving = model_deployment()
    pending = decide_evaluation(job, None, None, MODEL, MISSING, default_profiles(), Settings(store_uri="s3://models"), NOW,
                                parse(serving))
    assert pending.status["phase"] == "Pending" and pending.status["conditions"][0]["reason"] == "WaitingForDeployment"
    serving["status"] = {"phase": "Serving", "url": "http://serve-classifier.default.svc:8080/v2/models/classifier",
                         "serving": {"version": "classifier-1-0-0", "variant": "classifier-1-0-0"}}
    version = parse(served_version("classifier-1-0-0"))
    started = decide_evaluation(job, version, None, MODEL, MISSING, default_profiles(), Settings(store_uri="s3://models"),
                                NOW, parse(serving))
    (manifest,) = started.create
    env = {e["name"]: e.get("value") for e in manifest["spec"]["template"]["spec"]["containers"][0]["env"]}
    runs = json.loads(env["MODELYARD_OBJECT"])
    assert runs["spec"]["backend"] == {"type": "triton", "url": "http://serve-classifier.default.svc:8080",
                                       "modelName": "classifier", "protocol": "http"}
    assert runs["spec"]["modelVersionRef"] == {"name": "classifier-1-0-0"} and "deploymentRef" not in runs["spec"]
    parse(runs)  # what the worker parses is a valid EvaluationJob
    assert started.status["evaluatedVersion"] == "classifier-1-0-0"
    done = decide_evaluation(parse({**body, "status": started.status}), version, None, MODEL,
                             JobObservation("Succeeded", result={"ok": True, "passed": True, "metrics": {"accuracy": 0.97}}),
                             default_profiles(), Settings(store_uri="s3://models"), NOW, parse(serving))
    assert done.status["passed"] and not done.updates  # the verdict is the deployment's, not the version's
