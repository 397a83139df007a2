"""Reconcile a TrainingJob: resolve its template and algorithm, check every hyperparameter and
input before anything runs, run the training Job on the requested resource pool (suspending and
resuming it), and register the trained model as a Ready ModelVersion with lineage."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from modelyard.api import API_VERSION
from modelyard.api import conditions as C
from modelyard.api.algorithm import Algorithm, ClusterAlgorithm
from modelyard.api.model import Model
from modelyard.api.trainingjob import TrainingFields, TrainingJob, TrainingTemplate
from modelyard.config import Settings
from modelyard.core.conditions import set_condition
from modelyard.core.decision import ChildPatch, ChildUpdate, Decision, Event
from modelyard.core.hyperparameters import check_hyperparameters
from modelyard.core.jobflow import follow_job, short, succeed
from modelyard.core.jobstate import JobObservation
from modelyard.core.modelversion import TRAINED_BY
from modelyard.core.semver import SemVer
from modelyard.core.status import StatusBuilder
from modelyard.core.tensorboard import with_tensorboard
from modelyard.core.trainingspec import resolve_spec
from modelyard.workloads.jobs import build_training_job
from modelyard.workloads.tensorboard import build_tensorboard, tensorboard_name, tensorboard_url
from modelyard.workloads.naming import job_name
from modelyard.worker.train.sdk import PROGRESS_PREFIX
from modelyard.workloads.profiles import HardwareProfile

WAIT_SECONDS = 15.0
_EXTENSIONS = {".csv": "csv", ".npz": "npz", ".jsonl": "jsonl", ".txt": "text", ".tar": "imagefolder",
               ".gz": "imagefolder", ".tgz": "imagefolder", ".zip": "imagefolder"}


@dataclass(frozen=True)
class Related:
    """What a TrainingJob's decision reads besides itself."""

    template: TrainingTemplate | None = None
    algorithm: Algorithm | ClusterAlgorithm | None = None
    base: TrainingJob | None = None
    model: Model | None = None
    versions: tuple[str, ...] = ()
    """Versions the output Model has (another job's registered version is never overwritten)."""
    version_names: tuple[str, ...] = ()
    """Names of the ModelVersions in the namespace."""
    job_suspended: bool | None = None
    """The training Job's `spec.suspend`; None when there is no Job."""


