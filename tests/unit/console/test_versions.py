"""A version's page: files and digests, dynamic axes, lineage, verification as judged, benchmark,
evaluations; a version whose status is not written yet shows what is pending."""

from __future__ import annotations

import pytest

from modelyard.console.pages.versions import version_page
from modelyard.console.reading import NotFound
from tests.unit.console.world import NS, snapshot, world


def test_the_version_page_shows_verification_shapes_axes_and_how_each_output_was_judged():
    data = version_page(snapshot(world()), NS, "digits-int8").data
    check = data["verification"]
    assert check["passed"] is True and check["samples"] == 256 and check["inputs"] == "generated"
    assert [s["shown"] for s in check["shapes"]] == ["features [1, 64]", "features [16, 64]"]
    assert check["axes"] == [{"input": "features", "axis": 0, "sizes": [1, 16], "batch": True}]
    (output,) = check["outputs"]
    assert output["how"] == "class scores: top-1 agreement 0.984 (at least 0.95)"
    assert data["benchmark"]["speed"] == "3.14x faster"
    assert data["lineage"]["parent"]["href"] == f"/versions/{NS}/digits-1-0-0"
    assert data["lineage"]["conversion"]["href"] == f"/objects/ConversionJob/{NS}/digits-int8"
    assert [e["name"] for e in data["evaluations"]] == ["digits-int8-eval"]


def test_dynamic_axes_and_digests_of_the_source_version():
    data = version_page(snapshot(world()), NS, "digits-1-0-0").data
    (features,) = data["signature"]["inputs"]
    assert features["shown"] == "[?, 64]" and features["dynamicAxes"] == [0] and features["batchAxis"] == 0
    assert data["artifact"]["files"][0]["sha256"] == "c" * 64
    assert data["lineage"]["datasets"][0]["short"] == "ab" * 6
    assert data["verification"] is None  # trained, not converted
    assert [c["name"] for c in data["lineage"]["children"]] == ["digits-fp16", "digits-int8"]


def test_a_version_without_status_is_pending_everywhere():
    data = version_page(snapshot(world()), NS, "digits-fp16").data
    assert data["version"]["phase"] == "Pending"
    assert data["artifact"] is None and data["benchmark"] is None and data["evaluations"] == []
    assert data["signature"]["from"] == "declared"


def test_an_unknown_version_is_not_found_by_name():
    with pytest.raises(NotFound, match='ModelVersion "nope" not found in namespace ml'):
        version_page(snapshot(world()), NS, "nope")
