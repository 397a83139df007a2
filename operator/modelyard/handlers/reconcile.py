"""One reconcile per kind: read what the decision needs, decide (core/), apply."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from modelyard.api import conditions as C
from modelyard.api.conversionjob import ConversionJob
from modelyard.api.evaluationjob import EvaluationJob
from modelyard.api.model import Model
from modelyard.api.modeldeployment import ModelDeployment
from modelyard.api.modelversion import ModelVersion
from modelyard.api.trainingjob import TrainingJob
from modelyard.config import Settings
from modelyard.core.conversion import decide_conversion
from modelyard.core.decision import Decision, Event
from modelyard.core.deletion import FINALIZER, Teardown, cleanup_job_name, teardown_model, teardown_version
from modelyard.core.evaluation import decide_evaluation, served_version
from modelyard.core.jobstate import (JobObservation, job_finished, observe_job, ownership, start_problem,
                                     waiting_for_worker)
from modelyard.core.model import VersionFacts, model_status, version_facts
from modelyard.core.modelversion import decide_model_version, producer, settled
from modelyard.core.publishing import add_publishing, already_published, publish_job_name, publish_target
from modelyard.core.rollout import Related as ServingRelated
from modelyard.core.kserving import decide_kserve
from modelyard.core.rollout import decide_rollout
from modelyard.core.training import observe_training_job
from modelyard.core.trainingjob import Related, decide_training, progress_from_log
from modelyard.handlers import metrics
from modelyard.handlers.apply import apply, same_status, told
from modelyard.handlers.cache import Seen
from modelyard.handlers.serving import observe_kserve, observe_servers
from modelyard.workloads.jobs import build_publish_job
from modelyard.workloads.naming import job_name
from modelyard.workloads.profiles import HardwareProfile

if TYPE_CHECKING:
    from modelyard.handlers.kube import Kube

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Context:
    """What every reconcile needs; built once at startup."""

    kube: Kube
    settings: Settings
    profiles: dict[str, HardwareProfile]
    post: Callable[[object, Event], None]
    clock: Clock = utcnow
    dirty_models: set[tuple[str, str]] = field(default_factory=set)
    """Models whose versions changed; their status is recomputed in batches (resync.py)."""
    seen: Seen = field(default_factory=Seen)
    """Objects and Jobs as last seen on the watches (filled by register.py; empty in local mode)."""
    written: dict[tuple[str, str, str, str | None], dict[str, Any]] = field(default_factory=dict)
    """The status last written per object (kind, namespace, name, uid)."""
    finalized: set[tuple[str, str, str, str | None]] = field(default_factory=set)
    """Objects this process gave our finalizer."""
    settled_versions: set[tuple[str, str, str | None]] = field(default_factory=set)
    """Versions (namespace, name, uid) seen Ready or Failed, whose waiting jobs were told."""
    locks: dict[tuple[str, str, str], threading.RLock] = field(default_factory=dict)
    """One per object: its reconciles (from its own events, its Job's, a version it waits
    on, the resync) run one at a time, each reading after the previous one wrote."""
    locks_guard: threading.Lock = field(default_factory=threading.Lock)
    publish_rules: dict[tuple[str, str], int | None] = field(default_factory=dict)
    """The Model generation whose publish rule its Ready versions were last told of."""
    rechecks: Any = None
    """When set (handlers/recheck.py), reconciles asked for later; local mode has none."""


def serialized(reconcile: Callable[..., Decision]) -> Callable[..., Decision]:
    """Run `reconcile(ctx, obj, ...)` under the object's lock: two at once, deciding on what
    each read before the other wrote, would write in either order and regress the status."""

    @functools.wraps(reconcile)
    def locked(ctx: Context, obj: Any, *args: Any, **kwargs: Any) -> Decision:
        key = (obj.kind, obj.namespace, obj.name)
        with ctx.locks_guard:
            lock = ctx.locks.setdefault(key, threading.RLock())
        with lock:
            if not kwargs.get("fresh"):
                obj = newest(obj, ctx.seen.get(*key))
            return reconcile(ctx, obj, *args, **kwargs)

    return locked


def newest(held: Any, seen: Any | None) -> Any:
    """The newer of a body a caller held while it waited for the object's lock and the one
    the watch delivered since. A held body may predate a write the watch has shown already
    (the record of that write is gone then): deciding on it would announce that transition
    again. etcd's revisions order them; a body whose version is not a number is kept."""
    if seen is None or seen.metadata.uid != held.metadata.uid:
        return held
    try:
        return seen if int(seen.metadata.resource_version) > int(held.metadata.resource_version) else held
    except (TypeError, ValueError):
        return held


