"""The models list and a model's page: counts, latest Ready version, latest verdict, search,
paging, and a status not written yet read as pending."""

from __future__ import annotations

import copy

from modelyard.console.pages.models import LINEAGE_INLINE, lineage_page, model_page, models_page
from tests.unit.console.world import NS, snapshot, world


def test_models_list_counts_versions_and_shows_the_latest_ready_version_and_verdict():
    page = models_page(snapshot(world()))
    rows = {r["name"]: r for r in page.data["models"]}
    digits = rows["digits"]
    assert digits["versions"] == {"total": 3, "pending": 1, "importing": 0, "ready": 2, "failed": 0}
    assert digits["latestReady"] == {"name": "digits-1-0-0", "href": f"/versions/{NS}/digits-1-0-0"}
    # the newest evaluation decides the verdict shown: digits-int8-eval failed its gates
    assert digits["latestVerdict"]["evaluation"] == "digits-int8-eval"
    assert digits["latestVerdict"]["verdict"] == "failed"
    assert digits["lastActivity"] == "2026-11-22T10:31:00Z"
    assert digits["lastActivityAge"]


def test_a_model_with_no_status_reads_as_pending_with_no_versions():
    fresh = {r["name"]: r for r in models_page(snapshot(world())).data["models"]}["fresh"]
    assert fresh["phase"] == "Pending"
    assert fresh["latestReady"] is None and fresh["latestVerdict"] is None
    assert fresh["versions"]["total"] == 0


def test_search_matches_names_tasks_and_labels():
    objects = world()
    objects["Model"][1]["metadata"]["labels"] = {"team": "vision"}
    assert [r["name"] for r in models_page(snapshot(objects), q="team=vision").data["models"]] == ["fresh"]
    assert [r["name"] for r in models_page(snapshot(objects), q="DIGITS").data["models"]] == ["digits"]
    assert models_page(snapshot(objects), q="nothing-like-it").data["models"] == []
    assert [r["name"] for r in models_page(snapshot(objects), phase_filter="Pending").data["models"]] == ["fresh"]


def test_the_model_page_lists_a_release_source_first_then_its_variants_with_their_figures():
    page = model_page(snapshot(world()), NS, "digits")
    rows = {r["name"]: r for r in page.data["versions"]}
    assert [r["name"] for r in page.data["versions"]] == ["digits-1-0-0", "digits-fp16", "digits-int8"]
    int8 = rows["digits-int8"]
    assert (int8["format"], int8["hardware"], int8["size"], int8["speed"]) == ("onnx", "arm", "18.1 KiB", "3.14x faster")
    assert int8["metrics"] == {"accuracy": 0.95, "f1": 0.949, "latencyP95Ms": 0.1}
    assert int8["evaluation"]["verdict"] == "failed"
    assert rows["digits-fp16"]["phase"] == "Pending" and rows["digits-fp16"]["evaluation"] is None
    assert "lineage" in page.pictures and "/versions/ml/digits-int8" in page.pictures["lineage"]


def _many(count: int) -> dict:
    objects = world()
    template = objects["ModelVersion"][0]
    for index in range(count):
        body = copy.deepcopy(template)
        body["metadata"]["name"] = f"digits-v{index}"
        body["spec"]["version"] = f"2.{index}.0"
        objects["ModelVersion"].append(body)
    return objects


def test_thousands_of_versions_list_in_pages_and_the_lineage_moves_to_its_own_page():
    snap = snapshot(_many(250))
    first = model_page(snap, NS, "digits")
    assert first.data["paging"]["total"] == 253 and first.data["paging"]["pages"] == 3
    assert len(first.data["versions"]) == 100
    assert first.data["versions"][0]["version"] == "2.249.0"
    assert first.data["paging"]["next"] == f"/models/{NS}/digits?page=2" and first.data["paging"]["previous"] is None
    last = model_page(snap, NS, "digits", page="3")
    assert len(last.data["versions"]) == 53 and last.data["paging"]["previous"] == f"/models/{NS}/digits?page=2"
    assert model_page(snap, NS, "digits", page="99").data["paging"]["page"] == 3  # past the end: the last page
    assert 253 > LINEAGE_INLINE and "lineage" not in first.pictures and not first.data["lineage"]["drawnHere"]
    assert "digits-v249" in lineage_page(snap, NS, "digits").pictures["lineage"]


def test_local_objects_read_what_local_mode_stores_and_see_every_change(tmp_path):
    from modelyard.console.reading import LocalObjects
    from modelyard.local.state import LocalCluster

    cluster = LocalCluster(tmp_path / "state")
    for bodies in world().values():
        for body in bodies:
            cluster.write(copy.deepcopy(body))
    objects = LocalObjects(tmp_path)
    for kind in ("Model", "ModelVersion", "EvaluationJob"):
        assert list(objects.list(kind, None)) == list(cluster.bodies(kind)) == list(objects.list(kind, NS))
    version = cluster.read("ModelVersion", NS, "digits-fp16")
    version["status"] = {"phase": "Importing"}
    cluster.write(version)
    assert {v["metadata"]["name"]: v.get("status", {}).get("phase") for v in objects.list("ModelVersion", None)}["digits-fp16"] == "Importing"
    cluster.delete("ModelVersion", NS, "digits-fp16")
    assert "digits-fp16" not in [v["metadata"]["name"] for v in objects.list("ModelVersion", None)]


def test_the_model_page_lists_its_deployments_with_what_they_serve_and_live_parity():
    page = model_page(snapshot(world()), NS, "digits")
    (row,) = page.data["deployments"]
    assert row["name"] == "digits-arm" and row["phase"] == "Serving" and row["hardware"] == "arm"
    assert row["variant"] == "digits-int8" and row["variantHref"] == f"/versions/{NS}/digits-int8"
    assert row["format"] == "onnx-int8" and row["parity"] is True and row["rejected"] == "digits-fp16"
    assert row["url"] == "http://serve-digits-arm.ml.svc:8080/v2/models/digits"
    assert model_page(snapshot(world()), NS, "fresh").data["deployments"] == []
