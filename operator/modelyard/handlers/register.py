"""Every Kopf decorator of the operator, in one place; each body is a few lines.

The operator is level-triggered: every watch event of a Modelyard object or of one of its Jobs
makes the object due (workqueue.py), to be reconciled from scratch, and a periodic resync (resync.py) re-runs objects that are
still waiting, so a missed event or a transient API error only delays work. Reconciles are idempotent: children
have deterministic names, and an unchanged status is not written.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from modelyard.api import API_VERSION, GROUP, KINDS, VERSION
from modelyard.api.model import Model
from modelyard.api.validation import ManifestError, parse_object
from modelyard.core.deletion import FINALIZER
from modelyard.handlers.apply import invalid_status
from modelyard.handlers.workqueue import Key, Work, WorkQueue
from modelyard.workloads.naming import job_name
from modelyard.handlers.reconcile import (
    RECONCILERS,
    TERMINAL,
    Context,
    reconcile_conversion,
    reconcile_evaluation,
    reconcile_model,
    reconcile_model_version,
    reconcile_training,
    read,
)

log = logging.getLogger("modelyard.operator")

MANAGED = {"app.kubernetes.io/managed-by": "modelyard"}


def _parse(ctx: Context, kind: str, body: dict[str, Any]) -> Any:
    """Parse once; a body the API server should have rejected is recorded as Stalled."""
    obj = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, **dict(body)}
    try:
        return parse_object(obj)
    except ManifestError as error:
        meta = body.get("metadata", {})
        status = invalid_status(dict(body), str(error), ctx.clock())
        if (body.get("status") or {}).get("message") != status["message"]:
            ctx.kube.patch_status(kind, meta.get("namespace", "default"), meta.get("name", ""), status, dict(body.get("status") or {}))
        raise kopf.PermanentError(str(error)) from None


def reconcile(ctx: Context, kind: str, namespace: str, name: str) -> None:
    """Reconcile an object by name (used when something it depends on changed)."""
    obj = read(ctx, kind, namespace, name)
    if obj is not None:
        RECONCILERS[kind](ctx, obj)


def _dependents(ctx: Context, namespace: str, version: str) -> None:
    """A version settled: the jobs that wait on it look again. (Those not seen on the watch
    yet will see the version when they are.)"""
    for job in ctx.seen.of_kind("ConversionJob", namespace):
        if job.spec.source_ref.name == version and (job.status is None or job.status.phase not in TERMINAL):
            reconcile_conversion(ctx, job)
    for job in ctx.seen.of_kind("EvaluationJob", namespace):
        refs = {job.spec.model_version_ref.name if job.spec.model_version_ref else None,
                job.spec.baseline_ref.name if job.spec.baseline_ref else None}
        if version in refs and (job.status is None or job.status.phase not in TERMINAL):
            reconcile_evaluation(ctx, job)


def _model_changed(ctx: Context, model: Model, added: bool) -> None:
    """Its status is refreshed in batches (most Model events are our own status writes); a
    Model that just appeared unblocks the versions waiting for it."""
    if model.metadata.deletion_timestamp or not (model.metadata.finalizers and FINALIZER in model.metadata.finalizers):
        reconcile_model(ctx, model)
    rule = (model.namespace, model.name)
    if model.spec.publish is not None and ctx.publish_rules.get(rule) != model.metadata.generation:
        # A publish rule, new or changed: the Model's Ready versions are pushed by it.
        ctx.publish_rules[rule] = model.metadata.generation
        for version in ctx.kube.list("ModelVersion", model.namespace):
            if version.spec.model_ref.name == model.name and version.status and version.status.phase == "Ready":
                reconcile_model_version(ctx, version)
    if added:
        ctx.dirty_models.add((model.namespace, model.name))
        for version in ctx.kube.list("ModelVersion", model.namespace):
            phase = version.status.phase if version.status else None
            if version.spec.model_ref.name == model.name and phase in (None, "Pending"):
                reconcile_model_version(ctx, version)


def register(registry: kopf.OperatorRegistry, ctx: Context) -> WorkQueue:
    """Register the handlers of all kinds on `registry`; the queue their events feed is
    returned, to be started and stopped with the operator."""
    work = WorkQueue(lambda key, item: process(ctx, key, item))
    for kind in KINDS:
        if kind in RECONCILERS:
            _register_kind(registry, ctx, work, kind)
        elif not KINDS[kind].info.cluster_scoped:
            _register_catalog(registry, ctx, kind)
    # ClusterAlgorithms are not watched: a TrainingJob reads its algorithm when it decides
    # (a namespaced operator has no cluster-wide watch, and there are few of them).
    ctx.seen.watching_jobs = True

    def is_worker_job(body: Any, **_: Any) -> bool:
        labels = body.get("metadata", {}).get("labels") or {}
        return body.get("kind", "Job") == "Job" and labels.get("app.kubernetes.io/managed-by") == "modelyard"

    @kopf.on.event("batch", "v1", "jobs", labels=MANAGED, when=is_worker_job, registry=registry, id="worker-jobs")
    async def worker_job_changed(body: Any, event: dict[str, Any], **_: Any) -> None:
        meta = body["metadata"]
        if event.get("type") == "DELETED":
            ctx.seen.drop("Job", meta["namespace"], meta["name"])
            # An object re-applied under the same name waited for this Job of its
            # predecessor to go (kube.ForeignChild): it can create its own now.
            # An orphaned one (no owner left) is found by its labels.
            labels = meta.get("labels") or {}
            named = [(o.get("kind", ""), o.get("name", "")) for o in meta.get("ownerReferences") or []]
            named.append((labels.get("modelyard.dev/kind", ""), labels.get("modelyard.dev/name", "")))
            uids = {o.get("uid") for o in meta.get("ownerReferences") or []}
            for kind, name in named:
                current = ctx.seen.get(kind, meta["namespace"], name) if kind in RECONCILERS else None
                if current is not None and current.metadata.uid not in uids:
                    work.add((kind, meta["namespace"], name), named=True)
            return
        ctx.seen.put_job(meta["namespace"], meta["name"], dict(body))
        for owner in meta.get("ownerReferences") or []:
            if owner.get("kind") in RECONCILERS:
                work.add((owner["kind"], meta["namespace"], owner["name"]), named=True)

    return work


RETRY_SECONDS = 5.0
"""How soon a reconcile that failed on the API (not on the object) is tried again."""


def process(ctx: Context, key: Key, item: Work) -> None:
    """Reconcile one object from the queue: from its newest body when the watch delivered one,
    else as last seen (a Job of it changed, a recheck came due)."""
    kind, namespace, name = key
    try:
        if item.body is not None:
            obj = _parse(ctx, kind, item.body)
            ctx.seen.put(kind, obj.namespace, obj.name, obj)
            _changed(ctx, kind, obj, added=item.added)
        if item.named and (item.body is None or kind == "Model"):
            reconcile(ctx, kind, namespace, name)
    except kopf.PermanentError as error:
        log.warning("%s %s/%s: %s", kind, namespace, name, error)
    except Exception:  # noqa: BLE001 - the API failed us, not the object: try again soon
        log.exception("reconciling %s %s/%s failed; again in %.0f s", kind, namespace, name, RETRY_SECONDS)
        if ctx.rechecks is not None:
            ctx.rechecks.after(RETRY_SECONDS, kind, namespace, name)


def _waiting_trainings(ctx: Context, namespace: str) -> None:
    for job in ctx.seen.of_kind("TrainingJob", namespace):
        if job.status is None or job.status.phase in (None, "Pending"):
            reconcile_training(ctx, job)


def _register_catalog(registry: kopf.OperatorRegistry, ctx: Context, kind: str) -> None:
    """Algorithms and TrainingTemplates: nothing runs for them; jobs waiting for one look again."""
    plural = KINDS[kind].info.plural

    @kopf.on.event(GROUP, VERSION, plural, registry=registry, id=f"{plural}-event")
    def on_event(body: Any, event: dict[str, Any], **_: Any) -> None:
        meta = body["metadata"]
        if event.get("type") == "DELETED":
            ctx.seen.drop(kind, meta["namespace"], meta["name"])
            return
        obj = _parse(ctx, kind, body)
        ctx.seen.put(kind, obj.namespace, obj.name, obj)
        _waiting_trainings(ctx, obj.namespace)


def _register_kind(registry: kopf.OperatorRegistry, ctx: Context, work: WorkQueue, kind: str) -> None:
    plural = KINDS[kind].info.plural

    def mine(body: Any, **_: Any) -> bool:
        # Some API emulators stream every object on every watch; only act on our own kind.
        return body.get("kind", kind) == kind and body.get("apiVersion", API_VERSION) == API_VERSION

    @kopf.on.event(GROUP, VERSION, plural, registry=registry, id=f"{plural}-event", when=mine)
    async def on_event(body: Any, event: dict[str, Any], **_: Any) -> None:
        meta = body["metadata"]
        key = (kind, meta["namespace"], meta["name"])
        if event.get("type") == "DELETED":
            uid = meta.get("uid")
            work.forget(key, uid)
            ctx.written.pop((*key, uid), None)
            ctx.finalized.discard((*key, uid))
            ctx.seen.drop(*key)
            ctx.locks.pop(key, None)
            if kind == "ModelVersion":
                ctx.dirty_models.add((meta["namespace"], body["spec"]["modelRef"]["name"]))
                ctx.settled_versions.discard((meta["namespace"], meta["name"], uid))
            return
        # managedFields are not read, and the body may wait in the queue: not kept
        kept = {**dict(body), "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
        work.add(key, body=kept, added=event.get("type") in (None, "ADDED"))


def _changed(ctx: Context, kind: str, obj: Any, added: bool) -> None:
    """What a new body of an object sets off: its reconcile, and the objects waiting on it."""
    if kind == "Model":
        _model_changed(ctx, obj, added)
        return
    decision = RECONCILERS[kind](ctx, obj)
    if kind == "TrainingJob" and decision.terminal:
        for follower in ctx.seen.of_kind("TrainingJob", obj.namespace):
            if follower.spec.based_on and follower.spec.based_on.name == obj.name and (follower.status is None or follower.status.phase in (None, "Pending")):
                reconcile_training(ctx, follower)
    if kind == "ModelVersion":
        ctx.dirty_models.add((obj.namespace, obj.spec.model_ref.name))
        # A version that became Ready or passed its gates may be what a deployment serves next.
        for dep in ctx.seen.of_kind("ModelDeployment", obj.namespace):
            if dep.spec.model_ref.name == obj.spec.model_ref.name:
                RECONCILERS["ModelDeployment"](ctx, dep)
        if obj.status and obj.status.phase in TERMINAL and not obj.metadata.deletion_timestamp:
            # Its import Job is read no more (a settled version's decisions do not look at it).
            ctx.seen.drop("Job", obj.namespace, job_name("import", obj.name))
        key = (obj.namespace, obj.name, obj.metadata.uid)
        if decision.terminal and key not in ctx.settled_versions:
            # Jobs waiting on this version look again once it settles (once per version
            # and operator process), not on each later event of a settled version.
            ctx.settled_versions.add(key)
            _dependents(ctx, obj.namespace, obj.name)
