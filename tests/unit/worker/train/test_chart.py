"""The training report's SVG curves."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from modelyard.worker.train.chart import curves_svg

SVG = "{http://www.w3.org/2000/svg}"


def _parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def test_one_panel_per_metric_with_its_best_value():
    series = {"loss": [(1, 2.0), (2, 1.0), (3, 1.5)], "valAccuracy": [(1, 0.5), (2, 0.9), (3, 0.8)]}
    root = _parse(curves_svg(series, "TrainingJob digits", {"loss": (2, 1.0), "valAccuracy": (2, 0.9)}))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "loss: best 1 at step 2, last 1.5" in texts
    assert "valAccuracy: best 0.9 at step 2, last 0.8" in texts
    assert len(list(root.iter(f"{SVG}polyline"))) == 2
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) == 6 + 2, "every point, and a ring on each best one"
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("y") == str(34 + 2 * (150 + 40) - 40 + 14)] == ["1", "2", "3"]
    assert root.find(f"{SVG}title").text == "TrainingJob digits"


def test_a_non_finite_value_breaks_the_line_and_a_panel_without_values_says_so():
    series = {"loss": [(1, 1.0), (2, 0.5), (3, math.nan), (4, 0.4), (5, 0.3)], "gone": [(1, math.inf)]}
    root = _parse(curves_svg(series, "t", {"loss": (5, 0.3)}))
    lines = [p.get("points").split() for p in root.iter(f"{SVG}polyline")]
    assert [len(points) for points in lines] == [2, 2]
    assert "gone: no finite value" in [t.text for t in root.iter(f"{SVG}text")]


def test_names_are_escaped_and_no_metrics_is_said():
    root = _parse(curves_svg({"a<b&c": [(0, 1.0)]}, "job <x>", {"a<b&c": (0, 1.0)}))
    assert root.find(f"{SVG}title").text == "job <x>"
    assert any(t.text.startswith("a<b&c: best 1") for t in root.iter(f"{SVG}text"))
    empty = _parse(curves_svg({}, "t"))
    assert "no metrics were reported" in [t.text for t in empty.iter(f"{SVG}text")]


def test_many_points_are_drawn_as_a_line_only():
    root = _parse(curves_svg({"loss": [(s, 1 / s) for s in range(1, 200)]}, "t", {"loss": (199, 1 / 199)}))
    assert len(list(root.iter(f"{SVG}circle"))) == 1 and len(list(root.iter(f"{SVG}polyline"))) == 1
