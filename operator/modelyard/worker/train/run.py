"""`python -m modelyard.worker train`: check and fetch the inputs, run the algorithm's code,
follow its metrics, store curves, checkpoints and the report, and import the trained model as
the version the operator registers. Nothing is registered unless every step succeeded."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from modelyard.storage.base import Store
from modelyard.worker.errors import WorkerError
from modelyard.worker.source import redact
from modelyard.worker.train import sdk
from modelyard.worker.train.follow import Run, run_code
from modelyard.worker.train.inputs import fetch_input
from modelyard.storage.layout import download_version, training_prefix, version_prefix
from modelyard.worker.train.report import summarise, write_report

if TYPE_CHECKING:
    from modelyard.storage.config import S3Settings

log = logging.getLogger("modelyard.worker")

PROGRESS_PREFIX = sdk.PROGRESS_PREFIX
SYNC_SECONDS = 5.0
HIDDEN_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "MODELYARD_OBJECT",
              "MODELYARD_TRAINING_PLAN")
"""Not passed to the training code: the worker moves every byte to and from the store, so the
code never needs the store's credentials (and cannot print them)."""


class TrainingFailure(WorkerError):
    """Training did not produce a model; reason and message say why."""


@dataclass
class TrainJob:
    namespace: str
    name: str
    plan: dict[str, Any]
    store: Store
    workdir: Path
    hardware: str = "cpu"
    s3: S3Settings | None = None
    template_dir: Path | None = None
    on_line: Callable[[str], None] = lambda line: print(line, file=sys.stderr)
    started: float = field(default_factory=time.monotonic)


