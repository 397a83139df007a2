"""The report folder: PNG plots that open, a self-contained HTML page, report.json, result.json."""

from __future__ import annotations

import base64
import json
import struct

import numpy as np

from modelyard.storage.fs import FileStore
from modelyard.worker.evaluate.diagnosis import diagnose
from modelyard.worker.evaluate.latency import LatencyTally
from modelyard.worker.evaluate.metrics import ClassificationTally
from modelyard.worker.evaluate.report import CONFUSION, LATENCY, PER_CLASS, draw, report_prefix, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (after checking the signature)."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _inputs() -> tuple[dict, LatencyTally, dict]:
    rng = np.random.default_rng(0)
    tally = ClassificationTally(4)
    labels = rng.integers(0, 4, 200)
    tally.add(np.eye(4)[labels] + rng.random((200, 4)), labels, 0)
    latency = LatencyTally()
    for seconds in rng.random(30) / 100:
        latency.add(float(seconds), 8)
    return diagnose(tally, ["a", "b", "c", "d"]), latency, {**tally.summary(), **latency.summary()}


def test_plots_are_real_pngs() -> None:
    diagnosis, latency, metrics = _inputs()
    images = draw(diagnosis, latency, metrics)
    assert set(images) == {CONFUSION, LATENCY, PER_CLASS}
    for data in images.values():
        width, height = png_size(data)
        assert width >= 300 and height >= 200


def test_regression_has_only_the_latency_plot() -> None:
    _, latency, metrics = _inputs()
    assert set(draw(None, latency, metrics)) == {LATENCY}


def test_report_folder(tmp_path) -> None:  # noqa: ANN001
    diagnosis, latency, metrics = _inputs()
    store = FileStore(tmp_path)
    prefix = report_prefix("team", "digits", "eval-1")
    result = {"ok": True, "passed": False, "message": "1 of 1 gate(s) failed: accuracy >= 0.99 (actual 0.5)",
              "metrics": metrics, "gates": [{"metric": "accuracy", "op": ">=", "value": 0.99, "actual": 0.5,
                                             "passed": False}]}
    report = {"evaluation": "team/eval-1", "version": "digits-1-0-0", "backend": "onnxruntime",
              "dataset": {"uri": "file:///d.npz", "samples": 200}, "result": result, "diagnosis": diagnosis,
              "baseline": None}
    images = draw(diagnosis, latency, metrics)
    write_report(store, prefix, report, images)
    assert sorted(store.list(prefix)) == [f"{prefix}/{n}" for n in sorted(
        [CONFUSION, LATENCY, PER_CLASS, "report.html", "report.json", "result.json"])]
    page = store.get_bytes(f"{prefix}/report.html").decode()
    assert "NOT PASSED" in page and "accuracy &gt;= 0.99" in page
    assert "http" not in page.replace("file:///d.npz", "")  # self-contained: no external assets
    embedded = page.split("data:image/png;base64,")[1:]
    assert len(embedded) == 3
    assert base64.b64decode(embedded[0].split("'")[0])[:8] == PNG_SIGNATURE
    assert json.loads(store.get_bytes(f"{prefix}/result.json")) == json.loads(json.dumps(result))
    assert json.loads(store.get_bytes(f"{prefix}/report.json"))["diagnosis"]["worstClasses"]
