"""The compare page: the right deltas against the first version, only what differs on request,
and a metric across every version of the model."""

from __future__ import annotations

import pytest

from modelyard.console.pages.compare import compare_page
from modelyard.console.reading import NotFound
from tests.unit.console.world import NS, snapshot, world


def _row(data: dict, section: str, name: str) -> dict:
    return next(r for r in data["rows"] if (r["section"], r["name"]) == (section, name))


def test_deltas_are_against_the_first_version_and_say_better_or_worse():
    data = compare_page(snapshot(world()), NS, "digits", ["digits-1-0-0", "digits-int8"]).data
    accuracy = _row(data, "evaluation", "accuracy")
    assert [c["value"] for c in accuracy["values"]] == [0.9689, 0.95]
    assert accuracy["differs"] is True
    change = accuracy["values"][1]
    assert change["delta"]["verdict"] == "worse" and change["deltaShown"] == "-0.0189 (-2.0%)"
    latency = _row(data, "evaluation", "latencyP95Ms")["values"][1]
    assert latency["delta"]["verdict"] == "better" and latency["deltaShown"] == "-44.1 (-99.8%)"
    size = _row(data, "version", "sizeBytes")["values"][1]
    assert size["delta"]["verdict"] == "better"
    assert _row(data, "signature", "inputs")["differs"] is False
    assert _row(data, "conversion", "speedupBatch1")["values"][0]["shown"] == ""  # the source was not converted


def test_only_differences_drops_the_rows_that_agree():
    full = compare_page(snapshot(world()), NS, "digits", ["digits-1-0-0", "digits-int8"]).data
    only = compare_page(snapshot(world()), NS, "digits", ["digits-1-0-0", "digits-int8"], only_differences=True).data
    assert len(only["rows"]) == full["differing"] < full["total"]
    assert all(r["differs"] for r in only["rows"])
    assert only["links"]["differences"].endswith("only=differences&metric=accuracy")


def test_without_a_choice_the_latest_ready_version_is_compared_with_its_variants():
    data = compare_page(snapshot(world()), NS, "digits", []).data
    assert [v["name"] for v in data["versions"]] == ["digits-1-0-0", "digits-fp16", "digits-int8"]


def test_the_metric_chart_has_every_version_oldest_first():
    page = compare_page(snapshot(world()), NS, "digits", ["digits-1-0-0", "digits-int8"], metric="accuracy")
    assert page.data["metric"]["values"] == [
        {"version": "digits-1-0-0", "value": 0.9689}, {"version": "digits-fp16", "value": None},
        {"version": "digits-int8", "value": 0.95}]
    assert "latencyP95Ms" in page.data["metric"]["available"]
    assert page.pictures["metric"].startswith("<svg") and "/versions/ml/digits-int8" in page.pictures["metric"]


def test_a_version_of_another_model_or_none_is_not_found():
    with pytest.raises(NotFound, match='"ghost" not found'):
        compare_page(snapshot(world()), NS, "digits", ["digits-1-0-0", "ghost"])
