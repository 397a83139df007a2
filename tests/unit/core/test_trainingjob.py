"""TrainingJob decisions: everything is checked before a Job exists; success registers a version."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from modelyard.api.validation import parse_object
from modelyard.config import Settings
from modelyard.core.jobstate import JobObservation, observe_job
from modelyard.core.trainingjob import Related, decide_training, next_version
from modelyard.workloads.profiles import default_profiles
from tests.support import builders
from tests.support.builders import job_status, worker_pod

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
MISSING = JobObservation("Missing")
MODEL = parse_object({**builders.model(), "metadata": {"name": "classifier", "uid": "model-uid"}})
ALGORITHM = parse_object(builders.algorithm())


def related(**changes):
    return Related(**{"algorithm": ALGORITHM, "model": MODEL, **changes})


def decide(body, observed=MISSING, **changes):
    return decide_training(parse_object(body), related(**changes), observed, default_profiles(),
                           Settings(store_uri="s3://models"), NOW)


def started(body, **status):
    return {**body, "status": {"phase": "Running", "jobName": "train-digits-train", "outputVersion": "1.0.0",
                               "algorithm": {"kind": "ClusterAlgorithm", "name": "tabular-mlp", "digest": "sha256:x"},
                               "hyperparameters": {"epochs": 20}, "trainingVersion": 1,
                               "inputs": [{"name": "train", "uri": "s3://datasets/digits.npz", "format": "npz"}], **status}}


def test_creates_the_training_job_with_typed_values_recorded():
    decision = decide(builders.training_job())
    (job,) = decision.create
    assert job["metadata"]["name"] == "train-digits-train" and job["spec"]["suspend"] is False
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    plan = json.loads(env["MODELYARD_TRAINING_PLAN"])
    assert plan["hyperparameters"] == {"epochs": 20, "learningRate": 0.01, "optimizer": "adam", "shuffle": True,
                                       "labelColumn": "label"}
    assert plan["inputs"] == [{"name": "train", "uri": "s3://datasets/digits.npz", "format": "npz"}]
    assert plan["version"] == "1.0.0" and plan["versionName"] == "digits-train"
    status = decision.status
    assert status["phase"] == "Running" and status["outputVersion"] == "1.0.0"
    assert status["algorithm"]["digest"].startswith("sha256:") and status["primaryMetric"] == "valAccuracy"


def test_a_wrong_hyperparameter_fails_before_anything_runs():
    decision = decide(builders.training_job(hyperparameters={"epochs": "many", "optimizer": "rmsprop"}))
    assert decision.create == [] and decision.status["phase"] == "Failed"
    stalled = next(c for c in decision.status["conditions"] if c["type"] == "Stalled")
    assert stalled["reason"] == "InvalidHyperparameter"
    assert "spec.hyperparameters.epochs: Invalid value: 'many': expected an integer in [1, 1000]" in stalled["message"]
    assert "spec.hyperparameters.optimizer" in stalled["message"]
    assert decision.status["failure"]["reason"] == "InvalidHyperparameter"


def test_missing_template_algorithm_model_and_base_are_awaited():
    assert decide(builders.training_job(templateRef={"name": "t"})).status["conditions"][0]["reason"] == "TemplateNotFound"
    waiting = decide(builders.training_job(), algorithm=None)
    assert waiting.status["phase"] == "Pending" and "spec.algorithmRef: ClusterAlgorithm 'tabular-mlp'" in waiting.status["message"]
    assert decide(builders.training_job(), model=None).status["message"].startswith("spec.output.modelRef: Model 'classifier'")
    based = builders.training_job(basedOn={"name": "first"})
    assert "spec.basedOn: TrainingJob 'first'" in decide(based).status["message"]
    first = parse_object({**builders.training_job("first"), "status": {"phase": "Running"}})
    assert decide(based, base=first).status["conditions"][0]["reason"] == "WaitingForBaseJob"


def test_a_job_based_on_another_is_the_next_training_version():
    first = parse_object({**builders.training_job("first"), "status": {
        "phase": "Succeeded", "trainingVersion": 2, "outputModel": "classifier", "outputVersion": "1.1.0"}})
    decision = decide(builders.training_job(basedOn={"name": "first"}), base=first)
    assert decision.status["trainingVersion"] == 3 and decision.create
    env = {e["name"]: e.get("value") for e in decision.create[0]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert json.loads(env["MODELYARD_TRAINING_PLAN"])["basedOn"] == {"job": "first", "model": "classifier", "version": "1.1.0"}


def test_inputs_are_checked_against_the_algorithm():
    decision = decide(builders.training_job(inputs=[{"name": "train", "uri": "s3://d/x.parquet", "format": "jsonl"},
                                                    {"name": "extra", "uri": "s3://d/y.csv"}]))
    message = decision.status["failure"]["message"]
    assert "spec.inputs[name=extra]: unknown input" in message and 'spec.inputs[name=train].format: Unsupported value: "jsonl"' in message
    missing = decide(builders.training_job(inputs=[]))
    assert "spec.inputs: Required value: input 'train' (csv or npz)" in missing.status["message"]


def test_unsupported_hardware_and_a_taken_version_fail():
    assert decide(builders.training_job(hardware="ascend")).status["failure"]["reason"] == "UnsupportedHardware"
    taken = decide(builders.training_job(output={"modelRef": {"name": "classifier"}, "version": "1.0.0"}), versions=("1.0.0",))
    assert taken.status["failure"]["reason"] == "VersionExists"


def test_the_next_minor_version_when_unset():
    assert next_version(()) == "1.0.0"
    assert next_version(("1.0.0", "1.2.0", "0.9.0", "1.2.0+onnx.cpu")) == "1.3.0"
    assert decide(builders.training_job(), versions=("1.0.0",)).status["outputVersion"] == "1.1.0"


def test_suspend_before_start_creates_nothing_and_suspend_later_patches_the_job():
    early = decide(builders.training_job(suspend=True))
    assert early.create == [] and early.status["phase"] == "Suspended"
    running = started(builders.training_job(suspend=True))
    observed = observe_job(job_status(active=1), [worker_pod()])
    decision = decide(running, observed, job_suspended=False)
    assert [(p.name, p.body) for p in decision.patches] == [("train-digits-train", {"spec": {"suspend": True}})]
    assert decision.status["phase"] == "Suspended" and "from the last checkpoint" not in decision.status["message"]
    resumed = decide(started(builders.training_job()), observed, job_suspended=True)
    assert resumed.patches[0].body == {"spec": {"suspend": False}} and resumed.status["phase"] == "Running"


def test_an_oom_killed_worker_says_so_in_status():
    pod = worker_pod("Killed", exit_code=137)
    pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] = "OOMKilled"
    decision = decide(started(builders.training_job()), observe_job(job_status(failed="BackoffLimitExceeded"), [pod]))
    failure = decision.status["failure"]
    assert failure["reason"] == "OOMKilled" and failure["exitCode"] == 137 and "out of memory" in failure["message"]


def test_a_worker_failure_keeps_its_reason():
    result = {"ok": False, "reason": "DigestMismatch", "message": "spec.inputs[name=train]: ... has sha256 1, but the job expects 2"}
    decision = decide(started(builders.training_job()), observe_job(job_status(failed="PodFailurePolicy"), [worker_pod(json.dumps(result), 1)]))
    assert decision.status["phase"] == "Failed" and decision.status["failure"]["reason"] == "DigestMismatch"
    assert decision.create == []


def test_success_registers_a_ready_version_with_lineage():
    result = {"ok": True, "reason": "Trained", "message": "trained", "format": "safetensors",
              "artifact": {"uri": "s3://models/default/classifier/1.0.0/", "digest": "sha256:abc", "sizeBytes": 10, "files": []},
              "signature": {"inputs": [{"name": "features", "shape": [-1, 64]}], "outputs": [{"name": "logits", "shape": [-1, 10]}]},
              "metrics": {"valAccuracy": {"latest": 0.97, "best": 0.98, "bestStep": 9, "final": 0.97}},
              "inputs": [{"name": "train", "uri": "s3://datasets/digits.npz", "sha256": "f" * 64, "format": "npz"}],
              "curvesUri": "s3://models/default/classifier/trainings/digits-train/metrics.jsonl",
              "reportUri": "s3://models/default/classifier/trainings/digits-train/"}
    own = builders.training_job(templateRef={"name": "digits-template"})
    for key in ("algorithmRef", "inputs", "hyperparameters"):
        del own["spec"][key]
    body = started(own, primaryMetric="valAccuracy")
    template = parse_object(builders.training_template())
    decision = decide(body, observe_job(job_status(complete=True), [worker_pod(json.dumps(result))]), template=template)
    assert decision.status["phase"] == "Succeeded" and decision.status["modelVersion"] == "digits-train"
    assert decision.status["message"] == "registered ModelVersion digits-train (1.0.0), valAccuracy 0.97"
    (version,) = decision.create
    parsed = parse_object(version)
    lineage = parsed.spec.lineage
    assert parsed.spec.source.uri == "s3://models/default/classifier/1.0.0/" and parsed.spec.version == "1.0.0"
    assert lineage.training_job == "digits-train" and lineage.algorithm == "ClusterAlgorithm/tabular-mlp"
    assert lineage.datasets[0].sha256 == "f" * 64 and lineage.metrics == {"valAccuracy": 0.97}
    assert lineage.training_template == "digits-template" and lineage.hyperparameters["epochs"] == "20"
    assert version["metadata"]["ownerReferences"][0]["uid"] == "model-uid"
    (update,) = decision.updates
    assert update.status["phase"] == "Ready" and update.status["artifact"]["digest"] == "sha256:abc"
    parse_object({**body, "status": decision.status})


def test_progress_is_read_from_the_latest_progress_line_of_the_log():
    from modelyard.core.trainingjob import progress_from_log

    log = ("2026-12-03 08:00:00,000 INFO MODELYARD_PROGRESS {\"step\": 2, \"total\": 8, \"percent\": 25.0}\n"
           "2026-12-03 08:00:01,000 INFO MODELYARD_PROGRESS {\"step\": 3, \"total\": 8, \"percent\": 37.5, "
           "\"etaSeconds\": 5.0, \"metrics\": {\"loss\": 0.5}}\nsome other line\n")
    assert progress_from_log(log) == {"step": 3, "total": 8, "percent": 37.5, "etaSeconds": 5.0}
    assert progress_from_log("no progress yet") is None
    running = started(builders.training_job())
    observed = JobObservation("Running", reason="Running", message="the worker is running", progress={"step": 3, "total": 8})
    assert decide(running, observed).status["progress"] == {"message": "the worker is running", "step": 3, "total": 8}


def test_a_suspended_job_keeps_where_it_stopped_and_suspend_and_resume_are_events():
    observed = observe_job(job_status(active=1), [worker_pod()])
    progress = {"message": "training", "step": 3, "total": 6, "percent": 50.0, "etaSeconds": 9.0}
    suspended = decide(started(builders.training_job(suspend=True), progress=progress), observed, job_suspended=False)
    assert suspended.status["progress"] == {"step": 3, "total": 6, "percent": 50.0, "message": "suspended at step 3"}
    assert [(e.type, e.reason) for e in suspended.events] == [("Normal", "Suspended")]
    resumed = decide(started(builders.training_job(), phase="Suspended", progress=suspended.status["progress"]),
                     observed, job_suspended=True)
    assert resumed.status["phase"] == "Running"
    assert [e.reason for e in resumed.events] == ["Resumed"]
