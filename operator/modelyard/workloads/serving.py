"""The built-in backend of a ModelDeployment: one Deployment per served variant running
`python -m modelyard.worker serve` (the worker image, the hardware profile's nodes), one Service
whose selector decides which variants take traffic, and the parity Job that replays a variant's
recorded samples against its replicas. All owned by the ModelDeployment.

A variant's Deployment is never edited into another variant: a new one starts beside it, and
the old one is deleted only once the new one passed parity and took the traffic."""

from __future__ import annotations

import math
from typing import Any

from modelyard.api.model import Model
from modelyard.api.modeldeployment import ModelDeployment
from modelyard.api.modelversion import ModelVersion
from modelyard.config import Settings
from modelyard.workloads.jobs import build_worker_job, store_for
from modelyard.workloads.naming import job_name, label_value
from modelyard.workloads.profiles import HardwareProfile

HTTP_PORT = 8080
GRPC_PORT = 8081
DEPLOYMENT_LABEL = "modelyard.dev/deployment"
VARIANT_LABEL = "modelyard.dev/variant"
SERVER_LABEL = "modelyard.dev/server"
"""The Deployment a server pod belongs to: the Service selects one (or, for a canary, all)."""
SERVE_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "4Gi"}}
"""A server's default resources (the profile's device resources are added); spec.resources
overrides them."""


def server_name(deployment: ModelDeployment, variant: str, key: str) -> str:
    """`<deployment>-<variant>-<key>`, length-safe: one Deployment per variant and pod template
    (`key` hashes it), so that a changed template (env, resources, profile) is a new rollout,
    checked live before it takes the traffic, with the previous one kept to roll back to."""
    return job_name(deployment.name, f"{variant}-{key}")


def template_key(template: dict[str, Any]) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:8]


def service_name(deployment: ModelDeployment) -> str:
    return job_name("serve", deployment.name)


def served_name(deployment: ModelDeployment) -> str:
    """The model's name on the endpoint: the Model's, the same for every version."""
    return deployment.spec.model_ref.name


def service_url(deployment: ModelDeployment) -> str:
    return f"http://{service_name(deployment)}.{deployment.namespace}.svc:{HTTP_PORT}/v2/models/{served_name(deployment)}"


def grpc_address(deployment: ModelDeployment) -> str:
    return f"{service_name(deployment)}.{deployment.namespace}.svc:{GRPC_PORT}"


def replica_count(deployment: ModelDeployment) -> int:
    spec = deployment.spec
    if spec.autoscaling is not None:
        return spec.autoscaling.min_replicas
    return spec.replicas or 1


def canary_split(total: int, percent: int) -> tuple[int, int]:
    """(stable, canary) replicas for a canary taking `percent` of `total`: the canary gets at
    least one, the stable version keeps at least one."""
    canary = max(1, math.ceil(total * percent / 100))
    return max(1, total - canary) if percent < 100 else 0, canary


def selector(deployment: ModelDeployment, server: str | None) -> dict[str, str]:
    """The pods of one server Deployment, or (None) of all the deployment's (a canary)."""
    chosen = {DEPLOYMENT_LABEL: label_value(deployment.name)}
    if server is not None:
        chosen[SERVER_LABEL] = server
    return chosen


def _owned_worker(deployment: ModelDeployment, variant: ModelVersion, model: Model, command: str,
                  profile: HardwareProfile, settings: Settings, resources: dict[str, Any] | None) -> dict[str, Any]:
    job = build_worker_job(command=command, owner=deployment, store=store_for(model, settings),
                           hardware=deployment.spec.hardware, profile=profile, settings=settings, resources=resources)
    container = job["spec"]["template"]["spec"]["containers"][0]
    # The served (or checked) object is the variant, not the ModelDeployment.
    container["env"][0] = {"name": "MODELYARD_OBJECT", "value": _version_json(variant)}
    return job


