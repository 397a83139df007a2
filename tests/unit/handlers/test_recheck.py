"""Reconciles asked for later."""

from __future__ import annotations

from modelyard.handlers.recheck import Rechecks


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_object_is_due_once_at_its_earliest_request():
    clock = Clock()
    rechecks = Rechecks(lambda *_: None, clock=clock)
    rechecks.after(15, "ModelVersion", "ml", "a")
    rechecks.after(3, "ModelVersion", "ml", "a")
    rechecks.after(20, "ModelVersion", "ml", "a")
    rechecks.after(5, "ConversionJob", "ml", "b")
    assert rechecks.due_now() == []
    clock.now = 103
    assert rechecks.due_now() == [("ModelVersion", "ml", "a")]
    clock.now = 200
    assert rechecks.due_now() == [("ConversionJob", "ml", "b")], "the superseded requests of a are dropped"
    assert rechecks.pending() == {}


def test_the_thread_runs_what_is_due_and_stops():
    import threading

    ran = threading.Event()
    rechecks = Rechecks(lambda kind, ns, name: ran.set())
    rechecks.start()
    rechecks.after(0, "ModelVersion", "ml", "a")
    assert ran.wait(10)
    rechecks.stop()
