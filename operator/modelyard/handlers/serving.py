"""What a ModelDeployment's decision needs to see of its servers: our Deployments (ours by
owner uid, never another object's of the same name), their ready replicas' addresses, why one
will not become ready, the Service's selector and the parity Jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelyard.api.modeldeployment import ModelDeployment
from modelyard.core.jobstate import JobObservation
from modelyard.core.kserving import KServeObserved, isvc_variant, kserve_parity_name_for
from modelyard.core.rollout import Observed, Server
from modelyard.workloads.naming import label_value
from modelyard.workloads.serving import (DEPLOYMENT_LABEL, GRPC_PORT, HTTP_PORT, SERVER_LABEL, VARIANT_LABEL, grpc_address, parity_job_name,
                                         service_name, service_url)

if TYPE_CHECKING:
    from modelyard.handlers.kube import Kube

GRPC_PORT_ANNOTATION = "modelyard.dev/grpc-port"
"""A pod's gRPC port where it is not the standard one (local mode's servers share loopback)."""
HTTP_PORT_ANNOTATION = "modelyard.dev/http-port"
HTTP_URL_ANNOTATION = "modelyard.dev/url"
"""Local mode: where a server's REST endpoint listens."""
CRASHES_BEFORE_FAILURE = 3
"""Restarts after which a crash-looping server is taken as one that will not become ready."""


def _owned(body: dict[str, Any], uid: str | None) -> bool:
    return any(o.get("uid") == uid for o in (body.get("metadata") or {}).get("ownerReferences") or [])


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _metrics(pod: dict[str, Any]) -> str | None:
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        return None
    port = ((pod.get("metadata") or {}).get("annotations") or {}).get(HTTP_PORT_ANNOTATION) or HTTP_PORT
    return f"http://{ip}:{port}/metrics"


def _endpoint(pod: dict[str, Any]) -> str | None:
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        return None
    port = ((pod.get("metadata") or {}).get("annotations") or {}).get(GRPC_PORT_ANNOTATION) or GRPC_PORT
    return f"grpc://{ip}:{port}"


def crash_loop(pods: list[dict[str, Any]]) -> str | None:
    """Why a server keeps exiting, once it restarted often enough to say it will not come up."""
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if int(status.get("restartCount") or 0) < CRASHES_BEFORE_FAILURE:
                continue
            last = ((status.get("lastState") or {}).get("terminated")) or {}
            said = (last.get("message") or "").strip().splitlines()
            detail = said[-1] if said else f"exit code {last.get('exitCode')}"
            return f"the server exits ({status.get('restartCount')} restarts): {detail}"
    return None


def _deadline(body: dict[str, Any]) -> str | None:
    for condition in (body.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return condition.get("message") or "progress deadline exceeded"
    return None


def server_state(body: dict[str, Any], pods: list[dict[str, Any]]) -> Server:
    status = body.get("status") or {}
    ready_pods = [p for p in pods if _ready(p) and not (p.get("metadata") or {}).get("deletionTimestamp")]
    endpoints = tuple(sorted(e for e in (_endpoint(p) for p in ready_pods) if e))
    metrics = tuple(sorted(m for m in (_metrics(p) for p in ready_pods) if m))
    return Server(
        name=body["metadata"]["name"],
        uid=body["metadata"].get("uid") or "",
        replicas=int((body.get("spec") or {}).get("replicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        failure=_deadline(body) or crash_loop(pods),
        endpoints=endpoints,
        metrics=metrics,
    )


def observe_servers(kube: Kube, dep: ModelDeployment, observe_job: Any) -> Observed:
    """`observe_job(name)` reads one of our parity Jobs (owner-checked)."""
    ns, uid = dep.namespace, dep.metadata.uid
    servers: dict[str, Server] = {}
    parity: dict[str, JobObservation] = {}
    url = None
    for body in kube.list_deployments(ns, {DEPLOYMENT_LABEL: label_value(dep.name)}):
        if not _owned(body, uid):
            continue
        pods = kube.pods(ns, {DEPLOYMENT_LABEL: label_value(dep.name), SERVER_LABEL: body["metadata"]["name"]})
        server = server_state(body, pods)
        servers[server.name] = server
        for round_ in ("", "analysis"):
            name = parity_job_name(dep, _variant_of(dep, body), server.uid, round_)
            parity[name] = observe_job(name)
        local = (body["metadata"].get("annotations") or {}).get(HTTP_URL_ANNOTATION)
        served = dep.status.serving.server if dep.status and dep.status.serving else None
        if local and served == server.name:
            url = local
    service = kube.get_builtin("Service", ns, service_name(dep))
    selector = ((service or {}).get("spec") or {}).get("selector") if service and _owned(service, uid) else None
    return Observed(servers=servers, service=selector, parity=parity,
                    url=url or service_url(dep), grpc=None if url else grpc_address(dep))


def observe_kserve(kube: Kube, dep: ModelDeployment, observe_job: Any, installed: bool) -> KServeObserved:
    """Our InferenceService (None when absent or another object's) and its parity Jobs."""
    if not installed:
        return KServeObserved(installed=False)
    body = kube.get_builtin("InferenceService", dep.namespace, service_name(dep))
    if body is not None and not _owned(body, dep.metadata.uid):
        body = None
    parity: dict[str, JobObservation] = {}
    variant = isvc_variant(body) if body else None
    if body is not None and variant:
        name = kserve_parity_name_for(dep, variant, body)
        parity[name] = observe_job(name)
    return KServeObserved(installed=True, service=body, parity=parity)


def _variant_of(dep: ModelDeployment, body: dict[str, Any]) -> str:
    """The full variant name (the label may be shortened): the server's served object."""
    for container in ((body.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []:
        for env in container.get("env") or []:
            if env.get("name") == "MODELYARD_OBJECT":
                import json

                return json.loads(env["value"])["metadata"]["name"]
    return (body["metadata"].get("labels") or {}).get(VARIANT_LABEL, "")
