"""The objects of local mode, kept as JSON files under `<home>/state/`, behind the same interface
as the operator's API layer (handlers/kube.py), so the operator's reconcile code runs unchanged.

What the API server does for the operator, this does here: metadata (uid, generation,
timestamps), finalizers holding deletion, garbage collection of owned children, and Jobs and
their pods, whose state the local runner writes after running the worker."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from modelyard.api import API_VERSION, KINDS
from modelyard.api.resource import Resource
from modelyard.api.validation import ManifestError, parse_object, parse_valid

JOB = "Job"
CLUSTER = "_cluster"
"""The folder of cluster-scoped objects (ClusterAlgorithm)."""
EVENTS = "events.jsonl"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


WORKER_PID = "modelyard.dev/local-worker-pid"
"""The process running a local Job's worker (a Job annotation of local mode's own)."""


def _finished(job: dict[str, Any]) -> bool:
    status = job.get("status") or {}
    conditions = status.get("conditions") or []
    return bool(status.get("succeeded") or status.get("failed")) or any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions)


def _worker(job: dict[str, Any]) -> int | None:
    """The pid of the Job's worker while it is alive."""
    pid = (job["metadata"].get("annotations") or {}).get(WORKER_PID)
    if not pid or not (job.get("status") or {}).get("active"):
        return None
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return None
    return int(pid)


def runnable(job: dict[str, Any]) -> bool:
    """Not finished, not suspended, and no live worker runs it."""
    return not _finished(job) and not job["spec"].get("suspend") and _worker(job) is None


def _stop(job: dict[str, Any]) -> None:
    pid = _worker(job)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass  # it ended meanwhile


