"""The work queue: one wait per object however many events it has, its newest body, never
two threads on one object."""

from __future__ import annotations

import threading

from modelyard.handlers.workqueue import WorkQueue

A = ("ModelVersion", "ml", "a")
B = ("ModelVersion", "ml", "b")


def body(uid: str, generation: int) -> dict:
    return {"metadata": {"name": "a", "namespace": "ml", "uid": uid, "generation": generation}}


def test_events_of_an_object_waiting_become_one_work_with_its_newest_body():
    queue = WorkQueue(lambda key, work: None)
    queue.add(A, body("u1", 1), added=True)
    queue.add(B, named=True)
    queue.add(A, body("u1", 2))
    queue.add(A, named=True)
    assert queue.waiting() == 2
    key, work = queue.take()
    assert key == A and work.body["metadata"]["generation"] == 2 and work.added and work.named
    key, work = queue.take()
    assert key == B and work.body is None and work.named and not work.added
    assert queue.waiting() == 0


def test_an_object_being_reconciled_is_not_taken_again_until_done():
    queue = WorkQueue(lambda key, work: None)
    queue.add(A, body("u1", 1))
    key, _ = queue.take()
    queue.add(A, body("u1", 2))  # arrives while A is reconciled
    queue.add(B, named=True)
    assert queue.take()[0] == B, "A is busy: B goes first"
    queue.done(B)
    queue.done(A)
    key, work = queue.take()
    assert key == A and work.body["metadata"]["generation"] == 2


def test_a_deleted_objects_waiting_body_is_not_reconciled_but_its_successors_is():
    queue = WorkQueue(lambda key, work: None)
    queue.add(A, body("u1", 1), added=True)
    queue.forget(A, "u1")
    _, work = queue.take()
    assert work.body is None and not work.added
    queue.done(A)
    queue.add(A, body("u2", 1), added=True)  # re-applied under the same name
    queue.forget(A, "u1")
    _, work = queue.take()
    assert work.body["metadata"]["uid"] == "u2"


def test_threads_reconcile_every_key_and_one_that_fails_does_not_stop_them():
    done: list = []
    failed, finished = threading.Event(), threading.Event()

    def process(key, work):
        if key == A and not failed.is_set():
            failed.set()
            raise RuntimeError("the API server went away")
        done.append(key)
        if {A, B} <= set(done):
            finished.set()

    queue = WorkQueue(process, workers=2)
    queue.start()
    try:
        queue.add(A, named=True)
        queue.add(B, named=True)
        assert failed.wait(10)
        queue.add(A, named=True)  # as the retry does
        assert finished.wait(10), done
    finally:
        queue.stop()
    assert sorted(done) == [A, B]
