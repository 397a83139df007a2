"""Evaluations (gates, baseline deltas, the report's confusion matrix), training jobs (curves,
progress, inputs) and the jobs page (in flight, failures with the condition messages)."""

from __future__ import annotations

from pathlib import Path

from modelyard.console.pages.evaluations import evaluation_page
from modelyard.console.pages.jobs import jobs_page, object_page
from modelyard.console.pages.training import training_page
from modelyard.console.reading import StoreFiles
from tests.unit.console.world import NS, snapshot, world, write_curves, write_report


def test_an_evaluation_shows_gates_baseline_deltas_and_the_confusion_matrix(tmp_path: Path):
    objects = world(report_uri=write_report(tmp_path / "report"))
    page = evaluation_page(snapshot(objects), StoreFiles(), NS, "digits-int8-eval")
    data = page.data
    assert [g["passed"] for g in data["gates"]] == [False, True]
    assert data["baseline"]["from"] == "measured in this job"
    accuracy = next(r for r in data["metrics"] if r["name"] == "accuracy")
    assert accuracy["baseline"] == 0.9689 and accuracy["delta"]["verdict"] == "worse"
    assert data["confusion"]["matrix"][1] == [0, 8, 2]
    assert data["worstClasses"][0]["name"] == "one"
    assert "<script>" not in page.pictures["confusion"] and "&lt;script&gt;" in page.pictures["confusion"]


def test_without_a_report_the_baseline_comes_from_its_own_evaluation_and_the_page_says_why(tmp_path: Path):
    objects = world(report_uri=(tmp_path / "missing").as_uri() + "/")
    data = evaluation_page(snapshot(objects), StoreFiles(), NS, "digits-int8-eval").data
    assert data["report"]["read"] is False and "does not exist" in data["report"]["error"]
    assert data["baseline"]["from"] == "EvaluationJob digits-1-0-0-eval"
    assert data["confusion"] is None


def test_a_running_training_job_has_progress_inputs_and_curves(tmp_path: Path):
    objects = world(curves_uri=write_curves(tmp_path / "metrics.jsonl"))
    page = training_page(snapshot(objects), StoreFiles(), NS, "digits-train")
    data = page.data
    assert data["training"]["running"] is True and data["progress"]["percent"] == 30.0
    assert data["inputs"][0]["sha256"] == "ab" * 32
    assert data["hyperparameters"] == {"epochs": 40, "learningRate": 0.01, "shuffle": True}
    assert data["curves"]["points"] == 5 and "valAccuracy" in page.pictures["curves"]
    # while it runs the file is read afresh each time: a new line shows on the next poll
    write_curves(tmp_path / "metrics.jsonl", steps=7)
    assert training_page(snapshot(objects), StoreFiles(), NS, "digits-train").data["curves"]["points"] == 7


def test_the_jobs_page_lists_work_in_flight_and_failures_with_their_messages():
    data = jobs_page(snapshot(world())).data
    flying = {(r["kind"], r["name"]) for r in data["inFlight"]}
    assert flying == {("TrainingJob", "digits-train"), ("ModelVersion", "digits-fp16"), ("ConversionJob", "digits-fp16")}
    failed = {r["name"]: r for r in data["failed"]}
    assert failed["digits-broken"]["why"] == ["InvalidHyperparameter: epochs must be at most 1000",
                                              "Stalled/InvalidHyperparameter: epochs must be at most 1000"]
    assert failed["digits-int8-eval"]["gatesFailed"] is True
    assert "Ready/GatesFailed: 1 of 2 gate(s) failed" in failed["digits-int8-eval"]["why"]
    converting = next(r for r in data["inFlight"] if r["kind"] == "ConversionJob")
    assert converting["progress"] == "verify" and converting["message"] == "converting on gpu"


def test_any_kind_has_a_generic_page():
    data = object_page(snapshot(world()), "ConversionJob", NS, "digits-int8").data
    assert data["object"]["phase"] == "Succeeded" and data["status"]["outputVersion"] == "digits-int8"
