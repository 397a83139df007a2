"""The lineage tree, its Mermaid text and its picture."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from modelyard.views import lineage
from tests.support import builders as b


def _graph():
    source = {**b.model_version(), "status": {"phase": "Ready", "artifact": {"digest": "sha256:" + "a" * 64, "sizeBytes": 2048}}}
    child = {**b.model_version("classifier-int8", version="1.0.0+onnx-int8.arm",
                               lineage={"parentVersion": "classifier-1-0-0", "conversionJob": "to-int8"}),
             "status": {"phase": "Ready", "artifact": {"digest": "sha256:" + "b" * 64}}}
    other_model = b.model_version("other", modelRef={"name": "other"})
    conversion = {**b.conversion_job("to-int8", target={"format": "onnx-int8", "hardware": "arm"}),
                  "status": {"outputVersion": "classifier-int8", "benchmark": {"speedupBatch1": 1.8},
                             "verification": {"maxAbsDiff": 0.02}}}
    passed = {**b.evaluation_job("eval-int8", modelVersionRef={"name": "classifier-int8"}, hardware="arm"),
              "status": {"phase": "Succeeded", "passed": False, "results": {"accuracy": 0.91, "latencyP95Ms": 1.5}}}
    return lineage.build("classifier", [source, child, other_model], [conversion], [passed])


def test_the_tree_links_parent_conversion_and_evaluation():
    nodes = _graph()
    assert set(nodes) == {"classifier-1-0-0", "classifier-int8"}
    assert nodes["classifier-1-0-0"].children == ["classifier-int8"]
    tree = lineage.text_tree("classifier", nodes)
    assert tree.splitlines() == [
        "Model classifier",
        "└── classifier-1-0-0 (1.0.0, onnx) Ready  aaaaaaaaaaaa",
        "    └── classifier-int8 (1.0.0+onnx-int8.arm, onnx for arm) Ready  bbbbbbbbbbbb  via to-int8, max abs diff 0.02, 1.80x faster",
        "        └── evaluation eval-int8 on arm: FAILED (accuracy 0.9100, p95 1.5 ms)",
    ]


def test_mermaid_and_svg_show_every_node():
    nodes = _graph()
    text = lineage.mermaid("classifier", nodes)
    assert text.startswith("flowchart LR") and "n_classifier_1_0_0 -->|to-int8| n_classifier_int8" in text
    assert "n_classifier_int8 -.-> n_eval_int8" in text
    svg = ET.fromstring(lineage.svg("classifier", nodes))
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert {"classifier-1-0-0", "classifier-int8", "eval-int8", "to-int8"} <= set(texts)
    assert "failed on arm" in texts


def test_summary_has_a_row_per_evaluation():
    table = lineage.summary_rows(_graph())
    assert table[0][:3] == ["VERSION", "SEMVER", "FORMAT"]
    assert table[1][:6] == ["classifier-1-0-0", "1.0.0", "onnx", "", "Ready", "2.0 KiB"]
    assert table[2][-4:] == ["eval-int8", "0.9100", "1.5", "FAILED"]


def test_a_slow_down_reads_as_one():
    nodes = _graph()
    nodes["classifier-int8"].speedup = 0.72
    assert "via to-int8, max abs diff 0.02, 1.39x slower" in lineage.text_tree("classifier", nodes)
    assert lineage.summary_rows(nodes)[2][6] == "1.39x slower"
