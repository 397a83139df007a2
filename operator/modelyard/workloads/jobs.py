"""Pure builders of the batch/v1 Jobs that run the workers.

`build_import_job`, `build_conversion_job` and `build_evaluation_job` return complete Job
manifests: deterministic names, owner references, labels, the hardware profile's node
selector, tolerations and resources, store configuration as environment (credentials only
through Secret references), restricted security, and the worker command. Nothing here calls the
API server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from modelyard.api import API_VERSION
from modelyard.api.conversionjob import ConversionJob
from modelyard.api.evaluationjob import EvaluationJob
from modelyard.api.model import Model
from modelyard.api.modelversion import ModelVersion
from modelyard.api.resource import Resource
from modelyard.api.trainingjob import TrainingFields, TrainingJob
from modelyard.config import Settings
from modelyard.workloads.image_source import MOUNT as IMAGE_MOUNT
from modelyard.workloads.image_source import image_copy_container, image_source_volume
from modelyard.workloads.naming import job_name, label_value
from modelyard.workloads.profiles import HardwareProfile
from modelyard.workloads.security import NON_ROOT_UID, restricted_security_context

WORKER_CONTAINER = "worker"
USER_ERROR_EXIT_CODE = 1  # the worker's exit code for failures a retry cannot fix
WORK_DIR = "/work"
CA_DIR = "/etc/modelyard/ca"
TEMPLATES_DIR = "/etc/modelyard/templates"
REGISTRY_AUTH_DIR = "/etc/modelyard/registry-auth"
"""Where an OCI source's pull secret is mounted; the worker reads it from MODELYARD_REGISTRY_AUTH."""
CREDENTIAL_KEYS = (("AWS_ACCESS_KEY_ID", False), ("AWS_SECRET_ACCESS_KEY", False), ("AWS_SESSION_TOKEN", True))


class NoStoreConfigured(ValueError):
    """Neither the Model nor the operator names an artifact store."""


@dataclass(frozen=True)
class StoreRef:
    """The store a Model's versions go to, with its S3 connection and credentials Secret."""

    uri: str
    endpoint: str | None = None
    region: str | None = None
    secret_name: str | None = None


def store_for(model: Model, settings: Settings) -> StoreRef:
    """The Model's own store, else the operator's default."""
    storage = model.spec.storage
    if storage is not None:
        return StoreRef(
            uri=storage.uri,
            endpoint=storage.endpoint or settings.s3.endpoint,
            region=storage.region or settings.s3.region,
            secret_name=storage.secret_ref.name if storage.secret_ref else settings.store_secret_name,
        )
    if not settings.store_uri:
        raise NoStoreConfigured(
            f"Model {model.name!r} has no spec.storage and the operator has no default store "
            "(chart value store.uri)"
        )
    return StoreRef(settings.store_uri, settings.s3.endpoint, settings.s3.region, settings.store_secret_name)


def _object_json(obj: Resource) -> str:
    """What the worker needs of an object: identity, spec and (for inputs) status."""
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": obj.kind,
        "metadata": {"name": obj.name, "namespace": obj.namespace},
        "spec": obj.spec.to_dict(),
    }
    if obj.status is not None:
        body["status"] = obj.status.to_dict()
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def _store_env(store: StoreRef, settings: Settings) -> list[dict[str, Any]]:
    s3 = settings.s3
    values = {
        "MODELYARD_STORE_URI": store.uri,
        "MODELYARD_S3_ENDPOINT": store.endpoint,
        "MODELYARD_S3_REGION": store.region,
        "MODELYARD_S3_ADDRESSING_STYLE": s3.addressing_style,
        "MODELYARD_S3_CA_BUNDLE": f"{CA_DIR}/{settings.store_ca_key}" if settings.store_ca_configmap else s3.ca_bundle,
        "MODELYARD_S3_VERIFY_TLS": "true" if s3.verify_tls else "false",
        "MODELYARD_S3_PART_SIZE_MIB": str(s3.part_size_mib),
        "MODELYARD_S3_CONCURRENCY": str(s3.concurrency),
        "MODELYARD_S3_MAX_ATTEMPTS": str(s3.max_attempts),
        "MODELYARD_S3_CHECKSUMS": s3.checksums,
    }
    env = [{"name": k, "value": v} for k, v in values.items() if v is not None]
    if store.secret_name:
        env += [
            {
                "name": key,
                "valueFrom": {"secretKeyRef": {"name": store.secret_name, "key": key, "optional": optional}},
            }
            for key, optional in CREDENTIAL_KEYS
        ]
    return env


def _owner_reference(owner: Resource) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": owner.kind,
        "name": owner.name,
        "uid": owner.metadata.uid or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def labels_for(owner: Resource, hardware: str, command: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "modelyard-worker",
        "app.kubernetes.io/managed-by": "modelyard",
        "app.kubernetes.io/component": command,
        "modelyard.dev/kind": owner.kind,
        "modelyard.dev/name": label_value(owner.name),
        "modelyard.dev/hardware": hardware,
    }