class StateLock:
    """One writer of a local home's state at a time (an flock on state/.lock, taken by every
    `local apply` and `local delete`). A command lets go of it while a Job's worker runs, as
    an API server serves other clients while a pod runs: another command can then suspend
    that Job, or run its own."""

    def __init__(self, root: Path):
        self._file = (root / ".lock").open("w")

    def try_acquire(self) -> bool:
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def acquire(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def release(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        self._file.close()


class LocalCluster:
    """A one-machine stand-in for the API server, stored under `root`."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    # storage -------------------------------------------------------------------------------------

    def _path(self, kind: str, namespace: str, name: str) -> Path:
        return self.root / kind / (namespace or CLUSTER) / f"{name}.json"

    def read(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The raw stored body, or None."""
        path = self._path(kind, namespace, name)
        return json.loads(path.read_text()) if path.is_file() else None

    def write(self, body: dict[str, Any]) -> None:
        """Store `body` atomically (a crash never leaves half an object)."""
        meta = body["metadata"]
        path = self._path(body["kind"], meta.get("namespace") or "", meta["name"])
        path.parent.mkdir(parents=True, exist_ok=True)
        meta["resourceVersion"] = str(int(meta.get("resourceVersion") or 0) + 1)
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps(body, indent=1, sort_keys=True))
        os.replace(temp, path)

    def bodies(self, kind: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        """Every stored body of a kind, in name order (one namespace or all)."""
        folder = self.root / kind
        if not folder.is_dir():
            return
        spaces = [folder / namespace] if namespace else sorted(p for p in folder.iterdir() if p.is_dir())
        for space in spaces:
            for path in sorted(space.glob("*.json")) if space.is_dir() else []:
                yield json.loads(path.read_text())

    def _remove(self, kind: str, namespace: str, name: str) -> None:
        body = self.read(kind, namespace, name)
        self._path(kind, namespace, name).unlink(missing_ok=True)
        if body is not None:
            self._collect(body["metadata"].get("uid"))

    def _collect(self, uid: str | None) -> None:
        """Garbage collection: what the removed object owned goes too (children with finalizers
        are marked for deletion and wait for them, as on a cluster)."""
        if not uid:
            return
        for kind in (*KINDS, JOB):
            for body in list(self.bodies(kind)):
                owners = body["metadata"].get("ownerReferences") or []
                if any(o.get("uid") == uid for o in owners):
                    meta = body["metadata"]
                    self.delete(kind, meta["namespace"], meta["name"])

    # the Kube interface --------------------------------------------------------------------------

    def get(self, kind: str, namespace: str, name: str) -> Resource | None:
        body = self.read(kind, namespace, name)
        if body is None:
            return None
        try:
            return parse_object(body)
        except ManifestError:
            return None

    def list(self, kind: str, namespace: str | None) -> list[Resource]:
        return parse_valid(self.bodies(kind, namespace))

    def pages(self, kind: str, namespace: str | None) -> Iterator[list[Resource]]:
        yield self.list(kind, namespace)

    def namespaces(self) -> list[str]:
        found = {p.name for kind in (*KINDS, JOB) if (self.root / kind).is_dir() for p in (self.root / kind).iterdir()}
        return sorted(found)

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.read(JOB, namespace, name)

    def patch_job(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        """As the Job controller does for `spec.suspend`: suspending a running Job stops its
        worker (SIGTERM, as a pod's deletion would: it stores its checkpoints and ends) and
        clears its start; resuming makes it runnable again."""
        job = self.read(JOB, namespace, name)
        if job is None:
            return
        was = bool(job["spec"].get("suspend"))
        job["spec"] = {**job["spec"], **body.get("spec", {})}
        now = bool(job["spec"].get("suspend"))
        if now != was and not _finished(job):
            if now:
                _stop(job)
            job["status"] = {"conditions": [{"type": "Suspended", "status": "True" if now else "False",
                                             "lastTransitionTime": now_iso(), "reason": "JobSuspended" if now else "JobResumed"}]}
        self.write(job)

    def warning_events(self, namespace: str, names: list[str]) -> list[dict[str, Any]]:
        return []  # no scheduler, kubelet or image pulls here: a local worker starts or fails itself

    def pod_log_tail(self, namespace: str, pod: str, lines: int) -> str:
        return ""  # local jobs run to the end before anything reads them

    def job_pods(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        job = self.read(JOB, namespace, job_name)
        return list((job or {}).get("pods") or [])

    def get_training_job(self, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
        """Local mode runs no training jobs: whoever applies a `trainingJob` source has run the
        training (the quickstart's script plays that part), so the job reads as complete and the
        import fetches its outputUri."""
        return {
            "apiVersion": "batch/v1" if kind == JOB else "kubeflow.org/v1",
            "kind": kind,
            "metadata": {"name": name, "namespace": namespace},
            "status": {"conditions": [{"type": "Complete" if kind == JOB else "Succeeded", "status": "True",
                                       "message": "local mode: trained outside Modelyard"}], "succeeded": 1},
        }

    def create(self, manifest: dict[str, Any]) -> None:
        """Create a child; one that exists already is fine (names are deterministic)."""
        meta = manifest["metadata"]
        if self.read(manifest["kind"], meta["namespace"], meta["name"]) is not None:
            return
        body = json.loads(json.dumps(manifest))
        body["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=now_iso(), generation=1)
        if body["kind"] == JOB:
            body["status"] = {}
        self.write(body)

    def add_finalizer(self, kind: str, namespace: str, name: str, finalizer: str, known: dict[str, Any]) -> None:
        body = self.read(kind, namespace, name)
        current = (body or {}).get("metadata", {}).get("finalizers") or []
        if body is None or finalizer in current or body["metadata"].get("deletionTimestamp"):
            return
        body["metadata"]["finalizers"] = [*current, finalizer]
        self.write(body)

    def remove_finalizer(self, kind: str, namespace: str, name: str, finalizer: str, known: dict[str, Any]) -> None:
        body = self.read(kind, namespace, name)
        if body is None:
            return
        remaining = [f for f in body["metadata"].get("finalizers") or [] if f != finalizer]
        if body["metadata"].get("deletionTimestamp") and not remaining:
            self._remove(kind, namespace, name)
            return
        body["metadata"]["finalizers"] = remaining
        self.write(body)

    def delete_child(self, kind: str, namespace: str, name: str, owner_uid: str | None = None) -> None:
        body = self.read(kind, namespace, name)
        owners = ((body or {}).get("metadata") or {}).get("ownerReferences") or []
        if owner_uid is None or any(o.get("uid") == owner_uid for o in owners):
            self.delete(kind, namespace, name)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        body = self.read(kind, namespace, name)
        if body is None:
            return
        if not body["metadata"].get("finalizers"):
            self._remove(kind, namespace, name)
        elif not body["metadata"].get("deletionTimestamp"):
            body["metadata"]["deletionTimestamp"] = now_iso()
            self.write(body)

    def post_event(self, obj: Resource, type_: str, reason: str, message: str) -> None:
        record = {"time": now_iso(), "kind": obj.kind, "namespace": obj.namespace, "name": obj.name,
                  "type": type_, "reason": reason, "message": message}
        with (self.root / EVENTS).open("a") as log:
            log.write(json.dumps(record, sort_keys=True) + "\n")

    def patch_status(self, kind: str, namespace: str, name: str, status: dict[str, Any], previous: dict[str, Any]) -> None:
        body = self.read(kind, namespace, name)
        if body is None:
            return
        body["status"] = {k: v for k, v in status.items() if v is not None}
        self.write(body)

    # what kubectl apply does ---------------------------------------------------------------------

    def apply(self, resource: Resource) -> str:
        """Create or update from a user's (already admitted) manifest: 'created', 'configured' or
        'unchanged'. Status and server-set metadata are kept."""
        body = resource.to_dict()
        body["apiVersion"] = API_VERSION
        if resource.namespace:
            body["metadata"]["namespace"] = resource.namespace
        body.pop("status", None)
        stored = self.read(resource.kind, resource.namespace, resource.name)
        if stored is None:
            body["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=now_iso(), generation=1)
            self.write(body)
            return "created"
        same_spec = stored.get("spec") == body.get("spec")
        mine = {k: body["metadata"].get(k) for k in ("labels", "annotations")}
        same_meta = all(stored["metadata"].get(k) == v for k, v in mine.items() if v is not None)
        if same_spec and same_meta:
            return "unchanged"
        stored["spec"] = body["spec"]
        stored["metadata"].update({k: v for k, v in mine.items() if v is not None})
        if not same_spec:
            stored["metadata"]["generation"] = int(stored["metadata"].get("generation") or 1) + 1
        self.write(stored)
        return "configured"

    def pending_jobs(self) -> list[dict[str, Any]]:
        """Jobs to run: not finished, not suspended (one waits until it is resumed) and not
        running in another local-mode process (one whose worker is gone runs again, as the Job
        controller replaces a lost pod)."""
        return [job for job in self.bodies(JOB) if runnable(job)]

    def start_job(self, namespace: str, name: str, pid: int) -> None:
        """The Job's worker runs as process `pid` (another local-mode process can stop it)."""
        job = self.read(JOB, namespace, name)
        if job is None:
            return
        job["status"] = {"active": 1, "ready": 1, "startTime": now_iso()}  # a process runs: its pod is ready
        job["metadata"].setdefault("annotations", {})[WORKER_PID] = str(pid)
        self.write(job)

    def finish_job(self, namespace: str, name: str, status: dict[str, Any], pod: dict[str, Any]) -> None:
        """Record how the worker ended; one stopped because its Job was suspended meanwhile
        leaves the Job suspended (not failed), to run again when it is resumed."""
        job = self.read(JOB, namespace, name)
        if job is None:
            return
        job["metadata"].get("annotations", {}).pop(WORKER_PID, None)
        if not job["spec"].get("suspend") or status.get("succeeded"):
            job["status"], job["pods"] = status, [pod]
        self.write(job)

    def events(self) -> list[dict[str, Any]]:
        path = self.root / EVENTS
        return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
