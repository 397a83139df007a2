"""The latest body of each watched object, as the watches delivered it.

Every reconcile used to read what it depends on (the owner of a Job, the Job, the source
version, the jobs waiting on a version) from the API server: about twenty requests per
ModelVersion. The watches deliver those bodies anyway; reads come from here instead, like an
informer's store. Unlike an informer there is no list-before-watch guarantee: an object
absent here is read from the API (`reconcile.read`), and decisions that cannot be undone are
checked against the API server (see reconcile.py).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from modelyard.api.modelversion import ModelVersion
from modelyard.api.validation import parse_object
from modelyard.core.jobstate import job_finished
from modelyard.core.model import VersionFacts, version_facts


class Seen:
    """Bodies by kind, namespace and name: parsed Modelyard objects, Jobs as plain dicts."""

    def __init__(self) -> None:
        self._bodies: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.watching_jobs = False
        """Whether worker Jobs arrive here from a watch (not in local mode, which has none)."""
        self._finished: dict[tuple[str, str], tuple[Any, Any]] = {}

    def put(self, kind: str, namespace: str, name: str, body: Any) -> None:
        stored = _compact(kind, body)
        with self._lock:
            self._bodies.setdefault((kind, namespace), {})[name] = stored

    def drop(self, kind: str, namespace: str, name: str) -> None:
        with self._lock:
            self._bodies.get((kind, namespace), {}).pop(name, None)
            if kind == "Job":
                self._finished.pop((namespace, name), None)

    def keep_only(self, kind: str, namespace: str, names: set[str]) -> None:
        """Forget the objects of `kind` in `namespace` not named in `names`."""
        with self._lock:
            bodies = self._bodies.get((kind, namespace), {})
            for name in [n for n in bodies if n not in names]:
                del bodies[name]

    def remember(self, namespace: str, name: str, uid: Any, observation: Any) -> None:
        """What a finished Job said (with its pod's termination message): it cannot change,
        so later reconciles need not list its pods again."""
        with self._lock:
            self._finished[(namespace, name)] = (uid, observation)

    def recall(self, namespace: str, name: str, uid: Any) -> Any | None:
        with self._lock:
            found = self._finished.get((namespace, name))
        return found[1] if found is not None and found[0] == uid else None

    def get(self, kind: str, namespace: str, name: str) -> Any | None:
        with self._lock:
            stored = self._bodies.get((kind, namespace), {}).get(name)
        return _expand(stored)

    def of_kind(self, kind: str, namespace: str) -> list[Any]:
        with self._lock:
            stored = list(self._bodies.get((kind, namespace), {}).values())
        return [_expand(s) for s in stored]

    def version_facts(self, namespace: str) -> list[VersionFacts]:
        """What the Models' status needs of every ModelVersion seen in `namespace`, without
        parsing the settled ones again."""
        with self._lock:
            stored = list(self._bodies.get(("ModelVersion", namespace), {}).values())
        return [s.facts if isinstance(s, _Compact) else version_facts(s) for s in stored]

    def put_job(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        """Keep the further-along of two bodies of the same Job: a watch event can be older
        than a body read from the API a moment before. Only what decisions read is kept."""
        body = slim_job(body)
        with self._lock:
            bodies = self._bodies.setdefault(("Job", namespace), {})
            current = bodies.get(name)
            if current is None or _uid(current) != _uid(body) or _progress(body) >= _progress(current):
                bodies[name] = body


@dataclass(frozen=True, slots=True)
class _Compact:
    facts: VersionFacts
    data: bytes


def _compact(kind: str, body: Any) -> Any:
    """A settled ModelVersion (Ready or Failed, not being deleted) is kept as JSON and the
    facts its Model's status needs: a fifth of its parsed size. In a namespace of thousands
    nearly every version is one, and reads of a settled version are rare (a job converting or
    evaluating it); parsed, they were most of the operator's memory."""
    if kind != "ModelVersion" or not isinstance(body, ModelVersion) or body.status is None \
            or body.status.phase not in ("Ready", "Failed") or body.metadata.deletion_timestamp:
        return body
    # unset fields left out and explicit ones kept: parsed again, it is the same object
    return _Compact(version_facts(body), body.model_dump_json(by_alias=True, exclude_unset=True).encode())


def _expand(stored: Any) -> Any:
    return parse_object(json.loads(stored.data)) if isinstance(stored, _Compact) else stored


def _uid(body: dict[str, Any]) -> Any:
    return (body.get("metadata") or {}).get("uid")


def _progress(job: dict[str, Any]) -> int:
    """0 created, 1 started, 2 finished: a Job only moves forward."""
    if job_finished(job):
        return 2
    status = job.get("status") or {}
    return 1 if status.get("startTime") or status.get("active") else 0


KEPT_METADATA = ("name", "namespace", "uid", "creationTimestamp", "ownerReferences", "deletionTimestamp")


def slim_job(body: dict[str, Any]) -> dict[str, Any]:
    """A Job as the reconcilers read it: its name, uid, age and owners, whether it is
    suspended and its pods have init containers, its status (conditions without probe times).
    A full body (pod template, labels, managedFields) is several KiB, held for every Job the
    operator sees."""
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    status = dict(body.get("status") or {})
    if status.get("conditions"):
        status["conditions"] = [{k: v for k, v in c.items() if k != "lastProbeTime"} for c in status["conditions"]]
    slim: dict[str, Any] = {
        "apiVersion": body.get("apiVersion", "batch/v1"), "kind": body.get("kind", "Job"),
        "metadata": {k: metadata[k] for k in KEPT_METADATA if k in metadata},
        "spec": {"suspend": bool(spec.get("suspend"))},
        "status": status,
    }
    if template.get("initContainers"):
        slim["spec"]["template"] = {"spec": {"initContainers": [{"name": c.get("name")} for c in template["initContainers"]]}}
    return slim
