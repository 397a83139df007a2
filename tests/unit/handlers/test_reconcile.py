"""The reconcile layer over an in-memory API (local mode's LocalCluster has the same interface)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

from modelyard.api.validation import parse_manifest
from modelyard.config import Settings
from modelyard.handlers.apply import same_status
from modelyard.core.decision import Decision
from modelyard.handlers.reconcile import Context, reconcile_model, reconcile_model_version, serialized
from modelyard.handlers.resync import resync_once
from modelyard.local.state import LocalCluster
from modelyard.workloads.profiles import default_profiles
from tests.support import builders as b

JOB = "import-classifier-1-0-0"


def context(kube, events: list[str] | None = None, watching: bool = False, store: str = "s3://models") -> Context:
    """A reconcile context over `kube`; `watching` as when the operator's Job watch fills the cache."""
    ctx = Context(kube=kube, settings=Settings(store_uri=store), profiles=default_profiles(),
                  post=lambda obj, event: events.append(event.reason) if events is not None else None)
    ctx.seen.watching_jobs = watching
    return ctx


def with_version(tmp_path: Path) -> LocalCluster:
    """A cluster holding the default Model and one of its versions."""
    cluster = LocalCluster(tmp_path)
    cluster.apply(parse_manifest(b.model()))
    cluster.apply(parse_manifest(b.model_version()))
    return cluster


def version(cluster: LocalCluster):
    return cluster.get("ModelVersion", "default", "classifier-1-0-0")


def phase(cluster: LocalCluster) -> str:
    return cluster.read("ModelVersion", "default", "classifier-1-0-0")["status"]["phase"]


def test_a_stale_body_does_not_write_the_same_status_and_events_twice(tmp_path: Path):
    cluster = LocalCluster(tmp_path)
    events: list[str] = []
    ctx = context(cluster, events, store="file:///store")
    cluster.apply(parse_manifest(b.model()))
    stale = cluster.get("Model", "default", "classifier")
    reconcile_model(ctx, stale)
    written = cluster.read("Model", "default", "classifier")
    reconcile_model(ctx, stale)  # the watch delivers the body from before our write
    assert cluster.read("Model", "default", "classifier")["metadata"]["resourceVersion"] == written["metadata"]["resourceVersion"]
    reconcile_model(ctx, cluster.get("Model", "default", "classifier"))
    assert cluster.read("Model", "default", "classifier") == written