def _version_json(version: ModelVersion) -> str:
    import json

    body = version.to_dict()
    body["metadata"] = {k: v for k, v in body["metadata"].items() if k in ("name", "namespace", "labels")}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def build_server(deployment: ModelDeployment, variant: ModelVersion, model: Model, profile: HardwareProfile,
                 settings: Settings, replicas: int) -> dict[str, Any]:
    """The Deployment serving `variant`: probes on the server's health endpoints, a rolling
    update that never takes a ready replica away first, the profile's node selection."""
    spec = deployment.spec
    resources = spec.resources.to_dict() if spec.resources else SERVE_RESOURCES
    job = _owned_worker(deployment, variant, model, "serve", profile, settings, resources)
    pod = job["spec"]["template"]["spec"]
    pod["restartPolicy"] = "Always"
    container = pod["containers"][0]
    container["name"] = "server"
    container["command"] = ["python", "-m", "modelyard.worker", "serve", "--model-name", served_name(deployment),
                            "--http-port", str(HTTP_PORT), "--grpc-port", str(GRPC_PORT)]
    container["env"] = [e for e in container["env"] if e["name"] != "MODELYARD_TERMINATION_LOG"]
    container["env"] += [{"name": e.name, "value": e.value} for e in spec.env]
    container["ports"] = [{"name": "http", "containerPort": HTTP_PORT}, {"name": "grpc", "containerPort": GRPC_PORT}]
    container["readinessProbe"] = {"httpGet": {"path": "/v2/health/ready", "port": "http"},
                                   "periodSeconds": 2, "failureThreshold": 3, "timeoutSeconds": 2}
    container["livenessProbe"] = {"httpGet": {"path": "/v2/health/live", "port": "http"},
                                  "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 5}
    # The artifact is downloaded and every digest checked before the server is live: a large
    # model takes minutes, and liveness must not kill it meanwhile.
    container["startupProbe"] = {"httpGet": {"path": "/v2/health/live", "port": "http"},
                                 "periodSeconds": 5, "failureThreshold": 120}
    for key in ("terminationMessagePath", "terminationMessagePolicy"):
        container.pop(key, None)
    key = template_key(pod)
    name = server_name(deployment, variant.name, key)
    chosen = selector(deployment, name)
    labels = {**job["metadata"]["labels"], "app.kubernetes.io/name": "modelyard-server",
              "app.kubernetes.io/component": "server", VARIANT_LABEL: label_value(variant.name), **chosen}
    rollout = spec.rollout
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": deployment.namespace,
                     "labels": labels, "ownerReferences": job["metadata"]["ownerReferences"]},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": chosen},
            "progressDeadlineSeconds": rollout.ready_timeout_seconds if rollout else 600,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def build_service(deployment: ModelDeployment, server: str | None) -> dict[str, Any]:
    """The ClusterIP Service in front of one server Deployment's replicas (None: all of them, a canary)."""
    labels = {"app.kubernetes.io/name": "modelyard-server", "app.kubernetes.io/managed-by": "modelyard",
              DEPLOYMENT_LABEL: label_value(deployment.name)}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service_name(deployment), "namespace": deployment.namespace, "labels": labels,
                     "ownerReferences": [_owner(deployment)]},
        "spec": {"type": "ClusterIP", "selector": selector(deployment, server),
                 "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http"},
                           {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "appProtocol": "grpc"}]},
    }


def build_autoscaler(deployment: ModelDeployment, server: str) -> dict[str, Any] | None:
    auto = deployment.spec.autoscaling
    if auto is None:
        return None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": service_name(deployment), "namespace": deployment.namespace,
                     "ownerReferences": [_owner(deployment)]},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": server},
            "minReplicas": auto.min_replicas,
            "maxReplicas": auto.max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": auto.target_cpu_percent}}}],
        },
    }


def parity_job_name(deployment: ModelDeployment, variant: str, server_uid: str, round_: str = "") -> str:
    """One parity Job per server Deployment (its uid: a variant started again after a rollback
    is checked again, never judged by its predecessor's result) and round (`analysis`)."""
    return job_name("parity", f"{deployment.name}-{variant}-{server_uid[:8]}{'-' + round_ if round_ else ''}")


def build_parity_job(deployment: ModelDeployment, variant: ModelVersion, model: Model, endpoints: list[str],
                     name: str, profile: HardwareProfile, settings: Settings, metrics: list[str] | None = None,
                     max_error_rate: float = 0.01) -> dict[str, Any]:
    """The Job replaying `variant`'s recorded samples against each of `endpoints` (gRPC); with
    `metrics`, the replicas' error rates are judged too (a canary's analysis)."""
    job = _owned_worker(deployment, variant, model, "parity", profile, settings,
                        {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}})
    job["metadata"]["name"] = name
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["command"] = ["python", "-m", "modelyard.worker", "parity", "--model-name", served_name(deployment),
                            *[arg for endpoint in endpoints for arg in ("--endpoint", endpoint)]]
    if metrics:
        container["command"] += [*[arg for url in metrics for arg in ("--metrics", url)],
                                 "--max-error-rate", f"{max_error_rate:g}"]
    # A parity check needs no accelerator: it only sends requests.
    pod = job["spec"]["template"]["spec"]
    for key in ("limits", "requests"):
        for resource in list((container["resources"].get(key) or {})):
            if resource not in ("cpu", "memory"):
                del container["resources"][key][resource]
    pod.pop("tolerations", None)
    pod.pop("runtimeClassName", None)
    pod.pop("nodeSelector", None)
    return job


def _owner(deployment: ModelDeployment) -> dict[str, Any]:
    return {"apiVersion": deployment.api_version, "kind": deployment.kind, "name": deployment.name,
            "uid": deployment.metadata.uid or "", "controller": True, "blockOwnerDeletion": True}
