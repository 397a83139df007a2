"""The termination message stays within Kubernetes' 4 KiB."""

from __future__ import annotations

import json

from modelyard.worker.result import TERMINATION_LIMIT, compact, write_termination_message


def test_small_result_is_kept_whole():
    result = {"ok": True, "phase": "Ready", "artifact": {"digest": "sha256:ab", "files": []}}
    assert json.loads(compact(result)) == result


def test_large_result_drops_detail_but_keeps_the_verdict():
    files = [{"path": f"shard-{i}.bin", "sizeBytes": i, "sha256": "a" * 64} for i in range(200)]
    result = {"ok": True, "phase": "Ready", "reason": "Imported", "message": "m",
              "artifact": {"digest": "sha256:" + "b" * 64, "files": files}}
    text = compact(result)
    assert len(text.encode()) <= TERMINATION_LIMIT
    body = json.loads(text)
    assert body["truncated"] is True
    assert body["artifact"]["digest"] == "sha256:" + "b" * 64
    assert body["ok"] is True and body["phase"] == "Ready"


def test_huge_message_is_shortened():
    text = compact({"ok": False, "reason": "X", "message": "e" * 20000})
    assert len(text.encode()) <= TERMINATION_LIMIT
    assert json.loads(text)["reason"] == "X"


def test_missing_termination_path_is_harmless(tmp_path):
    write_termination_message(tmp_path / "no" / "such" / "dir", {"ok": True})
    write_termination_message(None, {"ok": True})
    target = tmp_path / "termination-log"
    write_termination_message(target, {"ok": True})
    assert json.loads(target.read_text()) == {"ok": True}


def test_non_finite_numbers_become_null():
    # "NaN"/"Infinity" are not JSON: the API server would reject the status patch.
    text = compact({"ok": False, "verification": {"maxAbsDiff": float("inf"), "outputs": [{"d": float("nan")}]}})
    assert json.loads(text)["verification"] == {"maxAbsDiff": None, "outputs": [{"d": None}]}