def build_worker_job(
    *,
    command: str,
    owner: Resource,
    store: StoreRef,
    hardware: str,
    profile: HardwareProfile,
    settings: Settings,
    related: dict[str, Resource] | None = None,
    resources: dict[str, Any] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    shared_volumes: list[tuple[dict[str, Any], str]] | None = None,
) -> dict[str, Any]:
    """The Job that runs `python -m modelyard.worker <command>` for `owner`."""
    env = [{"name": "MODELYARD_OBJECT", "value": _object_json(owner)}]
    env += [{"name": name, "value": _object_json(obj)} for name, obj in (related or {}).items()]
    env += _store_env(store, settings)
    env += [
        {"name": "MODELYARD_WORKDIR", "value": WORK_DIR},
        {"name": "MODELYARD_TERMINATION_LOG", "value": "/dev/termination-log"},
        {"name": "HOME", "value": WORK_DIR},
    ]
    mounts = [{"name": "work", "mountPath": WORK_DIR}, {"name": "tmp", "mountPath": "/tmp"}]
    pod_volumes = [
        {"name": "work", "emptyDir": {"sizeLimit": settings.jobs.work_size_limit}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
    ]
    for volume, mount_path in shared_volumes or []:
        pod_volumes.append(volume)
        mounts.append({"name": volume["name"], "mountPath": mount_path, "readOnly": True})
    if settings.store_ca_configmap:
        mounts.append({"name": "store-ca", "mountPath": CA_DIR, "readOnly": True})
        pod_volumes.append({"name": "store-ca", "configMap": {"name": settings.store_ca_configmap}})
    if settings.templates_dir is not None:
        env.append({"name": "MODELYARD_TEMPLATE_DIR", "value": TEMPLATES_DIR})
        mounts.append({"name": "templates", "mountPath": TEMPLATES_DIR, "readOnly": True})
        pod_volumes.append({"name": "templates", "configMap": {"name": "modelyard-templates", "optional": True}})
    env += [{"name": k, "value": v} for k, v in sorted(profile.env.items())]
    container = {
        "name": WORKER_CONTAINER,
        "image": profile.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", "modelyard.worker", command],
        "env": env,
        "resources": profile.resources(resources),
        "volumeMounts": mounts,
        "securityContext": restricted_security_context(),
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    labels = labels_for(owner, hardware, command)
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": settings.worker_service_account,
        # Workers never talk to the API server (IRSA webhooks project their own token).
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NON_ROOT_UID,
            "fsGroup": NON_ROOT_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": pod_volumes,
    }
    if init_containers:
        pod_spec["initContainers"] = init_containers
    pod_spec.update(profile.placement())
    if settings.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": n} for n in settings.image_pull_secrets]
    jobs = settings.jobs
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(command, owner.name),
            "namespace": owner.namespace,
            "labels": labels,
            "ownerReferences": [_owner_reference(owner)],
        },
        "spec": {
            "backoffLimit": jobs.backoff_limit,
            "activeDeadlineSeconds": jobs.active_deadline_seconds,
            "ttlSecondsAfterFinished": jobs.ttl_seconds_after_finished,
            # A worker's own failure (exit 1: bad input, failed verification) is final; only
            # infrastructure failures (evictions, OOM) use the backoff budget.
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": WORKER_CONTAINER,
                            "operator": "In",
                            "values": [USER_ERROR_EXIT_CODE],
                        },
                    },
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                ]
            },
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def build_import_job(
    version: ModelVersion, model: Model, profiles: dict[str, HardwareProfile], settings: Settings
) -> dict[str, Any]:
    """The import Job of a ModelVersion (on a CPU node)."""
    init, shared = [], []
    if version.spec.source.image is not None:
        init.append(image_copy_container(version.spec.source.image))
        shared.append((image_source_volume(), IMAGE_MOUNT))
    oci = version.spec.source.oci
    pull_secret = oci.pull_secret_ref.name if oci is not None and oci.pull_secret_ref is not None else None
    if pull_secret is not None:
        shared.append((registry_auth_volume(pull_secret), REGISTRY_AUTH_DIR))
    manifest = build_worker_job(
        command="import",
        owner=version,
        store=store_for(model, settings),
        hardware="cpu",
        profile=profiles["cpu"],
        settings=settings,
        init_containers=init,
        shared_volumes=shared,
    )
    if pull_secret is not None:
        container = manifest["spec"]["template"]["spec"]["containers"][0]
        container["env"].append({"name": "MODELYARD_REGISTRY_AUTH", "value": REGISTRY_AUTH_DIR})
    return manifest


