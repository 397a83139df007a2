"""The TensorBoard server's copy of a job's event files: new and grown files only, whole."""

from __future__ import annotations

import sys
from pathlib import Path

from modelyard.storage import open_store
from modelyard.worker.tensorboard import command, sync


def test_sync_copies_new_and_grown_files_and_nothing_outside_the_prefix(tmp_path: Path) -> None:
    store = open_store((tmp_path / "store").as_uri())
    prefix = "ml/classifier/trainings/digits-train/tensorboard"
    store.put_bytes(f"{prefix}/events.out.tfevents.1", b"abc")
    store.put_bytes("ml/classifier/trainings/other/tensorboard/events.out.tfevents.2", b"not ours")
    target, seen = tmp_path / "logs", {}
    assert sync(store, prefix, target, seen) == 1
    assert (target / "events.out.tfevents.1").read_bytes() == b"abc"
    assert sync(store, prefix, target, seen) == 0
    store.put_bytes(f"{prefix}/events.out.tfevents.1", b"abcdef")
    store.put_bytes(f"{prefix}/eval/events.out.tfevents.3", b"x")
    assert sync(store, prefix, target, seen) == 2
    assert (target / "events.out.tfevents.1").read_bytes() == b"abcdef" and (target / "eval" / "events.out.tfevents.3").exists()
    assert sorted(p.name for p in target.rglob("*") if p.is_file()) == ["events.out.tfevents.1", "events.out.tfevents.3"]


def test_the_server_listens_on_all_interfaces_with_no_credentials_in_its_arguments(tmp_path: Path) -> None:
    argv = command(tmp_path)
    assert argv[:3] == [sys.executable, "-m", "tensorboard.main"] and "--host" in argv and "0.0.0.0" in argv
    assert not any("AWS" in a or "secret" in a.lower() for a in argv)
