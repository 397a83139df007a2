"""Local mode's control loop: the operator's reconcile functions (handlers/reconcile.py, which
call the decisions in core/) over a LocalCluster, with worker Jobs run as local processes.

Each round reconciles every object, then runs the Jobs the decisions created and starts the
servers of the Deployments they created (servers.py); the loop ends when a round changes nothing
and no rollout waits to be looked at again (a ModelDeployment deploying or verifying asks to be,
as the operator's rechecks would). Objects that are then still waiting (for a version that nobody will
create, say) are reported as such, never left silently pending."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.algorithms import presets
from modelyard.api import KINDS
from modelyard.api.validation import ManifestError, parse_manifest, parse_object
from modelyard.config import Settings
from modelyard.core.decision import Event
from modelyard.handlers.reconcile import RECONCILERS, TERMINAL, Context
from modelyard.local.runner import LocalRunError, finished, local_process, run_process
from modelyard.local import servers
from modelyard.local.state import CHILDREN, LocalCluster, StateLock, now_iso, runnable
from modelyard.manifests import Document
from modelyard.workloads.profiles import load_profiles

PRESET = "modelyard.dev/preset"
MAX_ROUNDS = 200
"""A bound on rounds: each one either runs a Job or changes a status; far more than any real
set of manifests needs, so reaching it means a decision loop, reported as an error."""
ROLLING_OUT = frozenset({"Deploying", "Verifying", "Canary"})
"""ModelDeployment phases in which the rollout asks to be looked at again after a while."""
MAX_RECHECK_SECONDS = 15.0



class Rechecks:
    """What the reconciles asked to be looked at again (Context.rechecks), and how soon."""

    def __init__(self) -> None:
        self.asked: dict[tuple[str, str, str], float] = {}

    def after(self, delay: float, kind: str, namespace: str, name: str) -> None:
        key = (kind, namespace, name)
        self.asked[key] = min(delay, self.asked.get(key, delay))


class NotSettling(RuntimeError):
    """Rounds kept changing objects: a bug in a decision, reported instead of looping forever."""


class Reporter:
    """What local mode tells the user; the CLI's progress display implements it."""

    def event(self, kind: str, name: str, event: Event) -> None: ...

    def job_started(self, job: str, command: str) -> None: ...

    def job_line(self, job: str, line: str) -> None: ...

    def job_finished(self, job: str, ok: bool) -> None: ...

    def note(self, text: str) -> None: ...


@dataclass
class Admission:
    """What `apply` did with each document."""

    applied: list[tuple[str, str]] = field(default_factory=list)
    """(kind/name, created|configured|unchanged)"""
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """(where, message)"""


@dataclass(frozen=True)
class Outcome:
    """One object at the end: its phase and message."""

    kind: str
    name: str
    phase: str
    message: str
    passed: bool | None = None
    """An EvaluationJob's verdict: a failed gate is a result, yet local mode exits non-zero on
    it, so a script or CI step can gate on `modelyard local apply`."""

    @property
    def ok(self) -> bool:
        # Suspended is what the user asked for (spec.suspend), not a failure to report
        # Serving: a ModelDeployment's steady state
        return self.phase in ("Ready", "Succeeded", "Suspended", "Serving") and self.passed is not False


