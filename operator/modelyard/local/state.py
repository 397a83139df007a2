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
from modelyard.local import servers

JOB = "Job"
DEPLOYMENT = "Deployment"
BUILTIN = (DEPLOYMENT, "Service", "HorizontalPodAutoscaler")
"""The built-in kinds a ModelDeployment owns, stored as they are (a Deployment's server runs as
a local process: servers.py)."""
CHILDREN = (JOB, *BUILTIN)
CLUSTER = "_cluster"
"""The folder of cluster-scoped objects (ClusterAlgorithm)."""
EVENTS = "events.jsonl"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


WORKER_PID = "modelyard.dev/local-worker-pid"
SERVER_PID = "modelyard.dev/local-server-pid"
"""The process running a server Deployment (local mode's own annotation)."""
HTTP_PORT = "modelyard.dev/local-http-port"
URL = "modelyard.dev/url"
"""Where a server's REST endpoint listens (handlers/serving.py reads it)."""
GRPC_PORT = "modelyard.dev/grpc-port"
"""A pod's gRPC port (handlers/serving.py reads it: local servers share loopback)."""
POD_HTTP_PORT = "modelyard.dev/http-port"
"""A pod's REST port, where its /metrics are read (handlers/serving.py)."""
CRASHES = 3
"""The restarts recorded for a server that exited before it was ready (handlers/serving.py takes
that many as a server that will not come up; local mode does not start it again)."""
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


def _server_pid(body: dict[str, Any]) -> int | None:
    pid = (body["metadata"].get("annotations") or {}).get(SERVER_PID)
    try:
        return int(pid) if pid else None
    except ValueError:
        return None


def is_server(body: dict[str, Any]) -> bool:
    return (body["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "server"


def server_running(body: dict[str, Any]) -> bool:
    """Its process is alive and answers on its port (a pid alone may be another process's now)."""
    port = (body["metadata"].get("annotations") or {}).get(HTTP_PORT)
    return bool(port) and servers.alive(_server_pid(body)) and servers.answers(int(port))


def crashed(body: dict[str, Any]) -> bool:
    return any(int(s.get("restartCount") or 0) >= CRASHES
               for pod in body.get("pods") or [] for s in (pod.get("status") or {}).get("containerStatuses") or [])


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386): None removes a key."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _labelled(body: dict[str, Any], labels: dict[str, str]) -> bool:
    have = (body.get("metadata") or {}).get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())


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
        if kind == DEPLOYMENT and body is not None:
            servers.stop(_server_pid(body))  # its pods go with it
        self._path(kind, namespace, name).unlink(missing_ok=True)
        if body is not None:
            self._collect(body["metadata"].get("uid"))

    def _collect(self, uid: str | None) -> None:
        """Garbage collection: what the removed object owned goes too (children with finalizers
        are marked for deletion and wait for them, as on a cluster)."""
        if not uid:
            return
        for kind in (*KINDS, *CHILDREN):
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
        found = {p.name for kind in (*KINDS, *CHILDREN) if (self.root / kind).is_dir() for p in (self.root / kind).iterdir()}
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

    def list_deployments(self, namespace: str, labels: dict[str, str]) -> list[dict[str, Any]]:
        return [b for b in self.bodies(DEPLOYMENT, namespace) if _labelled(b, labels)]

    def pods(self, namespace: str, labels: dict[str, str]) -> list[dict[str, Any]]:
        """The pods of the namespace's Deployments (a local server's, recorded on its body)."""
        return [p for b in self.bodies(DEPLOYMENT, namespace) for p in b.get("pods") or [] if _labelled(p, labels)]

    def kserve_installed(self) -> bool:
        return False  # local mode serves with the built-in server only (backend auto chooses it)

    def get_builtin(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.read(kind, namespace, name)

    def patch_child(self, kind: str, namespace: str, name: str, body: dict[str, Any], owner_uid: str | None) -> None:
        """A merge patch of an owned Deployment, Service or autoscaler; stored only when it
        changes something (a reconcile patches the same replicas and selector every round)."""
        stored = self.read(kind, namespace, name)
        owners = ((stored or {}).get("metadata") or {}).get("ownerReferences") or []
        if stored is None or (owner_uid is not None and not any(o.get("uid") == owner_uid for o in owners)):
            return
        patched = _merge(stored, body)
        if patched != stored:
            self.write(patched)

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

    def pending_servers(self) -> list[dict[str, Any]]:
        """Server Deployments whose process is not running (never started, or gone since: the
        machine restarted, someone killed it); one that exited before it was ready is not
        started again (its ModelDeployment rolls it back)."""
        return [b for b in self.bodies(DEPLOYMENT) if is_server(b) and not crashed(b) and not server_running(b)]

    def _server_pod(self, body: dict[str, Any], status: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
        template = (body["spec"].get("template") or {}).get("metadata") or {}
        meta = body["metadata"]
        return {"metadata": {"name": f"{meta['name']}-local", "namespace": meta["namespace"],
                             "labels": template.get("labels") or meta.get("labels") or {},
                             "annotations": annotations, "creationTimestamp": now_iso()},
                "status": status}

    def server_ready(self, namespace: str, name: str, pid: int, http_port: int, grpc_port: int, url: str) -> None:
        """The server runs as `pid` and is ready: one ready replica at 127.0.0.1 (local mode runs
        one process whatever spec.replicas says)."""
        body = self.read(DEPLOYMENT, namespace, name)
        if body is None:
            servers.stop(pid)  # deleted meanwhile
            return
        body["metadata"].setdefault("annotations", {}).update(
            {SERVER_PID: str(pid), HTTP_PORT: str(http_port), GRPC_PORT: str(grpc_port), URL: url})
        body["status"] = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                          "observedGeneration": body["metadata"].get("generation", 1)}
        started = now_iso()
        body["pods"] = [self._server_pod(body, {
            "phase": "Running", "podIP": servers.HOST, "hostIP": servers.HOST, "startTime": started,
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": started}],
            "containerStatuses": [{"name": servers.SERVER_CONTAINER, "ready": True, "restartCount": 0,
                                   "state": {"running": {"startedAt": started}}}],
        }, {GRPC_PORT: str(grpc_port), POD_HTTP_PORT: str(http_port)})]
        self.write(body)

    def server_failed(self, namespace: str, name: str, exit_code: int | None, message: str) -> None:
        """The server exited (or was stopped) before it was ready: recorded as a crash loop, as
        the kubelet would after its restarts, with the log's tail as the termination message."""
        body = self.read(DEPLOYMENT, namespace, name)
        if body is None:
            return
        for key in (SERVER_PID, HTTP_PORT, GRPC_PORT, URL):
            (body["metadata"].get("annotations") or {}).pop(key, None)
        body["status"] = {"replicas": 1, "readyReplicas": 0, "unavailableReplicas": 1,
                          "observedGeneration": body["metadata"].get("generation", 1)}
        body["pods"] = [self._server_pod(body, {
            "phase": "Running", "hostIP": servers.HOST,
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": [{"name": servers.SERVER_CONTAINER, "ready": False, "restartCount": CRASHES,
                                   "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                   "lastState": {"terminated": {"exitCode": exit_code if exit_code is not None else 1,
                                                                "reason": "Error", "message": message,
                                                                "finishedAt": now_iso()}}}],
        }, {})]
        self.write(body)

    def events(self) -> list[dict[str, Any]]:
        path = self.root / EVENTS
        return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
