"""Conditions keep their transition time until their status flips."""

from datetime import datetime, timezone

from modelyard.core.conditions import get_condition, remove_condition, set_condition

T1 = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
T2 = datetime(2026, 11, 22, 11, 0, tzinfo=timezone.utc)


def test_transition_time_moves_only_on_flip():
    conditions = set_condition([], "Ready", False, "Importing", "m1", T1, 1)
    conditions = set_condition(conditions, "Ready", False, "Importing", "m2", T2, 1)
    assert get_condition(conditions, "Ready")["lastTransitionTime"] == "2026-11-22T10:00:00Z"
    assert get_condition(conditions, "Ready")["message"] == "m2"
    conditions = set_condition(conditions, "Ready", True, "Imported", "done", T2, 1)
    ready = get_condition(conditions, "Ready")
    assert ready == {"type": "Ready", "status": "True", "reason": "Imported", "message": "done",
                     "lastTransitionTime": "2026-11-22T11:00:00Z", "observedGeneration": 1}
    assert remove_condition(conditions, "Ready") == []
