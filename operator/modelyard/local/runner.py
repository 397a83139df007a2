"""Run a worker Job on this machine: the same `python -m modelyard.worker` command and
environment as the Job's container, with the cluster-only parts translated.

`local_process` (pure) turns the Job manifest into a process description; `run_process` runs
it, streaming the worker's log lines to a callback, and returns what the pod would have
recorded (exit code, termination message) in the shape `core.jobstate` reads."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, NoReturn

from modelyard.exits import exit_now
from modelyard.local.state import now_iso
from modelyard.workloads.image_source import MOUNT as IMAGE_MOUNT
from modelyard.workloads.jobs import WORKER_CONTAINER


class LocalRunError(Exception):
    """A Job that cannot run on this machine; the message says why and what would help."""


@dataclass(frozen=True)
class LocalProcess:
    """One worker run: argv, environment overrides, where its result and log go."""

    job: str
    argv: list[str]
    env: dict[str, str]
    workdir: Path
    termination: Path
    log: Path
    image_copy: tuple[str, str] | None = None
    """(image, path) to copy out of an OCI image first (an image-source import)."""
    dropped: list[str] = field(default_factory=list)
    """Environment taken from Secrets on a cluster; here the caller's own environment supplies it."""


def local_process(job: dict[str, Any], home: Path, python: str = sys.executable) -> LocalProcess:
    """The local equivalent of a worker Job manifest."""
    name = job["metadata"]["name"]
    pod = job["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == WORKER_CONTAINER)
    command = [*container.get("command", []), *container.get("args", [])]
    if command[:3] != ["python", "-m", "modelyard.worker"]:
        raise LocalRunError(f"Job {name}: local mode runs only the Modelyard worker, not {shlex.join(command)}")
    run_dir = home / "jobs" / name
    env, dropped = container_env(container, home, run_dir)
    image_copy = None
    for init in pod.get("initContainers") or []:
        cp = init.get("command") or []
        if cp[:3] == ["cp", "-R", "--"] and cp[-1] == f"{IMAGE_MOUNT}/":
            image_copy = (init["image"], cp[3])
        else:
            raise LocalRunError(f"Job {name}: init container {init['name']} cannot run locally")
    return LocalProcess(
        job=name, argv=[python, *command[1:]], env=env, workdir=home / "work", termination=run_dir / "termination-log",
        log=run_dir / "worker.log", image_copy=image_copy, dropped=dropped,
    )


def container_env(container: dict[str, Any], home: Path, run_dir: Path) -> tuple[dict[str, str], list[str]]:
    """A container's environment as a local process gets it, and the names taken from Secrets
    on a cluster (here the caller's own environment supplies them)."""
    env: dict[str, str] = {}
    dropped = []
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            dropped.append(item["name"])
    env.update(
        MODELYARD_WORKDIR=str(home / "work"),
        MODELYARD_TERMINATION_LOG=str(run_dir / "termination-log"),
        MODELYARD_IMAGE_ROOT=str(run_dir / "image"),
    )
    # The chart mounts its template ConfigMap on a cluster; here MODELYARD_TEMPLATE_DIR of the
    # caller's own environment (or the built-in catalog) applies.
    env.pop("MODELYARD_TEMPLATE_DIR", None)
    # An OCI source's pull secret is a Secret volume on a cluster; here the caller's own registry
    # credentials apply: their docker config (the Job's HOME is its work folder, not theirs).
    env.pop("MODELYARD_REGISTRY_AUTH", None)
    env["DOCKER_CONFIG"] = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return env, dropped


def docker_copy_commands(image: str, path: str, dest: Path, container: str) -> list[list[str]]:
    """What copies `path` out of `image` with a Docker engine (create, cp, rm; nothing runs)."""
    return [
        ["docker", "create", "--name", container, image, "true"],
        ["docker", "cp", f"{container}:{path}", f"{dest}/"],
        ["docker", "rm", "-f", container],
    ]


def _copy_from_image(process: LocalProcess) -> None:
    image, path = process.image_copy  # type: ignore[misc]
    dest = process.termination.parent / "image"
    dest.mkdir(parents=True, exist_ok=True)
    if shutil.which("docker") is None:
        raise LocalRunError(
            f"source.image needs a container engine to copy {path} out of {image}; none is installed here "
            "(install Docker, or import the file with source.uri instead)"
        )
    create, copy, remove = docker_copy_commands(image, path, dest, f"modelyard-{process.job}")
    try:
        for step in (create, copy):
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                raise LocalRunError(f"{shlex.join(step)} failed: {done.stderr.strip()[-500:]}")
    finally:
        subprocess.run(remove, capture_output=True)


def run_process(process: LocalProcess, on_line: Callable[[str], None],
                on_start: Callable[[int], None] = lambda pid: None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the worker (`on_start` is told its pid); returns (Job status, pod) as the cluster
    would record them."""
    started = now_iso()
    process.termination.parent.mkdir(parents=True, exist_ok=True)
    process.workdir.mkdir(parents=True, exist_ok=True)
    process.termination.unlink(missing_ok=True)
    try:
        if process.image_copy:
            _copy_from_image(process)
    except LocalRunError as error:
        return finished(started, 1, str(error), "Error")
    env = {**os.environ, **process.env}
    with process.log.open("w", buffering=1) as log, tempfile.TemporaryFile() as stdout:  # lines show as they come
        if forkable(process):
            pid, lines, wait = _fork_worker(process, env, stdout.fileno())
        else:
            worker = subprocess.Popen(process.argv, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True,
                                      cwd=process.workdir)
            assert worker.stderr is not None
            pid, lines, wait = worker.pid, worker.stderr, worker.wait
        on_start(pid)
        for line in lines:
            log.write(line)
            on_line(line.rstrip("\n"))
        code = wait()
    message = process.termination.read_text() if process.termination.is_file() else ""
    if not message and code != 0:
        # FallbackToLogsOnError: the log's tail stands in for a missing termination message.
        message = process.log.read_text()[-4096:]
    return finished(started, code, message, "Completed" if code == 0 else "Error")


def forkable(process: LocalProcess) -> bool:
    """Whether the worker can start as a fork of this process: on Linux, for this interpreter's
    own `-m modelyard.worker`, from a process with no other thread (local mode has none)."""
    return (sys.platform == "linux" and process.argv[:3] == [sys.executable, "-m", "modelyard.worker"]
            and threading.active_count() == 1)


def _fork_worker(process: LocalProcess, env: dict[str, str], stdout: int) -> tuple[int, Iterable[str], Callable[[], int]]:
    """Start the worker as a fork of this process: its own process, working folder, environment,
    stdout and stderr, with the same argv as the Job's container, but without a second
    interpreter start and the imports this process made already (0.3 s per job on two cores,
    which a short training job's user waits for). Returns its pid, stderr lines and wait."""
    read, write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is the worker's own
        _worker_child(process, env, write, stdout, read)
    os.close(write)

    def wait() -> int:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    return pid, os.fdopen(read, "r", errors="replace"), wait


def _worker_child(process: LocalProcess, env: dict[str, str], stderr: int, stdout: int, unused: int) -> NoReturn:
    code = 2
    try:
        os.close(unused)
        os.dup2(stderr, 2)
        os.dup2(stdout, 1)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # as Popen's close_fds: the caller's state lock above all
        # the caller's sys.stdout/sys.stderr may be wrappers of its own (a console, a test's
        # capture): the worker writes to its descriptors, as a process of its own would
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        import logging

        for handler in logging.root.handlers[:]:  # the worker configures logging as a fresh process
            logging.root.removeHandler(handler)
        os.chdir(process.workdir)
        os.environ.clear()
        os.environ.update(env)
        from modelyard.worker.__main__ import main

        code = main(process.argv[3:])
    except SystemExit as exit:  # argparse's errors, already printed
        code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child never returns into the caller's code
        traceback.print_exc()
    finally:
        exit_now(code)  # whatever happened, the child never returns into the caller's code


def finished(started: str, code: int, message: str, reason: str) -> tuple[dict[str, Any], dict[str, Any]]:
    ended = now_iso()
    kind = "Complete" if code == 0 else "Failed"
    status = {
        "startTime": started, "completionTime": ended if code == 0 else None,
        "conditions": [{"type": kind, "status": "True", "lastTransitionTime": ended,
                        **({} if code == 0 else {"reason": "BackoffLimitExceeded", "message": "the worker failed"})}],
        "succeeded" if code == 0 else "failed": 1,
    }
    pod = {
        "metadata": {"creationTimestamp": started},
        "status": {"containerStatuses": [{"name": WORKER_CONTAINER, "state": {"terminated": {
            "exitCode": code, "reason": reason, "message": message, "startedAt": started, "finishedAt": ended}}}]},
    }
    return {k: v for k, v in status.items() if v is not None}, pod
