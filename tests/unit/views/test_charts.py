"""The console's SVG charts and the lineage picture's links: valid SVG, escaped text, links."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from modelyard.views import lineage
from modelyard.views.charts import Point, heatmap_svg, metric_svg
from tests.support import builders as b

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script>"


def test_a_metric_across_versions_links_each_point_and_leaves_gaps():
    points = [Point("v1", 0.9, "/versions/ml/v1"), Point(HOSTILE, None), Point("v3", 0.95, "/versions/ml/v3")]
    svg = metric_svg("accuracy", points, "accuracy of every version")
    tree = ET.fromstring(svg)
    assert [a.get("href") for a in tree.iter(f"{SVG}a")] == ["/versions/ml/v1", "/versions/ml/v3"]
    assert len(list(tree.iter(f"{SVG}circle"))) == 2 and HOSTILE not in svg
    assert "no version has accuracy" in metric_svg("accuracy", [Point("v1", None)], "t")


def test_a_thousand_versions_keep_their_labels_readable():
    svg = metric_svg("f1", [Point(f"v{i}", i / 1000) for i in range(1000)], "f1")
    labels = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text") if t.text and t.text.startswith("v")]
    assert 20 <= len(labels) <= 30


def test_the_heatmap_writes_counts_and_escapes_class_names():
    svg = heatmap_svg([[5, 1], [0, 4]], ["cat", HOSTILE], "confusion")
    tree = ET.fromstring(svg)
    assert [t.text for t in tree.iter(f"{SVG}text") if t.text in ("5", "1", "4")] == ["5", "1", "4"]
    assert HOSTILE not in svg and len(list(tree.iter(f"{SVG}rect"))) == 5


def test_the_lineage_picture_links_its_boxes_when_asked():
    source = {**b.model_version(), "status": {"phase": "Ready"}}
    evaluation = {**b.evaluation_job("eval"), "status": {"phase": "Succeeded", "passed": True}}
    nodes = lineage.build("classifier", [source], [], [evaluation])
    plain = ET.fromstring(lineage.svg("classifier", nodes))
    assert not list(plain.iter(f"{SVG}a"))
    linked = ET.fromstring(lineage.svg("classifier", nodes, lambda kind, name: f"/{kind}/{name}?a=1&b=2"))
    assert [a.get("href") for a in linked.iter(f"{SVG}a")] == ["/ModelVersion/classifier-1-0-0?a=1&b=2", "/EvaluationJob/eval?a=1&b=2"]
