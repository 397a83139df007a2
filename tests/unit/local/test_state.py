"""LocalCluster does for local mode what the API server does for the operator."""

from __future__ import annotations

from pathlib import Path

from modelyard.api.validation import parse_manifest
from modelyard.local.state import LocalCluster
from tests.support import builders as b


def test_apply_creates_then_is_unchanged_then_configured(tmp_path: Path):
    cluster = LocalCluster(tmp_path)
    model = b.model(displayName="first")
    assert cluster.apply(parse_manifest(model)) == "created"
    created = cluster.read("Model", "default", "classifier")
    assert created["metadata"]["uid"] and created["metadata"]["generation"] == 1
    assert cluster.apply(parse_manifest(model)) == "unchanged"
    cluster.patch_status("Model", "default", "classifier", {"phase": "Ready"}, {})
    assert cluster.apply(parse_manifest(b.model(displayName="second"))) == "configured"
    updated = cluster.read("Model", "default", "classifier")
    assert updated["metadata"]["generation"] == 2 and updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert updated["status"] == {"phase": "Ready"}, "applying a manifest keeps the status"


def test_finalizers_hold_deletion_and_owned_children_are_collected(tmp_path: Path):
    cluster = LocalCluster(tmp_path)
    cluster.apply(parse_manifest(b.model()))
    uid = cluster.read("Model", "default", "classifier")["metadata"]["uid"]
    cluster.add_finalizer("Model", "default", "classifier", "modelyard.dev/artifacts", {})
    job = {"apiVersion": "batch/v1", "kind": "Job", "spec": {},
           "metadata": {"name": "cleanup", "namespace": "default", "ownerReferences": [{"uid": uid}]}}
    cluster.create(job)
    cluster.delete("Model", "default", "classifier")
    held = cluster.read("Model", "default", "classifier")
    assert held["metadata"]["deletionTimestamp"], "a finalizer holds the object"
    assert cluster.pending_jobs()[0]["metadata"]["name"] == "cleanup"
    cluster.add_finalizer("Model", "default", "classifier", "other.example/hold", {})
    assert cluster.read("Model", "default", "classifier")["metadata"]["finalizers"] == ["modelyard.dev/artifacts"], \
        "no finalizer is added to an object being deleted"
    cluster.remove_finalizer("Model", "default", "classifier", "modelyard.dev/artifacts", {})
    assert cluster.read("Model", "default", "classifier") is None
    assert cluster.get_job("default", "cleanup") is None, "owned Jobs go with their owner"


def test_create_of_an_existing_child_is_a_no_op(tmp_path: Path):
    cluster = LocalCluster(tmp_path)
    job = {"apiVersion": "batch/v1", "kind": "Job", "spec": {}, "metadata": {"name": "j", "namespace": "default"}}
    cluster.create(job)
    cluster.finish_job("default", "j", {"succeeded": 1}, {"status": {}})
    cluster.create(job)
    assert cluster.get_job("default", "j")["status"] == {"succeeded": 1}
    assert cluster.pending_jobs() == []


def test_one_local_command_at_a_time_per_home(tmp_path: Path, capsys):
    import fcntl

    from modelyard.cli import main

    (tmp_path / "m.yaml").write_text("apiVersion: modelyard.dev/v1alpha1\nkind: Model\nmetadata: {name: m}\nspec: {task: other}\n")
    state = tmp_path / "home" / "state"
    state.mkdir(parents=True)
    with (state / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["local", "apply", "-f", str(tmp_path / "m.yaml"), "--home", str(tmp_path / "home")]) == 1
    assert "another modelyard local command is working" in capsys.readouterr().err
    assert LocalCluster(state).read("Model", "default", "m") is None


def _job(cluster: LocalCluster, name: str = "train-j") -> None:
    cluster.create({"apiVersion": "batch/v1", "kind": "Job", "spec": {}, "metadata": {"name": name, "namespace": "default"}})


def test_a_job_whose_worker_runs_is_not_pending_and_one_whose_worker_is_gone_runs_again(tmp_path: Path):
    import os
    import subprocess
    import sys

    cluster = LocalCluster(tmp_path)
    _job(cluster)
    cluster.start_job("default", "train-j", os.getpid())  # a live process
    assert cluster.pending_jobs() == [] and cluster.get_job("default", "train-j")["status"]["ready"] == 1
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    cluster.start_job("default", "train-j", int(gone.stdout))
    assert [j["metadata"]["name"] for j in cluster.pending_jobs()] == ["train-j"]


def test_suspending_a_running_job_stops_its_worker_and_resuming_makes_it_runnable(tmp_path: Path):
    import signal
    import subprocess
    import sys

    cluster = LocalCluster(tmp_path)
    _job(cluster)
    worker = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait()"])
    try:
        cluster.start_job("default", "train-j", worker.pid)
        cluster.patch_job("default", "train-j", {"spec": {"suspend": True}})
        assert worker.wait(timeout=30) == -signal.SIGTERM, "the worker was sent SIGTERM"
    finally:
        worker.kill()
    job = cluster.get_job("default", "train-j")
    assert job["status"]["conditions"][0]["type"] == "Suspended" and "active" not in job["status"]
    # the command that ran the worker records its end: the Job stays suspended, not failed
    cluster.finish_job("default", "train-j", {"failed": 1}, {"status": {}})
    assert cluster.get_job("default", "train-j")["status"]["conditions"][0]["status"] == "True"
    assert cluster.pending_jobs() == []
    cluster.patch_job("default", "train-j", {"spec": {"suspend": False}})
    assert [j["metadata"]["name"] for j in cluster.pending_jobs()] == ["train-j"]


def test_a_child_is_deleted_only_for_the_owner_whose_uid_it_carries(tmp_path: Path):
    cluster = LocalCluster(tmp_path)
    board = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {},
             "metadata": {"name": "tensorboard-x", "namespace": "default", "ownerReferences": [{"uid": "earlier"}]}}
    cluster.create(board)
    cluster.delete_child("Deployment", "default", "tensorboard-x", "re-applied")
    assert cluster.read("Deployment", "default", "tensorboard-x") is not None, "an earlier object's child is left"
    cluster.delete_child("Deployment", "default", "tensorboard-x", "earlier")
    assert cluster.read("Deployment", "default", "tensorboard-x") is None