def test_statuses_differing_only_in_transition_times_are_the_same():
    a = {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-24T08:00:00Z"}]}
    b_ = {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-24T09:00:00Z"}]}
    assert same_status(a, b_) and not same_status(a, {**b_, "phase": "Pending"})


class Counting:
    """A LocalCluster that counts the reads the reconcile layer makes."""

    def __init__(self, cluster: LocalCluster):
        self.cluster, self.calls = cluster, Counter()

    def __getattr__(self, name: str):
        attr = getattr(self.cluster, name)
        if name in ("get", "get_job", "job_pods", "list"):
            def counted(*args, **kwargs):
                self.calls[name] += 1
                return attr(*args, **kwargs)
            return counted
        return attr


IMPORTED = {"ok": True, "reason": "Imported", "message": "stored",
            "artifact": {"uri": "s3://models/default/classifier/1.0.0/", "digest": "sha256:" + "a" * 64, "sizeBytes": 1,
                         "files": [{"path": "model.onnx", "sizeBytes": 1, "sha256": "b" * 64}]}}


def test_jobs_come_from_the_watch_and_a_finished_job_s_pods_are_listed_once(tmp_path: Path):
    cluster = with_version(tmp_path)
    kube = Counting(cluster)
    ctx = context(kube, watching=True)
    ctx.seen.put("Model", "default", "classifier", cluster.get("Model", "default", "classifier"))
    stale = version(cluster)
    reconcile_model_version(ctx, stale)
    # Nothing read to create the Job (one that exists already would be a 409, adopted); the
    # created Job is then taken as seen.
    assert kube.calls == {}
    assert ctx.seen.get("Job", "default", JOB) is not None

    cluster.finish_job("default", JOB, b.job_status(complete=True)["status"],
                       b.worker_pod(json.dumps(IMPORTED)))
    ctx.seen.put_job("default", JOB, cluster.get_job("default", JOB))
    kube.calls.clear()
    for _ in range(3):  # the finished Job's event, then late events of the version's older bodies
        reconcile_model_version(ctx, stale)
    assert kube.calls == {"job_pods": 1}
    assert phase(cluster) == "Ready"


def test_reconciles_of_one_object_run_one_at_a_time(tmp_path: Path):
    ctx = context(LocalCluster(tmp_path))
    obj = parse_manifest(b.model_version())
    others_could_enter: list[bool] = []

    @serialized
    def probe(ctx: Context, obj) -> Decision:
        lock = ctx.locks[(obj.kind, obj.namespace, obj.name)]
        other = threading.Thread(target=lambda: others_could_enter.append(lock.acquire(blocking=False)))
        other.start()
        other.join()
        return Decision(status={})

    probe(ctx, obj)
    assert others_could_enter == [False]
    lock = ctx.locks[(obj.kind, obj.namespace, obj.name)]
    assert lock.acquire(blocking=False)  # released once done
    lock.release()


def test_a_started_job_not_seen_on_the_watch_is_asked_for_before_the_object_fails(tmp_path: Path):
    """After a restart the version's event can come before its Job's: not seen is not gone."""
    cluster = with_version(tmp_path)
    events: list[str] = []
    reconcile_model_version(context(cluster, events), version(cluster))
    restarted = context(cluster, events, watching=True)
    reconcile_model_version(restarted, version(cluster))
    assert phase(cluster) == "Importing"
    assert events == ["JobCreated"]

    cluster.delete("Job", "default", JOB)
    restarted.seen.drop("Job", "default", JOB)  # its DELETED event
    reconcile_model_version(restarted, version(cluster))
    assert phase(cluster) == "Failed"
    assert events == ["JobCreated", "JobDeleted"]


def test_a_body_older_than_our_last_write_does_not_create_a_deleted_job_again(tmp_path: Path):
    cluster = with_version(tmp_path)
    events: list[str] = []
    ctx = context(cluster, events, watching=True)
    stale = version(cluster)
    reconcile_model_version(ctx, stale)
    cluster.delete("Job", "default", JOB)  # by the user
    ctx.seen.drop("Job", "default", JOB)
    reconcile_model_version(ctx, stale)  # a late event from before the JobCreated write
    assert cluster.get_job("default", JOB) is None
    assert phase(cluster) == "Failed"
    assert events == ["JobCreated", "JobDeleted"]


def test_the_record_of_a_write_goes_once_a_body_shows_it(tmp_path: Path):
    cluster = with_version(tmp_path)
    ctx = context(cluster, watching=True)
    stale = version(cluster)
    reconcile_model_version(ctx, stale)
    key = ("ModelVersion", "default", "classifier-1-0-0", stale.metadata.uid)
    assert ctx.written[key]["phase"] == "Importing"
    reconcile_model_version(ctx, stale)  # older than the write: the record still guards it
    assert key in ctx.written
    reconcile_model_version(ctx, version(cluster))  # the watch delivers our write
    assert key not in ctx.written and phase(cluster) == "Importing"


def test_the_resync_finds_a_job_deleted_while_the_watch_was_down(tmp_path: Path):
    """No DELETED event reaches a watch that was down: the cached Job would run forever."""
    cluster = with_version(tmp_path)
    events: list[str] = []
    ctx = context(cluster, events, watching=True)
    reconcile_model_version(ctx, version(cluster))
    cluster.delete("Job", "default", JOB)
    reconcile_model_version(ctx, version(cluster))
    assert phase(cluster) == "Importing"
    resync_once(ctx, "default")
    assert phase(cluster) == "Failed"
    assert events == ["JobCreated", "JobDeleted"]


def test_the_resync_forgets_objects_deleted_while_the_watch_was_down(tmp_path: Path):
    cluster = with_version(tmp_path)
    ctx = context(cluster)
    for kind, name in (("Model", "classifier"), ("ModelVersion", "classifier-1-0-0")):
        ctx.seen.put(kind, "default", name, cluster.get(kind, "default", name))
    ctx.seen.put("ModelVersion", "default", "gone", version(cluster))
    ctx.seen.put("ConversionJob", "default", "gone", object())
    resync_once(ctx, "default")
    assert [v.name for v in ctx.seen.of_kind("ModelVersion", "default")] == ["classifier-1-0-0"]
    assert ctx.seen.of_kind("ConversionJob", "default") == []


async def test_the_resync_survives_an_api_server_that_is_away():
    import asyncio
    from types import SimpleNamespace

    from modelyard.handlers.resync import resync_forever

    calls = []

    def namespaces():
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionRefusedError("the API server is restarting")
        return []

    ctx = SimpleNamespace(settings=SimpleNamespace(resync_seconds=0.01), kube=SimpleNamespace(namespaces=namespaces))
    stop = asyncio.Event()
    task = asyncio.create_task(resync_forever(ctx, [], stop))
    for _ in range(500):
        if len(calls) >= 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    assert len(calls) >= 2, "the loop went on after the failed list"


def test_each_transition_posts_its_event_once_whatever_bodies_it_is_decided_on(tmp_path: Path):
    cluster = with_version(tmp_path)
    events: list[str] = []
    ctx = context(cluster, events, watching=True)
    stale = version(cluster)
    reconcile_model_version(ctx, stale)
    running = version(cluster)
    cluster.finish_job("default", JOB, b.job_status(complete=True)["status"], b.worker_pod(json.dumps(IMPORTED)))
    ctx.seen.put_job("default", JOB, cluster.get_job("default", JOB))
    for body in (running, stale, running, version(cluster), stale):  # late events, older than our writes
        reconcile_model_version(ctx, body)
    assert phase(cluster) == "Ready"
    assert events == ["JobCreated", "Ready"]


def test_a_body_held_while_the_watch_showed_our_write_announces_nothing_again(tmp_path: Path):
    """A reconcile that waited for the lock with a body read before our write (a settled source
    version telling its jobs) runs after the watch showed that write and cleared its record."""
    cluster = with_version(tmp_path)
    events: list[str] = []
    ctx = context(cluster, events, watching=True)
    reconcile_model_version(ctx, version(cluster))
    held = version(cluster)
    cluster.finish_job("default", JOB, b.job_status(complete=True)["status"], b.worker_pod(json.dumps(IMPORTED)))
    ctx.seen.put_job("default", JOB, cluster.get_job("default", JOB))
    reconcile_model_version(ctx, held)
    ready = version(cluster)
    ctx.seen.put("ModelVersion", "default", "classifier-1-0-0", ready)
    reconcile_model_version(ctx, ready)
    assert not ctx.written
    reconcile_model_version(ctx, held)
    assert events == ["JobCreated", "Ready"]
    assert phase(cluster) == "Ready"


def test_the_newest_body_is_decided_on_and_a_foreign_or_unordered_one_is_left_alone(tmp_path: Path):
    from modelyard.handlers.reconcile import newest

    cluster = with_version(tmp_path)
    old = version(cluster)
    cluster.patch_status("ModelVersion", "default", "classifier-1-0-0", {"phase": "Importing"}, {})
    new = version(cluster)
    assert newest(old, new) is new and newest(new, old) is new and newest(old, None) is old
    foreign = new.model_copy(update={"metadata": new.metadata.model_copy(update={"uid": "another"})})
    assert newest(old, foreign) is old
    opaque = new.model_copy(update={"metadata": new.metadata.model_copy(update={"resource_version": "abc"})})
    assert newest(old, opaque) is old


def test_a_re_applied_version_waits_for_its_predecessors_job_and_then_runs_its_own(tmp_path: Path):
    cluster = with_version(tmp_path)
    events: list[str] = []
    ctx = context(cluster, events, watching=True)
    reconcile_model_version(ctx, version(cluster))
    cluster.finish_job("default", JOB, b.job_status(complete=True)["status"], b.worker_pod(json.dumps(IMPORTED)))
    ctx.seen.put_job("default", JOB, cluster.get_job("default", JOB))
    reconcile_model_version(ctx, version(cluster))
    old_job = cluster.get_job("default", JOB)
    # The version is deleted and applied again before the garbage collector removed its Job.
    body = cluster.read("ModelVersion", "default", "classifier-1-0-0")
    cluster._path("ModelVersion", "default", "classifier-1-0-0").unlink()
    cluster.apply(parse_manifest(b.model_version()))
    again = version(cluster)
    assert again.metadata.uid != body["metadata"]["uid"]
    reconcile_model_version(ctx, again)
    status = cluster.read("ModelVersion", "default", "classifier-1-0-0")["status"]
    assert status["phase"] == "Pending" and "artifact" not in status, "never the old object's result"
    assert "earlier ModelVersion of the same name" in status["message"]
    assert cluster.get_job("default", JOB)["metadata"]["uid"] == old_job["metadata"]["uid"]
    cluster.delete("Job", "default", JOB)  # the garbage collector's turn
    ctx.seen.drop("Job", "default", JOB)
    reconcile_model_version(ctx, version(cluster))
    job = cluster.get_job("default", JOB)
    assert job["metadata"]["ownerReferences"][0]["uid"] == again.metadata.uid
    assert cluster.read("ModelVersion", "default", "classifier-1-0-0")["status"]["phase"] == "Importing"
