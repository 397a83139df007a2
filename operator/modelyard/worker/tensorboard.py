"""`python -m modelyard.worker.tensorboard`: TensorBoard over a TrainingJob's event files in the
store, as the operator's TensorBoard Deployment runs it.

TensorBoard cannot read an S3 store with credentials (its S3 support went with TensorFlow's
filesystem plugins), so the files are copied into a local folder and copied again every
`MODELYARD_TENSORBOARD_SYNC_SECONDS` while the job writes more; TensorBoard reloads from that
folder. The store and its credentials come from the worker's usual environment
(`MODELYARD_STORE_URI`, `MODELYARD_S3_*`, the Secret's keys) and never appear in arguments."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from modelyard.storage.base import Store

log = logging.getLogger("modelyard.worker.tensorboard")
PORT = 6006


def sync(store: Store, prefix: str, target: Path, seen: dict[str, int]) -> int:
    """Copy keys under `prefix` that are new or have grown (event files are appended to) into
    `target`; the number copied. Each file is replaced whole, never seen half-written."""
    copied = 0
    base = prefix.rstrip("/") + "/"
    for key in store.list(base):
        data = store.get_bytes(key)
        if seen.get(key) == len(data):
            continue
        path = target / key[len(base):]
        if ".." in Path(key[len(base):]).parts:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.part")
        temp.write_bytes(data)
        temp.replace(path)
        seen[key] = len(data)
        copied += 1
    return copied


def command(logdir: Path, port: int = PORT) -> list[str]:
    return [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "0.0.0.0",
            "--port", str(port), "--reload_interval", "15"]


def main() -> int:
    from modelyard.storage import open_store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    prefix = os.environ["MODELYARD_TENSORBOARD_PREFIX"]
    interval = float(os.environ.get("MODELYARD_TENSORBOARD_SYNC_SECONDS", "30"))
    logdir = Path(os.environ.get("MODELYARD_WORKDIR", "/work")) / "tensorboard"
    logdir.mkdir(parents=True, exist_ok=True)
    store = open_store(os.environ["MODELYARD_STORE_URI"])
    seen: dict[str, int] = {}
    log.info("copied %d file(s) from %s", sync(store, prefix, logdir, seen), store.describe(prefix))
    server = subprocess.Popen(command(logdir))
    stopped = threading.Event()
    while server.poll() is None:
        if stopped.wait(interval):
            break
        try:
            copied = sync(store, prefix, logdir, seen)
        except Exception as error:  # noqa: BLE001 - a store hiccup must not stop the server
            log.warning("could not copy new event files: %s", error)
            continue
        if copied:
            log.info("copied %d new or grown file(s)", copied)
    return server.wait()


if __name__ == "__main__":
    sys.exit(main())