def build_publish_job(version: ModelVersion, model: Model, target: str, name: str, related: dict[str, Resource],
                      profiles: dict[str, HardwareProfile], settings: Settings) -> dict[str, Any]:
    """The Job that pushes a Ready version to `target` as a KitOps ModelKit (on a CPU node), the
    registry's push secret mounted as the import mounts a pull secret; `related` are the
    ConversionJob and EvaluationJobs whose verification and verdicts it carries as annotations."""
    rule = model.spec.publish
    secret = rule.push_secret_ref.name if rule is not None and rule.push_secret_ref is not None else None
    shared = [(registry_auth_volume(secret), REGISTRY_AUTH_DIR)] if secret else []
    manifest = build_worker_job(command="publish", owner=version, store=store_for(model, settings), hardware="cpu",
                                profile=profiles["cpu"], settings=settings, related=related, shared_volumes=shared,
                                resources={"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}})
    manifest["metadata"]["name"] = name
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "MODELYARD_PUBLISH_TARGET", "value": target})
    if secret:
        container["env"] += [{"name": "MODELYARD_REGISTRY_AUTH", "value": REGISTRY_AUTH_DIR},
                             {"name": "MODELYARD_REGISTRY_SECRET", "value": secret}]
    return manifest


def registry_auth_volume(secret: str) -> dict[str, Any]:
    """An OCI source's pull secret (kubernetes.io/dockerconfigjson or the older dockercfg) as
    files. Optional, so that a missing Secret fails the import with a message naming it (the
    worker finds the folder empty) instead of holding the pod in ContainerCreating."""
    return {"name": "registry-auth", "secret": {"secretName": secret, "optional": True, "defaultMode": 0o440}}


def build_cleanup_job(
    version: ModelVersion, model: Model, profiles: dict[str, HardwareProfile], settings: Settings
) -> dict[str, Any]:
    """The Job that deletes a version's artifacts from the store (retention: Delete)."""
    return build_worker_job(
        command="delete",
        owner=version,
        store=store_for(model, settings),
        hardware="cpu",
        profile=profiles["cpu"],
        settings=settings,
    )


def build_conversion_job(
    job: ConversionJob,
    source: ModelVersion,
    model: Model,
    profiles: dict[str, HardwareProfile],
    settings: Settings,
) -> dict[str, Any]:
    """The Job that converts `source` on the target hardware's nodes."""
    hardware = job.spec.target.hardware
    return build_worker_job(
        command="convert",
        owner=job,
        store=store_for(model, settings),
        hardware=hardware,
        profile=profiles[hardware],
        settings=settings,
        related={"MODELYARD_SOURCE_VERSION": source},
        resources=job.spec.resources.to_dict() if job.spec.resources else None,
    )


def build_evaluation_job(
    job: EvaluationJob,
    version: ModelVersion,
    model: Model,
    profiles: dict[str, HardwareProfile],
    settings: Settings,
    baseline: ModelVersion | None = None,
) -> dict[str, Any]:
    """The Job that evaluates `version` on the evaluation's hardware."""
    related: dict[str, Resource] = {"MODELYARD_MODEL_VERSION": version}
    if baseline is not None:
        related["MODELYARD_BASELINE_VERSION"] = baseline
    return build_worker_job(
        command="evaluate",
        owner=job,
        store=store_for(model, settings),
        hardware=job.spec.hardware,
        profile=profiles[job.spec.hardware],
        settings=settings,
        related=related,
        resources=job.spec.resources.to_dict() if job.spec.resources else None,
    )


TRAINING_DEADLINE_GRACE_SECONDS = 900
"""The Job's own deadline is the training's plus this: the worker itself stops the code at
`maxRuntimeSeconds` and reports DeadlineExceeded; the Job's deadline is the backstop that also
covers fetching the inputs and storing the model."""


def build_training_job(
    job: TrainingJob,
    plan: dict[str, Any],
    fields: TrainingFields,
    model: Model,
    profiles: dict[str, HardwareProfile],
    settings: Settings,
) -> dict[str, Any]:
    """The Job that trains on the resource pool's nodes: the worker wraps the algorithm's
    command (inputs checked first, metrics followed, the model imported as a version)."""
    hardware = fields.hardware or "cpu"
    profile = profiles[hardware]
    images = dict(plan.get("images") or {})
    image = fields.code.image if fields.code else images.get(hardware)
    if image:
        profile = profile.model_copy(update={"image": image})
    manifest = build_worker_job(
        command="train",
        owner=job,
        store=store_for(model, settings),
        hardware=hardware,
        profile=profile,
        settings=settings,
        resources=fields.resources.to_dict() if fields.resources else None,
    )
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["env"].insert(1, {"name": "MODELYARD_TRAINING_PLAN", "value": json.dumps(plan, separators=(",", ":"), sort_keys=True)})
    spec = manifest["spec"]
    if fields.max_runtime_seconds:
        spec["activeDeadlineSeconds"] = fields.max_runtime_seconds + TRAINING_DEADLINE_GRACE_SECONDS
    # Suspending deletes the pods and resuming creates new ones (the Job controller's own
    # suspend); a resumed worker starts from the checkpoints it stored.
    spec["suspend"] = job.spec.suspend
    return manifest