def read(ctx: Context, kind: str, namespace: str, name: str, fresh: bool = False) -> Any | None:
    """An object as last seen on the watch, else (or when `fresh`) as the API has it now."""
    seen = None if fresh else ctx.seen.get(kind, namespace, name)
    return seen if seen is not None else ctx.kube.get(kind, namespace, name)


def _job(ctx: Context, namespace: str, name: str, confirm: bool, fresh: bool) -> dict[str, Any] | None:
    """The Job as the watch delivered it, or as the API has it when `fresh` (a watch that
    was down misses deletions), or when it was not seen and `confirm`. One not seen is
    otherwise taken as missing: creating it again is a 409 (adopted), and failing an object
    because the Job it started is gone is decided on fresh reads."""
    if not ctx.seen.watching_jobs:
        return ctx.kube.get_job(namespace, name)
    job = None if fresh else ctx.seen.get("Job", namespace, name)
    if job is None and (fresh or confirm):
        job = ctx.kube.get_job(namespace, name)
        if job is None:
            ctx.seen.drop("Job", namespace, name)
        else:
            ctx.seen.put_job(namespace, name, job)
    return job


DIAGNOSE_AFTER_SECONDS = 2.0
"""A Job with no pod this long after it was created is asked why (pods, events): a missing
ServiceAccount or quota shows within seconds."""
DIAGNOSE_PENDING_SECONDS = 8.0
"""A Job whose pod exists but does not run yet is asked why after this long: scheduling and an
image pull take seconds on a busy cluster, and asking sooner costs two lists per Job per
recheck (measured: 2.9 pod and 1.8 event lists per version with 500 versions at once)."""
RECHECK_SECONDS = 3.0
"""How soon a Job whose worker is not running yet is looked at again: nothing in the Job
changes while its pod is unschedulable, cannot pull its image or misses a Secret."""
RECHECK_STUCK_SECONDS = 15.0