def algorithm_digest(algorithm: Algorithm | ClusterAlgorithm) -> str:
    """`sha256:` of the algorithm's spec as canonical JSON: the lineage pins what trained."""
    text = json.dumps(algorithm.spec.to_dict(), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def next_version(versions: tuple[str, ...]) -> str:
    """The next minor release after the highest version the Model has (1.0.0 for the first)."""
    parsed = [SemVer(v) for v in versions]
    if not parsed:
        return "1.0.0"
    major, minor, _ = max(parsed).release
    return f"{major}.{minor + 1}.0"


def _input_format(uri: str, given: str | None, accepted: list[str]) -> str | None:
    if given:
        return given
    suffix = PurePosixPath(uri.split("?", 1)[0]).suffix.lower()
    by_extension = _EXTENSIONS.get(suffix) if suffix else ("imagefolder" if "imagefolder" in accepted else None)
    if by_extension and (by_extension in accepted or "any" in accepted):
        return by_extension
    return next((f for f in accepted if f != "any"), None)


def check_inputs(fields: TrainingFields, algorithm: Algorithm | ClusterAlgorithm | None) -> tuple[list[dict[str, Any]], list[str]]:
    """The inputs with their formats, or what is wrong with them."""
    given = {i.name: i for i in fields.inputs}
    if algorithm is None:
        return [{k: v for k, v in i.to_dict().items()} for i in fields.inputs], []
    declared = {i.name: i for i in algorithm.spec.inputs}
    errors, resolved = [], []
    for name in sorted(set(given) - set(declared)):
        errors.append(f"spec.inputs[name={name}]: unknown input; {algorithm.kind} {algorithm.name} reads: "
                      f"{', '.join(declared) or 'none'}")
    for name, spec in declared.items():
        item = given.get(name)
        if item is None:
            if spec.required:
                errors.append(f"spec.inputs: Required value: input {name!r} ({' or '.join(spec.formats)})")
            continue
        fmt = _input_format(item.uri, item.format, list(spec.formats))
        if fmt not in spec.formats and "any" not in spec.formats:
            errors.append(f"spec.inputs[name={name}].format: Unsupported value: {json.dumps(fmt)}: "
                          f"{algorithm.name} reads {', '.join(spec.formats)}")
            continue
        resolved.append({**item.to_dict(), "format": fmt})
    return resolved, errors


def _lineage_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def output_version_object(job: TrainingJob, model: Model, result: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """The trained version: owned by the Model (deleting the job keeps it), with lineage from
    the data to the job. `status` is the job's status as recorded at success."""
    algorithm = status.get("algorithm") or {}
    inputs = status.get("inputs") or []
    lineage: dict[str, Any] = {
        "trainingJob": job.name,
        "algorithm": f"{algorithm.get('kind')}/{algorithm.get('name')}",
        "algorithmDigest": algorithm.get("digest"),
        "hyperparameters": {k: _lineage_value(v) for k, v in (status.get("hyperparameters") or {}).items()},
        "datasets": [{k: i[k] for k in ("name", "uri", "sha256") if i.get(k)} for i in inputs],
        "trainingVersion": status.get("trainingVersion"),
    }
    if inputs:
        lineage["dataset"] = inputs[0]["uri"]
    final = {k: v["final"] for k, v in (result.get("metrics") or {}).items() if v.get("final") is not None}
    if final:
        lineage["metrics"] = final
    if job.spec.template_ref:
        lineage["trainingTemplate"] = job.spec.template_ref.name
    if job.spec.based_on:
        lineage["basedOn"] = job.spec.based_on.name
    spec: dict[str, Any] = {
        "modelRef": {"name": model.name},
        "version": status["outputVersion"],
        "format": result["format"],
        "source": _source(result),
        "lineage": {k: v for k, v in lineage.items() if v not in (None, "", [], {})},
    }
    if result.get("signature"):
        spec["signature"] = result["signature"]
    return {
        "apiVersion": API_VERSION,
        "kind": "ModelVersion",
        "metadata": {
            "name": status["modelVersion"],
            "namespace": job.namespace,
            "labels": {"modelyard.dev/model": model.name, "modelyard.dev/training-job": job.name},
            "annotations": {TRAINED_BY: job.name},
            "ownerReferences": [{
                "apiVersion": API_VERSION, "kind": "Model", "name": model.name,
                "uid": model.metadata.uid or "", "controller": True, "blockOwnerDeletion": False,
            }],
        },
        "spec": spec,
    }


def _source(result: dict[str, Any]) -> dict[str, Any]:
    """The stored artifact; through its template when the model is weights for one."""
    uri = result["artifact"]["uri"]
    template = result.get("template")
    if not template:
        return {"uri": uri}
    return {"template": {"name": template["name"], "uri": uri.rstrip("/") + "/" + template["file"],
                         "parameters": template.get("parameters") or {}}}


def output_ready_update(job: TrainingJob, result: dict[str, Any], now: datetime, name: str) -> ChildUpdate:
    artifact = result["artifact"]
    message = f"trained by {job.name}: {artifact.get('digest', '')}"
    status = {
        "phase": "Ready",
        "message": message,
        "artifact": {k: artifact[k] for k in ("uri", "digest", "sizeBytes", "files") if k in artifact},
    }
    for key in ("signature", "inspection"):
        if result.get(key):
            status[key] = result[key]
    return ChildUpdate(kind="ModelVersion", name=name, status=status,
                       conditions=set_condition([], C.READY, True, "Trained", message, now), only_if_missing=True)


def _fail(status: StatusBuilder, reason: str, message: str, exit_code: int | None = None) -> Decision:
    status.body["failure"] = {"reason": reason, "message": message[:4096],
                              **({"exitCode": exit_code} if exit_code is not None else {})}
    status.body.pop("progress", None)
    status.condition(C.COMPLETE, False, reason, message)
    return Decision(status=status.failed(reason, message), events=[Event("Warning", reason, message)])


def _wait(status: StatusBuilder, reason: str, message: str) -> Decision:
    return Decision(status=status.waiting("Pending", reason, message), requeue_after=WAIT_SECONDS)


def progress_from_log(text: str) -> dict[str, Any] | None:
    """The latest progress line of a running worker's log, as status.progress fields."""
    for line in reversed(text.splitlines()):
        at = line.find(PROGRESS_PREFIX)
        if at < 0:
            continue
        try:
            body = json.loads(line[at + len(PROGRESS_PREFIX):])
        except json.JSONDecodeError:
            continue
        found = {k: body[k] for k in ("step", "total", "percent", "etaSeconds") if isinstance(body.get(k), (int, float))}
        return found or None
    return None


def failure_reason(observed: JobObservation) -> str:
    """The cause a user acts on: the worker's own reason, else what Kubernetes says."""
    if observed.exit_reason == "OOMKilled":
        return "OOMKilled"
    if observed.reason in ("DeadlineExceeded",):
        return "DeadlineExceeded"
    return observed.reason or "JobFailed"


def training_plan(job: TrainingJob, fields: TrainingFields, algorithm: Algorithm | ClusterAlgorithm | None,
                  values: dict[str, Any], inputs: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """What the worker runs: the command, typed hyperparameters, inputs, output and metrics."""
    assert fields.output is not None
    plan: dict[str, Any] = {
        "hyperparameters": values,
        "inputs": inputs,
        "model": fields.output.model_ref.name,
        "version": version,
        "versionName": fields.output.name or job.name,
        "maxRuntimeSeconds": fields.max_runtime_seconds,
        "tensorboard": bool(fields.tensorboard and fields.tensorboard.enabled),
        "hardware": fields.hardware or "cpu",
    }
    if algorithm is not None:
        spec = algorithm.spec
        plan.update(
            algorithm={"kind": algorithm.kind, "name": algorithm.name, "digest": algorithm_digest(algorithm)},
            command=list(spec.command),
            output=spec.output.to_dict(),
            metrics=[m.to_dict() for m in spec.metrics],
            checkpoints=spec.checkpoints,
            task=spec.task,
            images=dict(spec.images),
        )
    else:
        assert fields.code is not None
        plan.update(algorithm={"kind": "Code", "name": fields.code.image}, command=list(fields.code.command),
                    output={"format": fields.code.output_format}, metrics=[], checkpoints=False)
    return {k: v for k, v in plan.items() if v is not None}


def decide_training(
    job: TrainingJob,
    related: Related,
    observed: JobObservation,
    profiles: dict[str, HardwareProfile],
    settings: Settings,
    now: datetime,
) -> Decision:
    """The next step for `job` given what was read, its TensorBoard server's included."""
    decision = _decide(job, related, observed, profiles, settings, now)
    resolved, errors = resolve_spec(job, related.template)
    board = None if errors else TrainingFields.model_validate(resolved).tensorboard
    model = related.model
    if settings.tensorboard_servers and board is not None and model is not None:
        previous = job.status.tensorboard.to_dict() if job.status and job.status.tensorboard else None
        with_tensorboard(decision, previous, board, tensorboard_name(job), tensorboard_url(job),
                         lambda: build_tensorboard(job, model, profiles, settings), now)
    return decision


def _decide(
    job: TrainingJob,
    related: Related,
    observed: JobObservation,
    profiles: dict[str, HardwareProfile],
    settings: Settings,
    now: datetime,
) -> Decision:
    status = StatusBuilder(job, now)
    phase = job.status.phase if job.status else None
    if phase == "Succeeded" and observed.result and related.model is not None:
        # Heal a crash between registering the version and recording its status.
        return Decision(status=status.body, updates=[output_ready_update(job, observed.result, now, job.status.model_version or job.name)])
    if phase in ("Succeeded", "Failed"):
        return Decision(status=status.body)
    if job.spec.template_ref and related.template is None:
        return _wait(status, "TemplateNotFound", f"spec.templateRef: TrainingTemplate {job.spec.template_ref.name!r} does not exist (yet)")
    resolved, errors = resolve_spec(job, related.template)
    if errors:
        return _fail(status, "InvalidSpec", "; ".join(errors))
    fields = TrainingFields.model_validate(resolved)
    ref = fields.algorithm_ref
    algorithm = related.algorithm
    if ref is not None and algorithm is None:
        return _wait(status, "AlgorithmNotFound", f"spec.algorithmRef: {ref.kind} {ref.name!r} does not exist (yet)")
    hardware = fields.hardware or "cpu"
    if algorithm is not None and hardware not in algorithm.spec.hardware:
        return _fail(status, "UnsupportedHardware", f"spec.hardware: Unsupported value: {json.dumps(hardware)}: "
                     f"{algorithm.kind} {algorithm.name} runs on {', '.join(algorithm.spec.hardware)}")
    if algorithm is not None:
        checked = check_hyperparameters(algorithm.spec.parameters, fields.hyperparameters, f"{algorithm.kind} {algorithm.name}")
        if checked.errors:
            return _fail(status, "InvalidHyperparameter", "; ".join(checked.errors))
        values = checked.values
    else:
        values = dict(fields.hyperparameters)
    inputs, errors = check_inputs(fields, algorithm)
    if errors:
        return _fail(status, "InvalidInput", "; ".join(errors))
    training_version = 1
    if job.spec.based_on is not None:
        base = related.base
        name = job.spec.based_on.name
        base_phase = base.status.phase if base and base.status else None
        if base is None:
            return _wait(status, "BaseJobNotFound", f"spec.basedOn: TrainingJob {name!r} does not exist (yet)")
        if base_phase == "Failed":
            return _fail(status, "BaseJobFailed", f"spec.basedOn: TrainingJob {name!r} failed; base the job on one that succeeded")
        if base_phase != "Succeeded":
            return _wait(status, "WaitingForBaseJob", f"waiting for TrainingJob {name!r} (spec.basedOn) to succeed (now {base_phase or 'Pending'})")
        training_version = (base.status.training_version or 1) + 1
    model = related.model
    assert fields.output is not None
    if model is None:
        return _wait(status, "ModelNotFound", f"spec.output.modelRef: Model {fields.output.model_ref.name!r} does not exist (yet)")
    started = bool(job.status and job.status.job_name)
    version = (job.status.output_version if job.status else None) or fields.output.version or next_version(related.versions)
    registered = fields.output.name or job.name
    if not started and registered in related.version_names:
        return _fail(status, "VersionExists", f"spec.output.name: a ModelVersion named {registered!r} exists already; "
                     "set spec.output.name to another name")
    if not started and version in related.versions:
        return _fail(status, "VersionExists", f"spec.output.version: Model {model.name!r} already has version {version}; "
                     "choose another (or leave it unset for the next minor version)")
    status.body.update(
        algorithm=_algorithm_status(algorithm, fields),
        hyperparameters=values,
        inputs=[{k: i[k] for k in ("name", "uri", "sha256", "format") if i.get(k)} for i in inputs],
        trainingVersion=training_version,
        outputModel=model.name,
        outputVersion=version,
        modelVersion=registered,
    )
    primary = next((m.name for m in algorithm.spec.metrics if m.primary), None) if algorithm else None
    if primary:
        status.body["primaryMetric"] = primary
    name = job_name("train", job.name)
    if job.spec.suspend and observed.phase == "Missing" and not started:
        message = "suspended before it started; set spec.suspend to false to run it"
        return Decision(status=_suspended(status, message), events=[Event("Normal", "Suspended", message)])
    plan = training_plan(job, fields, algorithm, values, inputs, version)
    base = related.base
    if base is not None and base.status and base.status.output_model and base.status.output_version:
        # a warm start: the worker hands the base version's weights to the code (initialWeights)
        plan["basedOn"] = {"job": base.name, "model": base.status.output_model, "version": base.status.output_version}
    decision = follow_job(job, observed, name, "training", lambda: build_training_job(job, plan, fields, model, profiles, settings), status)
    if decision is not None:
        if decision.status.get("phase") == "Failed":
            reason = failure_reason(observed)
            return _fail(status, reason, observed.message or decision.status.get("message", ""), observed.exit_code)
        progress = decision.status.get("progress")
        if isinstance(progress, str):
            decision.status["progress"] = {"message": short(progress, 256), **(observed.progress or {})}
        if related.job_suspended is not None and related.job_suspended != job.spec.suspend:
            decision.patches.append(ChildPatch(name, {"spec": {"suspend": job.spec.suspend}}))
        if job.spec.suspend and observed.phase not in ("Missing", "Foreign"):
            message = "suspended: its pods are stopped; set spec.suspend to false to resume" + (
                " from the last checkpoint" if algorithm is not None and algorithm.spec.checkpoints else "")
            decision.status = _suspended(status, message, job.status.progress if job.status else None)
            decision.events = [Event("Normal", "Suspended", message)]
        elif job.status is not None and job.status.phase == "Suspended":
            decision.events = [*decision.events, Event("Normal", "Resumed", "resumed: spec.suspend is false")]
        return decision
    return _succeeded(job, model, observed.result or {}, status, now)


def _algorithm_status(algorithm: Algorithm | ClusterAlgorithm | None, fields: TrainingFields) -> dict[str, str]:
    if algorithm is None:
        assert fields.code is not None
        return {"kind": "Code", "name": fields.code.image}
    return {"kind": algorithm.kind, "name": algorithm.name, "digest": algorithm_digest(algorithm)}


def _suspended(status: StatusBuilder, message: str, before: Any = None) -> dict[str, Any]:
    status.condition(C.READY, False, "Suspended", message)
    status.drop(C.RECONCILING)
    status.drop(C.STALLED)
    # Where it stopped stays (kubectl's PROGRESS column); no estimate of an end while nothing runs.
    done = before.to_dict() if before is not None else {}
    kept = {k: v for k, v in done.items() if k in ("step", "total", "percent") and v is not None}
    status.body["progress"] = {**kept, "message": "suspended" + (f" at step {kept['step']}" if "step" in kept else "")}
    return status.done("Suspended", message)


def _succeeded(job: TrainingJob, model: Model, result: dict[str, Any], status: StatusBuilder, now: datetime) -> Decision:
    for key in ("metrics", "curvesUri", "reportUri", "tensorboardLogdir"):
        if result.get(key):
            status.body[key] = result[key]
    if result.get("inputs"):
        status.body["inputs"] = result["inputs"]
    status.body.pop("failure", None)
    primary = status.body.get("primaryMetric")
    value = ((result.get("metrics") or {}).get(primary) or {}).get("final") if primary else None
    message = f"registered ModelVersion {status.body['modelVersion']} ({status.body.get('outputVersion')})" + (
        f", {primary} {value:.4g}" if isinstance(value, (int, float)) else "")
    return Decision(
        status=succeed(status, "Trained", message),
        create=[output_version_object(job, model, result, status.body)],
        updates=[output_ready_update(job, result, now, status.body["modelVersion"])],
        events=[Event("Normal", "Trained", message)],
    )