class LocalMode:
    """Local mode rooted at `home`: state in home/state, the default store in home/store."""

    def __init__(self, home: Path, settings: Settings | None = None, reporter: Reporter | None = None):
        self.home = home.resolve()
        self.cluster = LocalCluster(self.home / "state")
        settings = settings or Settings()
        if not settings.store_uri:
            settings = settings.model_copy(update={"store_uri": (self.home / "store").as_uri()})
        # no cluster to run a TensorBoard Deployment on: `modelyard local tensorboard` serves the files
        settings = settings.model_copy(update={"tensorboard_servers": False})
        self.settings = settings
        self.reporter = reporter or Reporter()
        self.state_lock: StateLock | None = None
        """Held by the command while it reads and writes the state; let go while a worker runs."""
        self._noted: set[str] = set()
        self.rechecks = Rechecks()
        self.ctx = Context(kube=self.cluster, settings=settings, profiles=load_profiles(settings.profiles_file),
                           post=self._post, rechecks=self.rechecks)  # type: ignore[arg-type]
        self._seed_presets()

    def _seed_presets(self) -> None:
        """The preset ClusterAlgorithms, as the chart installs them; a user's own object of the
        same name (not marked as a preset) is left alone, a preset of an older release updated."""
        for preset in presets():
            stored = self.cluster.read(preset.kind, "", preset.name)
            if stored is None or (stored["metadata"].get("annotations") or {}).get(PRESET) == "true":
                preset.metadata.annotations = {**(preset.metadata.annotations or {}), PRESET: "true"}
                self.cluster.apply(preset)

    def _post(self, obj: Any, event: Event) -> None:
        self.cluster.post_event(obj, event.type, event.reason, event.message)
        self.reporter.event(obj.kind, obj.name, event)

    def admit(self, docs: list[Document]) -> Admission:
        """Validate every document as the CRDs would, then store the valid ones; an update of an
        immutable spec is rejected with the CRD's message and changes nothing."""
        admission = Admission()
        for doc in docs:
            if not doc.is_modelyard:
                kind = doc.body.get("kind", "?") if isinstance(doc.body, dict) else "?"
                admission.rejected.append((doc.where, f"{kind} is not a modelyard.dev kind; local mode applies only those"))
                continue
            try:
                resource = parse_manifest(doc.body)
                stored = self.cluster.read(resource.kind, resource.namespace, resource.name)
                if stored is not None:
                    parse_manifest(doc.body, old=stored)
            except ManifestError as error:
                admission.rejected.append((doc.where, str(error)))
                continue
            admission.applied.append((f"{resource.kind}/{resource.name}", self.cluster.apply(resource)))
        return admission

    def delete(self, kind: str, name: str, namespace: str = "default") -> bool:
        if self.cluster.read(kind, namespace, name) is None:
            return False
        self.cluster.delete(kind, namespace, name)
        return True

    def _round(self) -> bool:
        """Reconcile everything once; True when anything was stored."""
        before = self._versions()
        self.rechecks.asked.clear()
        for kind, reconcile in RECONCILERS.items():
            for obj in self.cluster.list(kind, None):
                reconcile(self.ctx, obj)  # type: ignore[operator]
        return self._versions() != before

    def _versions(self) -> dict[str, str]:
        return {f"{kind}/{b['metadata'].get('namespace', '')}/{b['metadata']['name']}": b["metadata"].get("resourceVersion", "")
                for kind in (*KINDS, *CHILDREN) for b in self.cluster.bodies(kind)}

    def _run_jobs(self) -> bool:
        pending = self.cluster.pending_jobs()
        for listed in pending:
            # another command may have run or suspended it while this one ran an earlier Job
            job = self.cluster.get_job(listed["metadata"]["namespace"], listed["metadata"]["name"])
            if job is None or not runnable(job):
                continue
            meta = job["metadata"]
            labels = job["metadata"].get("labels") or {}
            command = labels.get("app.kubernetes.io/component", "worker")
            self._note_hardware(labels.get("modelyard.dev/hardware", "cpu"))
            self.reporter.job_started(meta["name"], command)
            try:
                process = local_process(job, self.home)
            except LocalRunError as error:
                status, pod = finished(now_iso(), 1, str(error), "Error")
            else:
                try:
                    status, pod = run_process(process, lambda line, n=meta["name"]: self.reporter.job_line(n, line),
                                              lambda pid, m=meta: self._started(m, pid))
                finally:
                    if self.state_lock is not None:
                        self.state_lock.acquire()
            self.cluster.finish_job(meta["namespace"], meta["name"], status, pod)
            self.reporter.job_finished(meta["name"], "succeeded" in status)
        return bool(pending)

    def _run_servers(self) -> bool:
        """Start each server Deployment without a running process and wait until it is ready or
        exits; True when any was started."""
        pending = self.cluster.pending_servers()
        for body in pending:
            meta = body["metadata"]
            try:
                process = servers.server_process(body, self.home, servers.free_port(), servers.free_port())
            except servers.ServerRunError as error:
                self.cluster.server_failed(meta["namespace"], meta["name"], 1, str(error))
                continue
            self.reporter.job_started(meta["name"], "server")
            started = servers.start(process)
            run = servers.wait_ready(started, process)
            if run.ready:
                self.cluster.server_ready(meta["namespace"], meta["name"], run.pid, process.http_port,
                                          process.grpc_port, process.url)
                self.reporter.note(f"server {meta['name']} ready at {process.url} (log: {process.log})")
            else:
                self.cluster.server_failed(meta["namespace"], meta["name"], run.exit_code, run.message)
            self.reporter.job_finished(meta["name"], run.ready)
        return bool(pending)

    def _rollout_wait(self) -> float | None:
        """How long until a rollout in progress is looked at again (None: none is in progress)."""
        rolling = {(b["metadata"].get("namespace", ""), b["metadata"]["name"])
                   for b in self.cluster.bodies("ModelDeployment") if (b.get("status") or {}).get("phase") in ROLLING_OUT}
        delays = [d for (kind, ns, name), d in self.rechecks.asked.items() if kind == "ModelDeployment" and (ns, name) in rolling]
        return min(max(min(delays), 0.1), MAX_RECHECK_SECONDS) if delays else None

    def _started(self, meta: dict[str, Any], pid: int) -> None:
        """The worker runs: recorded, then the state is free for other commands until it ends."""
        self.cluster.start_job(meta["namespace"], meta["name"], pid)
        if self.state_lock is not None:
            self.state_lock.release()

    def _note_hardware(self, hardware: str) -> None:
        """Say once per hardware kind that a Job for other hardware runs (and is measured) here."""
        here = platform.machine().lower()
        native = {"cpu": here in ("x86_64", "amd64"), "arm": here in ("aarch64", "arm64")}
        if native.get(hardware, False) or hardware in self._noted:
            return
        self._noted.add(hardware)
        self.reporter.note(f"hardware {hardware} runs on this machine ({here}) in local mode: its latency "
                           "figures are this machine's, and it needs the hardware's runtime here")

    def run(self) -> list[Outcome]:
        """Drive every object to a terminal state (or to a wait nothing here can end)."""
        for _ in range(MAX_ROUNDS):
            changed = self._round()
            ran = self._run_jobs()
            served = self._run_servers()
            if not changed and not ran and not served:
                wait = self._rollout_wait()
                if wait is None:
                    return self.outcomes()
                time.sleep(wait)  # the requeue a rollout asked for (a canary's analysis time, say)
        raise NotSettling(f"local mode did not settle in {MAX_ROUNDS} rounds (a decision loop: please report it); "
                          f"the state is in {self.cluster.root}")

    def outcomes(self) -> list[Outcome]:
        found = []
        for kind in KINDS:
            if kind not in RECONCILERS:
                continue  # catalogue objects (algorithms, templates): nothing runs for them
            for body in self.cluster.bodies(kind):
                status = body.get("status") or {}
                try:
                    parse_object(body)
                except ManifestError as error:
                    found.append(Outcome(kind, body["metadata"]["name"], "Failed", f"stored object does not parse: {error}"))
                    continue
                phase = status.get("phase") or "Pending"
                message = status.get("message") or ""
                if phase not in TERMINAL and phase not in ("Suspended", "Serving"):
                    message = f"still {phase.lower()}: {message or 'nothing more can happen locally'}"
                found.append(Outcome(kind, body["metadata"]["name"], phase, message, status.get("passed")))
        return found
