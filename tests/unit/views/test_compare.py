"""Versions side by side: which way each metric improves, deltas, and what differs."""

from __future__ import annotations

import pytest

from modelyard.views.compare import Fact, better_of, delta, rows


@pytest.mark.parametrize(("name", "better"), [
    ("accuracy", "higher"), ("f1", "higher"), ("throughput", "higher"), ("speedupBatch1", "higher"),
    ("latencyP95Ms", "lower"), ("sizeBytes", "lower"), ("maxAbsDiff", "lower"), ("valLoss", "lower"), ("samples", None),
])
def test_which_way_a_metric_improves(name, better):
    assert better_of(name) == better


def test_delta_is_relative_to_the_base_and_judged_by_direction():
    assert delta(0.96, 0.95, "higher") == pytest.approx({"delta": -0.01, "percent": -1.0416666, "verdict": "worse"})
    assert delta(40.0, 10.0, "lower")["verdict"] == "better"
    assert delta(0, 5, "higher")["percent"] is None
    assert delta(3, 3, None)["verdict"] == "same" and delta(3, 4, None)["verdict"] == "changed"
    assert delta("onnx", "safetensors", None) is None and delta(True, False, None) is None


def test_rows_are_the_union_by_section_and_say_what_differs():
    first = [Fact("version", "format", "onnx"), Fact("evaluation", "accuracy", 0.9, "higher")]
    second = [Fact("conversion", "speedupBatch1", 3.0, "higher"), Fact("version", "format", "onnx"),
              Fact("evaluation", "accuracy", 0.95, "higher")]
    table = rows([first, second])
    assert [(r.section, r.name) for r in table] == [("version", "format"), ("conversion", "speedupBatch1"), ("evaluation", "accuracy")]
    assert [r.differs for r in table] == [False, True, True]
    assert table[1].values == [None, 3.0] and table[1].deltas == [None, None]
    assert table[2].deltas[1]["verdict"] == "better"
    assert rows([[Fact("version", "sizeBytes", 1)], [Fact("version", "sizeBytes", 1.0)]])[0].differs is False