def _age(ctx: Context, job: dict[str, Any]) -> float:
    created = (job.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return 0.0  # our own manifest, not yet seen on the watch
    return (ctx.clock() - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds()


def _observe(ctx: Context, namespace: str, name: str, owner: Any, confirm: bool = False,
             fresh: bool = False) -> JobObservation:
    """What `owner`'s worker Job says; a Job of that name that is not `owner`'s is `Foreign`."""
    job = _job(ctx, namespace, name, confirm, fresh)
    if job is None:
        return JobObservation("Missing")
    foreign = ownership(job, owner.kind, owner.metadata.uid)
    if foreign is not None:
        if ctx.rechecks is not None:
            ctx.rechecks.after(RECHECK_STUCK_SECONDS, owner.kind, namespace, owner.name)
        return foreign
    status = job.get("status") or {}
    finished = job_finished(job)
    uid = (job.get("metadata") or {}).get("uid")
    memo = ctx.seen.recall(namespace, name, uid) if finished and not fresh else None
    if memo is not None:
        return memo
    # Pods matter once the Job finished (termination message), while none runs when an init
    # container may be failing (image pull, image-source copy), and when the worker is late
    # to start (why: scheduling, image, Secret); otherwise they say nothing new.
    init = bool(((job.get("spec") or {}).get("template") or {}).get("spec", {}).get("initContainers"))
    waiting = waiting_for_worker(job)
    age = _age(ctx, job)
    diagnose = waiting and age >= (DIAGNOSE_PENDING_SECONDS if status.get("active") else DIAGNOSE_AFTER_SECONDS)
    pods = ctx.kube.job_pods(namespace, name) if finished or diagnose or (init and not status.get("active")) else []
    warnings: list[dict[str, Any]] = []
    # A worker pod that has started (or ended) is not late: the Job controller has yet to count
    # it, and events (what only they say: pods not created, volumes not mounted) cannot apply.
    # Under load that lag is long, and listing events for it fed the load (500 versions: 4.4
    # event lists per version).
    started = any((p.get("status") or {}).get("phase") in ("Running", "Succeeded", "Failed") for p in pods)
    if diagnose and not started and start_problem(pods, []) is None:
        pending = [p["metadata"]["name"] for p in pods if (p.get("status") or {}).get("phase") in (None, "Pending")]
        warnings = ctx.kube.warning_events(namespace, [name, *pending])
    observation = observe_job(job, pods, warnings)
    if finished and ctx.seen.watching_jobs:
        ctx.seen.remember(namespace, name, uid, observation)
    if waiting and ctx.rechecks is not None:
        stuck = observation.phase == "Pending" and observation.reason not in ("Pending", "JobCreated", "WorkerPending")
        # a worker late for longer is looked at less often: a backlog clears in its own time
        delay = RECHECK_STUCK_SECONDS if stuck or started else min(max(RECHECK_SECONDS, age / 2), RECHECK_STUCK_SECONDS)
        ctx.rechecks.after(delay, owner.kind, namespace, owner.name)
    return observation


def _model(ctx: Context, namespace: str, name: str) -> Model | None:
    # Never read fresh: what a decision takes from its Model (task, labels, retention) does
    # not make a Job or a failure wrong, and a Model's status (all its versions) is large.
    return read(ctx, "Model", namespace, name)


def _hardware(obj: Any) -> str:
    spec = obj.spec
    if isinstance(obj, ConversionJob):
        return spec.target.hardware
    return getattr(spec, "hardware", None) or "cpu"


def _failing(obj: Any, decision: Decision) -> bool:
    before = obj.status.phase if obj.status else None
    return decision.status.get("phase") == "Failed" and before != "Failed"


def _may_predate_our_write(ctx: Context, obj: Any) -> bool:
    """Whether the body may be older than the status this process last wrote for the object
    (watch events arrive late). Only this operator writes these statuses, so a body that
    shows our last write, or an object we have not written since we started, is current."""
    written = ctx.written.get((obj.kind, obj.namespace, obj.name, obj.metadata.uid))
    return written is not None and not same_status(obj.status.to_dict() if obj.status else {}, written)


def _current(ctx: Context, obj: Any, decision: Decision, fresh: bool) -> Any | None:
    """The object to decide on again, or None when `decision` may be applied as it is.

    Creating a child and failing cannot be undone. Failing is always decided again on a
    fresh read; creating is when the body may predate our last write (a stale body without
    `status.jobName` would create again a Job that was deleted on purpose)."""
    if fresh:
        return None
    if _failing(obj, decision) or (decision.create and _may_predate_our_write(ctx, obj)):
        return ctx.kube.get(obj.kind, obj.namespace, obj.name)
    return None


def _apply(ctx: Context, obj: Any, decision: Decision) -> Decision:
    previous = obj.status.to_dict() if obj.status else {}
    key = (obj.kind, obj.namespace, obj.name, obj.metadata.uid)
    written = ctx.written.get(key)
    if written is not None and same_status(previous, written):
        # The body shows our last write, so no body the watch delivers later is older: the
        # record is not needed (held for every settled object, it grew with the namespace).
        del ctx.written[key]
        written = None
    if (not decision.create and not decision.updates and not decision.deletes and written is not None
            and same_status(decision.status, written)):
        # The body predates our own last write (the watch has not delivered it yet): that
        # write, and its events, already carried this decision.
        return decision
    if decision.events and (told(decision.status, previous) or (written is not None and told(decision.status, written))):
        # The transition these events announce is on the body already, or in our last write
        # (a decision made again on a body older than that write): each is posted once.
        decision = replace(decision, events=[])
    if not apply(ctx.kube, obj, decision, lambda event: ctx.post(obj, event), ctx.clock()):
        return decision
    for manifest in decision.create:
        if manifest["kind"] == "Job" and ctx.seen.watching_jobs:
            # It exists now: until the watch delivers it, it is not taken for a deleted one.
            ctx.seen.put_job(manifest["metadata"]["namespace"], manifest["metadata"]["name"], manifest)
    if decision.status != previous:
        ctx.written[key] = decision.status
    metrics.observe(obj.kind, _hardware(obj), previous, decision.status)
    return decision


def _meta(obj: Any) -> dict[str, Any]:
    return obj.metadata.model_dump(by_alias=True, exclude_none=True)


def ensure_finalizer(ctx: Context, obj: Any) -> None:
    """Hold the object until its teardown ran (retention of stored artifacts)."""
    finalizers = list(obj.metadata.finalizers or [])
    key = (obj.kind, obj.namespace, obj.name, obj.metadata.uid)
    if FINALIZER not in finalizers and key not in ctx.finalized:  # else a body older than our patch
        ctx.kube.add_finalizer(obj.kind, obj.namespace, obj.name, FINALIZER, _meta(obj))
        ctx.finalized.add(key)


def _teardown(ctx: Context, obj: Any, teardown: Teardown) -> Decision:
    for manifest in teardown.create:
        ctx.kube.create(manifest)
    for name in teardown.delete_versions:
        ctx.kube.delete("ModelVersion", obj.namespace, name)
    previous = obj.status.to_dict() if obj.status else {}
    status = {**previous, "message": teardown.message}
    key = (obj.kind, obj.namespace, obj.name, obj.metadata.uid)
    said = {previous.get("message"), (ctx.written.get(key) or {}).get("message")}
    if teardown.message not in said:  # a step of the teardown is announced once
        for event in teardown.events:
            ctx.post(obj, event)
        ctx.written[key] = status
    if status != previous and not teardown.release:
        ctx.kube.patch_status(obj.kind, obj.namespace, obj.name, status, previous)
    if teardown.release:
        ctx.kube.remove_finalizer(obj.kind, obj.namespace, obj.name, FINALIZER, _meta(obj))
    return Decision(status=status)


@serialized
def reconcile_model_version(ctx: Context, version: ModelVersion, fresh: bool = False) -> Decision:
    ns = version.namespace
    if version.metadata.deletion_timestamp:
        model = _model(ctx, ns, version.spec.model_ref.name)
        cleanup = _observe(ctx, ns, cleanup_job_name(version), version, confirm=True)
        return _teardown(ctx, version, teardown_version(version, model, cleanup, ctx.profiles, ctx.settings))
    ensure_finalizer(ctx, version)
    made_by = producer(version)
    if made_by and not (version.status and version.status.phase):
        # Created by a job that has not recorded its status yet: let it do so.
        job = read(ctx, made_by[0], ns, made_by[1])
        if job is not None:
            RECONCILERS[made_by[0]](ctx, job)
    model = _model(ctx, ns, version.spec.model_ref.name)
    observed, training = JobObservation("Missing"), None
    if not settled(version):
        # Only an unsettled version's decision reads its Job (and training job): every later
        # event of a Ready version (there are several per version) costs no API reads.
        observed = _observe(ctx, ns, job_name("import", version.name), version, fresh=fresh)
        source = version.spec.source.training_job
        if source is not None:
            training = observe_training_job(ctx.kube.get_training_job(ns, source.kind, source.name))
    decision = decide_model_version(version, model, observed, training, ctx.profiles, ctx.settings, ctx.clock())
    current = _current(ctx, version, decision, fresh)
    if current is not None:
        return reconcile_model_version(ctx, current, fresh=True)
    target = publish_target(version, model) if decision.status.get("phase") == "Ready" else None
    if target is not None and not already_published(version, target):
        name = publish_job_name(version, target)
        build = lambda: build_publish_job(version, model, target, name, _publish_related(ctx, version),  # noqa: E731
                                          ctx.profiles, ctx.settings)
        decision = add_publishing(decision, version, target, _observe(ctx, ns, name, version, confirm=True, fresh=fresh),
                                  build, ctx.clock())
    return _apply(ctx, version, decision)


def _publish_related(ctx: Context, version: ModelVersion) -> dict[str, Any]:
    """What a pushed version carries besides its files: its conversion's verification and its
    latest evaluation's verdict."""
    related: dict[str, Any] = {}
    made_by = version.spec.lineage.conversion_job if version.spec.lineage else None
    conversion = read(ctx, "ConversionJob", version.namespace, made_by) if made_by else None
    if conversion is not None:
        related["MODELYARD_CONVERSION_JOB"] = conversion
    evaluations = [e for e in ctx.kube.list("EvaluationJob", version.namespace)
                   if e.spec.model_version_ref and e.spec.model_version_ref.name == version.name
                   and e.status and e.status.phase == "Succeeded"]
    if evaluations:
        related["MODELYARD_EVALUATION_JOB"] = max(evaluations, key=lambda e: str(e.status.completion_time or ""))
    return related


@serialized
def reconcile_conversion(ctx: Context, job: ConversionJob, fresh: bool = False) -> Decision:
    ns = job.namespace
    source = read(ctx, "ModelVersion", ns, job.spec.source_ref.name, fresh)
    model = _model(ctx, ns, source.spec.model_ref.name) if source else None
    observed = _observe(ctx, ns, job_name("convert", job.name), job, fresh=fresh)
    decision = decide_conversion(job, source, model, observed, ctx.profiles, ctx.settings, ctx.clock())
    current = _current(ctx, job, decision, fresh)
    if current is not None:
        return reconcile_conversion(ctx, current, fresh=True)
    return _apply(ctx, job, decision)


@serialized
def reconcile_evaluation(ctx: Context, job: EvaluationJob, fresh: bool = False) -> Decision:
    ns = job.namespace
    deployment = read(ctx, "ModelDeployment", ns, job.spec.deployment_ref.name, fresh) if job.spec.deployment_ref else None
    evaluated = served_version(job, deployment) if job.spec.deployment_ref else job.spec.model_version_ref.name
    version = read(ctx, "ModelVersion", ns, evaluated, fresh) if evaluated else None
    baseline = read(ctx, "ModelVersion", ns, job.spec.baseline_ref.name, fresh) if job.spec.baseline_ref else None
    model = _model(ctx, ns, version.spec.model_ref.name) if version else None
    observed = _observe(ctx, ns, job_name("evaluate", job.name), job, fresh=fresh)
    decision = decide_evaluation(job, version, baseline, model, observed, ctx.profiles, ctx.settings, ctx.clock(),
                                 deployment)
    if decision.requeue_after is not None and job.spec.deployment_ref and ctx.rechecks is not None:
        ctx.rechecks.after(decision.requeue_after, "EvaluationJob", ns, job.name)
    current = _current(ctx, job, decision, fresh)
    if current is not None:
        return reconcile_evaluation(ctx, current, fresh=True)
    return _apply(ctx, job, decision)


PROGRESS_SECONDS = 10.0
"""How often a running training job's progress is read from its worker's log (two reads)."""


def _training_progress(ctx: Context, namespace: str, job: str) -> dict[str, Any] | None:
    running = [p for p in ctx.kube.job_pods(namespace, job) if (p.get("status") or {}).get("phase") == "Running"]
    if not running:
        return None
    return progress_from_log(ctx.kube.pod_log_tail(namespace, running[0]["metadata"]["name"], TAIL_LINES))


TAIL_LINES = 40


def _training_related(ctx: Context, job: TrainingJob, fresh: bool) -> Related:
    ns = job.namespace
    template = read(ctx, "TrainingTemplate", ns, job.spec.template_ref.name, fresh) if job.spec.template_ref else None
    ref = job.spec.algorithm_ref or (template.spec.algorithm_ref if template is not None else None)
    algorithm = None
    if ref is not None:
        algorithm = read(ctx, ref.kind, "" if ref.kind == "ClusterAlgorithm" else ns, ref.name, fresh)
    base = read(ctx, "TrainingJob", ns, job.spec.based_on.name, fresh) if job.spec.based_on else None
    output = job.spec.output or (template.spec.output if template is not None else None)
    model = _model(ctx, ns, output.model_ref.name) if output else None
    versions: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    if model is not None and not (job.status and job.status.job_name):
        # Read before the Job is created only: the version it registers is then fixed.
        listed = ctx.kube.list("ModelVersion", ns)
        versions = tuple(v.spec.version for v in listed if v.spec.model_ref.name == model.name)
        names = tuple(v.name for v in listed)
    return Related(template=template, algorithm=algorithm, base=base, model=model, versions=versions, version_names=names)


@serialized
def reconcile_training(ctx: Context, job: TrainingJob, fresh: bool = False) -> Decision:
    ns = job.namespace
    related = _training_related(ctx, job, fresh)
    name = job_name("train", job.name)
    child = _job(ctx, ns, name, confirm=False, fresh=fresh)
    if child is not None and ownership(child, job.kind, job.metadata.uid) is None:
        related = replace(related, job_suspended=bool((child.get("spec") or {}).get("suspend")))
    observed = _observe(ctx, ns, name, job, fresh=fresh)
    if observed.phase == "Running":
        observed = replace(observed, progress=_training_progress(ctx, ns, name))
        if ctx.rechecks is not None:
            ctx.rechecks.after(PROGRESS_SECONDS, "TrainingJob", ns, job.name)
    decision = decide_training(job, related, observed, ctx.profiles, ctx.settings, ctx.clock())
    current = _current(ctx, job, decision, fresh)
    if current is not None:
        return reconcile_training(ctx, current, fresh=True)
    if decision.requeue_after is not None and ctx.rechecks is not None:
        ctx.rechecks.after(decision.requeue_after, "TrainingJob", ns, job.name)  # e.g. its TensorBoard's expiry
    return _apply(ctx, job, decision)


@serialized
def reconcile_deployment(ctx: Context, dep: ModelDeployment, fresh: bool = False) -> Decision:
    """Its children carry owner references: deleting it deletes its servers (no finalizer)."""
    if dep.metadata.deletion_timestamp:
        return Decision(status=dep.status.to_dict() if dep.status else {})
    ns = dep.namespace
    model_name = dep.spec.model_ref.name
    related = ServingRelated(
        model=_model(ctx, ns, model_name),
        versions=[v for v in ctx.kube.list("ModelVersion", ns) if v.spec.model_ref.name == model_name],
        conversions=ctx.kube.list("ConversionJob", ns),
    )
    observe = lambda name: _observe(ctx, ns, name, dep, confirm=True, fresh=fresh)  # noqa: E731
    backend, installed = dep.spec.backend, False
    if backend != "builtin" and not (dep.status and dep.status.backend == "builtin" and backend == "auto"):
        installed = ctx.kube.kserve_installed()
        backend = "kserve" if installed or backend == "kserve" else "builtin"
    if backend == "kserve":
        decision = decide_kserve(dep, related, observe_kserve(ctx.kube, dep, observe, installed), ctx.profiles,
                                 ctx.settings, ctx.clock())
    else:
        observed = observe_servers(ctx.kube, dep, observe)
        decision = decide_rollout(dep, related, observed, ctx.profiles, ctx.settings, ctx.clock())
    if decision.requeue_after is not None and ctx.rechecks is not None:
        ctx.rechecks.after(decision.requeue_after, "ModelDeployment", ns, dep.name)
    return _apply(ctx, dep, decision)


def reconcile_model(ctx: Context, model: Model) -> Decision:
    listed = [] if model.metadata.deletion_timestamp else ctx.kube.list("ModelVersion", model.namespace)
    return reconcile_model_with(ctx, model, [version_facts(v) for v in listed])


@serialized
def reconcile_model_with(ctx: Context, model: Model, versions: list[VersionFacts]) -> Decision:
    """From the facts of its versions; a Model being deleted lists its versions again (each is
    deleted first, and what the API has now decides that)."""
    if model.metadata.deletion_timestamp:
        return _teardown(ctx, model, teardown_model(model, ctx.kube.list("ModelVersion", model.namespace)))
    ensure_finalizer(ctx, model)
    decision = Decision(status=model_status(model, versions, ctx.clock()))
    return _apply(ctx, model, decision)


TERMINAL = C.TERMINAL_PHASES
RECONCILERS: dict[str, Callable[..., Decision]] = {
    "Model": reconcile_model,
    "TrainingJob": reconcile_training,
    "ModelVersion": reconcile_model_version,
    "ConversionJob": reconcile_conversion,
    "EvaluationJob": reconcile_evaluation,
    "ModelDeployment": reconcile_deployment,
}
"""Every kind's reconcile, in dependency order (local mode reconciles in this order)."""