class _Sync:
    """Copies checkpoints and TensorBoard files to the store while the code runs (a suspended
    or evicted job resumes from them; TensorBoard shows a run in progress)."""

    def __init__(self, store: Store, prefix: str, folders: dict[str, Path]):
        self.store, self.prefix, self.folders = store, prefix, folders
        self.sent: dict[str, tuple[float, int]] = {}
        self.last = 0.0

    def __call__(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.last < SYNC_SECONDS:
            return
        self.last = time.monotonic()
        for name, folder in self.folders.items():
            for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
                if not path.is_file() or path.name.startswith("."):
                    continue
                stat = path.stat()
                key = f"{self.prefix}/{name}/{path.relative_to(folder).as_posix()}"
                if self.sent.get(key) != (stat.st_mtime, stat.st_size):
                    with path.open("rb") as stream:
                        self.store.put(key, stream)
                    self.sent[key] = (stat.st_mtime, stat.st_size)


def _restore(store: Store, prefix: str, folder: Path) -> Path | None:
    """The stored checkpoint of an earlier (suspended, evicted) run of this job, if any."""
    key = f"{prefix}/checkpoints/{sdk.CHECKPOINT}"
    if not store.exists(key):
        return None
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / sdk.CHECKPOINT
    target.write_bytes(store.get_bytes(key))
    return target


def _base_weights(job: TrainJob, base: dict[str, Any] | None, folder: Path) -> Path | None:
    """The weights file of the version a `basedOn` job registered (checked against its
    manifest), or None when the base stored none the code could start from."""
    if not base:
        return None
    _, digest = download_version(job.store, version_prefix(job.namespace, base["model"], base["version"]), folder)
    found = sorted(p for p in folder.rglob("*") if p.suffix == ".safetensors")
    if not found:
        log.info("basedOn %s: its version %s has no safetensors weights; training from scratch", base["job"], base["version"])
        return None
    log.info("warm start from %s %s (%s, %s)", base["model"], base["version"], found[0].name, digest)
    return found[0]


def _progress(record: dict[str, Any], started: float) -> dict[str, Any]:
    step, total = record.get("step"), record.get("total")
    body: dict[str, Any] = {"step": step}
    if isinstance(total, int) and total > 0:
        body.update(total=total, percent=round(100.0 * step / total, 1))
        elapsed = time.monotonic() - started
        if step:
            body["etaSeconds"] = round(elapsed / step * max(0, total - step), 1)
    return body


def _argv(command: list[str]) -> list[str]:
    # The same interpreter as the worker's: in an image that is `python`; in local mode the
    # virtual environment's.
    return [sys.executable, *command[1:]] if command and command[0] in ("python", "python3") else list(command)


def _failed(run: Run) -> TrainingFailure:
    if run.stopped == "Diverged":
        return TrainingFailure("Diverged", f"training diverged: {run.detail}; lower the learning rate or check the "
                               "data (nothing was registered)")
    if run.stopped == "DeadlineExceeded":
        return TrainingFailure("DeadlineExceeded", f"{run.detail}; it was stopped (nothing was registered)")
    lines = [line for line in run.log_tail if line.strip()]
    if run.exit_code == sdk.BAD_INPUT_EXIT:
        why = next((line for line in reversed(lines) if "bad input data" in line), lines[-1] if lines else "")
        return TrainingFailure("BadInputData", why.replace("modelyard: ", "", 1))
    tail = "\n".join(lines[-10:])
    return TrainingFailure("TrainingFailed", f"the training code exited with code {run.exit_code}:\n{tail}")


def _import(job: TrainJob, output: Path, algorithm_output: dict[str, Any], lineage: dict[str, Any]) -> dict[str, Any]:
    described = output / sdk.MODEL_JSON
    if not described.is_file():
        raise TrainingFailure("NoModel", f"the training code finished without writing {sdk.MODEL_JSON} to its outputDir")
    model = json.loads(described.read_text())
    fmt = model.get("format") or algorithm_output.get("format")
    if algorithm_output.get("format") and fmt != algorithm_output["format"]:
        raise TrainingFailure("OutputMismatch", f"the code wrote a {fmt} model; the algorithm declares {algorithm_output['format']}")
    template = model.get("template")
    if algorithm_output.get("template") and (template or {}).get("name") != algorithm_output["template"]:
        raise TrainingFailure("OutputMismatch", f"the code wrote a model for template {(template or {}).get('name')}; "
                              f"the algorithm declares {algorithm_output['template']}")
    file_uri = (output / model["file"]).resolve().as_uri()
    source: dict[str, Any] = {"uri": file_uri}
    if template:
        source = {"template": {"name": template["name"], "uri": file_uri, "parameters": template.get("parameters") or {}}}
    spec = {"modelRef": {"name": job.plan["model"]}, "version": job.plan["version"], "format": fmt, "source": source,
            "lineage": lineage}
    if algorithm_output.get("signature") and not template:
        spec["signature"] = algorithm_output["signature"]
    from modelyard.api.modelversion import ModelVersionSpec
    from modelyard.worker.importer import ImportJob, run_import

    imported = run_import(ImportJob(namespace=job.namespace, name=job.plan["versionName"],
                                    spec=ModelVersionSpec.model_validate(spec), store=job.store,
                                    workdir=job.workdir / "import", s3=job.s3, template_dir=job.template_dir))
    imported["format"] = fmt
    if template:
        # The registered version names its template: conversion and evaluation build the
        # architecture from it, as for any template import.
        imported["template"] = {"name": template["name"], "parameters": template.get("parameters") or {},
                                "file": model["file"]}
    return imported


@dataclass
class _Stop:
    code: list[Any] = field(default_factory=list)
    """The code's process, once started."""
    signalled: bool = False

    def started(self, process: Any) -> None:
        self.code.append(process)
        if self.signalled:  # the signal came before the code started
            process.terminate()


@contextlib.contextmanager
def _terminated_on_sigterm() -> Iterator[_Stop]:
    """SIGTERM (a suspended Job's pod deleted, or local mode's suspend) is passed on to the
    code, which ends; the worker then stores its checkpoints one last time before it ends too,
    instead of dying with up to SYNC_SECONDS of them unsent."""
    stop = _Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def terminate(signum: int, frame: Any) -> None:
        stop.signalled = True
        for process in stop.code:
            process.terminate()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


def _warm_up() -> None:
    """Import what registering the trained model needs (the API models, the importer and its
    inspection) while the code runs, on a core its start-up leaves idle, rather than after it
    ends: 0.3 s less per job on two cores. The worker's main thread imports nothing meanwhile,
    and joins this thread before it goes on."""
    try:
        import modelyard.api.modelversion  # noqa: F401
        import modelyard.worker.importer  # noqa: F401
    except Exception:  # noqa: BLE001 - the same import after training reports it
        pass


def run_train(job: TrainJob) -> dict[str, Any]:
    plan = job.plan
    prefix = training_prefix(job.namespace, plan["model"], job.name)
    work = job.workdir
    inputs, staged = [], {}
    for item in plan.get("inputs") or []:
        log.info("fetching input %s from %s", item["name"], redact(item["uri"]))
        path, digest = fetch_input(item, work, job.s3)
        staged[item["name"]] = {"path": str(path), "format": item.get("format") or ""}
        inputs.append({k: v for k, v in {**item, "sha256": digest}.items() if v})
    folders = {"output": work / "output", "checkpoints": work / "checkpoints", "tensorboard": work / "tensorboard"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    resume = _restore(job.store, prefix, folders["checkpoints"]) if plan.get("checkpoints") else None
    initial = _base_weights(job, plan.get("basedOn"), work / "base") if not resume else None
    config = {
        "hyperparameters": plan.get("hyperparameters") or {},
        "inputs": staged,
        "outputDir": str(folders["output"]),
        "checkpointDir": str(folders["checkpoints"]),
        "metricsFile": str(work / "metrics.jsonl"),
        "tensorboardDir": str(folders["tensorboard"]) if plan.get("tensorboard") else None,
        "resumeFrom": str(resume) if resume else None,
        "initialWeights": str(initial) if initial else None,
    }
    config_path = work / "train-config.json"
    config_path.write_text(json.dumps(config, indent=2))
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN_ENV}
    env[sdk.CONFIG_ENV] = str(config_path)
    sync = _Sync(job.store, prefix, {k: v for k, v in folders.items() if k != "output"})
    declared = {m["name"]: m.get("goal", "minimize") for m in plan.get("metrics") or []}
    started = time.monotonic()
    log.info("training with %s", " ".join(plan["command"]))

    def on_record(record: dict[str, Any]) -> None:
        values = {k: v for k, v in record.items() if k not in ("step", "total", "time")}
        log.info("%s%s", PROGRESS_PREFIX, json.dumps({**_progress(record, started), "metrics": values}, sort_keys=True))

    warm = threading.Thread(target=_warm_up, name="warm-up", daemon=True)
    warm.start()
    with _terminated_on_sigterm() as stop:
        run = run_code(_argv(plan["command"]), env, work, work / "metrics.jsonl",
                       [m for m in plan.get("metrics") or [] if m.get("source") == "log"],
                       plan.get("maxRuntimeSeconds"), job.on_line, on_record, sync, stop.started)
    warm.join()
    sync(force=True)
    if stop.signalled:
        raise TrainingFailure("Terminated", "the worker was stopped (its TrainingJob was suspended, or its pod "
                              "deleted) and stored the code's checkpoints: the job resumes from the last one")
    if run.stopped or run.exit_code != 0:
        raise _failed(run)
    metrics = summarise(run.records, declared, finished=True)
    algorithm = plan.get("algorithm") or {}
    lineage = {"trainingJob": job.name, "algorithm": f"{algorithm.get('kind')}/{algorithm.get('name')}",
               "datasets": [{k: i[k] for k in ("name", "uri", "sha256") if i.get(k)} for i in inputs]}
    log.info("storing the trained model as %s %s", plan["model"], plan["version"])
    imported = _import(job, folders["output"], plan.get("output") or {}, lineage)
    report = {"job": job.name, "algorithm": f"{algorithm.get('kind')}/{algorithm.get('name')}", "hardware": job.hardware,
              "model": plan["model"], "version": plan["version"], "hyperparameters": plan.get("hyperparameters") or {},
              "inputs": inputs, "metrics": metrics, "artifact": imported["artifact"]}
    uris = write_report(job.store, prefix, report, run.records)
    result = {
        "ok": True, "kind": "train", "phase": "Succeeded", "reason": "Trained",
        "message": f"trained in {time.monotonic() - started:.1f} s; stored {imported['artifact']['digest']}",
        "artifact": imported["artifact"], "signature": imported.get("signature"), "inspection": imported.get("inspection"),
        "format": imported["format"], "template": imported.get("template"), "metrics": metrics, "inputs": inputs, **uris,
        "durationSeconds": round(time.monotonic() - job.started, 3),
    }
    if plan.get("tensorboard"):
        result["tensorboardLogdir"] = job.store.describe(f"{prefix}/tensorboard") + "/"
    job.store.put_bytes(f"{prefix}/result.json", (json.dumps(result, indent=2, sort_keys=True) + "\n").encode())
    return result
