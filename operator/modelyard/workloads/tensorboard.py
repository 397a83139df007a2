"""The TensorBoard server of a TrainingJob: a Deployment of the worker image running
`python -m modelyard.worker.tensorboard` over the job's stored event files (the store's
credentials from the same Secret as its training Job, as environment, never arguments), and a
ClusterIP Service in front of it. Both are owned by the TrainingJob."""

from __future__ import annotations

from typing import Any

from modelyard.api.model import Model
from modelyard.api.trainingjob import TrainingJob
from modelyard.config import Settings
from modelyard.storage.layout import training_prefix
from modelyard.workloads.jobs import build_worker_job, store_for
from modelyard.workloads.naming import job_name
from modelyard.workloads.profiles import HardwareProfile

PORT = 6006
SERVICE_PORT = 80


def tensorboard_name(job: TrainingJob) -> str:
    return job_name("tensorboard", job.name)


def tensorboard_url(job: TrainingJob) -> str:
    return f"http://{tensorboard_name(job)}.{job.namespace}.svc:{SERVICE_PORT}/"


def build_tensorboard(job: TrainingJob, model: Model, profiles: dict[str, HardwareProfile],
                      settings: Settings) -> list[dict[str, Any]]:
    """[Deployment, Service], named `tensorboard-<job>`; it runs on the cpu profile's nodes."""
    name = tensorboard_name(job)
    worker = build_worker_job(command="tensorboard", owner=job, store=store_for(model, settings), hardware="cpu",
                              profile=profiles["cpu"], settings=settings,
                              resources={"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}})
    meta = worker["metadata"]
    labels = {**meta["labels"], "app.kubernetes.io/name": "modelyard-tensorboard"}
    pod = worker["spec"]["template"]["spec"]
    pod["restartPolicy"] = "Always"
    container = pod["containers"][0]
    container["command"] = ["python", "-m", "modelyard.worker.tensorboard"]
    container["env"] = [e for e in container["env"] if e["name"] not in ("MODELYARD_OBJECT", "MODELYARD_TERMINATION_LOG")]
    container["env"].append({"name": "MODELYARD_TENSORBOARD_PREFIX",
                             "value": training_prefix(job.namespace, model.name, job.name) + "/tensorboard"})
    container["ports"] = [{"name": "http", "containerPort": PORT}]
    container["readinessProbe"] = {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10}
    for key in ("terminationMessagePath", "terminationMessagePolicy"):
        container.pop(key, None)
    selector = {"modelyard.dev/tensorboard": meta["labels"]["modelyard.dev/name"]}
    metadata = {"name": name, "namespace": job.namespace, "labels": {**labels, **selector},
                "ownerReferences": meta["ownerReferences"]}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
        "spec": {"replicas": 1, "selector": {"matchLabels": selector},
                 "template": {"metadata": {"labels": {**labels, **selector}}, "spec": pod}},
    }
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": dict(metadata),
        "spec": {"type": "ClusterIP", "selector": selector,
                 "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http"}]},
    }
    return [deployment, service]
