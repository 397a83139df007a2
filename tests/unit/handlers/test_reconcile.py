"""The reconcile layer over an in-memory API (local mode's LocalCluster has the same interface)."""

from __future__ import annotations

from pathlib import Path

from modelyard.api.validation import parse_manifest
from modelyard.config import Settings
from modelyard.handlers.apply import same_status
from modelyard.handlers.reconcile import Context, reconcile_model
from modelyard.local.state import LocalCluster
from modelyard.workloads.profiles import default_profiles
from tests.support import builders as b


def test_a_stale_body_does_not_write_the_same_status_and_events_twice(tmp_path: Path):
    cluster = LocalCluster(tmp_path)
    events: list[str] = []
    ctx = Context(kube=cluster, settings=Settings(store_uri="file:///store"), profiles=default_profiles(),  # type: ignore[arg-type]
                  post=lambda obj, event: events.append(event.reason))
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
