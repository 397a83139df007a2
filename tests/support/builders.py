"""Builders of valid objects for tests: start from these and change one thing."""

from __future__ import annotations

import copy
from typing import Any

from modelyard.api import API_VERSION


def _obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}


def model(name: str = "classifier", **spec: Any) -> dict[str, Any]:
    return _obj("Model", name, {"task": "image-classification", **spec})


def model_version(name: str = "classifier-1-0-0", **spec: Any) -> dict[str, Any]:
    base = {
        "modelRef": {"name": "classifier"},
        "version": "1.0.0",
        "format": "onnx",
        "source": {"uri": "s3://models/classifier/model.onnx"},
    }
    return _obj("ModelVersion", name, {**base, **spec})


def conversion_job(name: str = "classifier-onnx", **spec: Any) -> dict[str, Any]:
    base = {"sourceRef": {"name": "classifier-1-0-0"}, "target": {"format": "onnx"}}
    return _obj("ConversionJob", name, {**base, **spec})


def evaluation_job(name: str = "classifier-eval", **spec: Any) -> dict[str, Any]:
    base = {
        "modelVersionRef": {"name": "classifier-1-0-0"},
        "dataset": {"uri": "s3://datasets/holdout.npz", "format": "npz"},
    }
    return _obj("EvaluationJob", name, {**base, **spec})


def algorithm(name: str = "tabular-mlp", kind: str = "ClusterAlgorithm", **spec: Any) -> dict[str, Any]:
    base = {
        "command": ["python", "-m", "modelyard.worker.train.presets.tabular"],
        "inputs": [{"name": "train", "formats": ["csv", "npz"]},
                   {"name": "validation", "formats": ["csv", "npz"], "required": False}],
        "parameters": [
            {"name": "epochs", "type": "int", "default": 10, "min": 1, "max": 1000},
            {"name": "learningRate", "type": "float", "default": 0.01, "min": 0, "max": 1},
            {"name": "optimizer", "type": "enum", "allowed": ["adam", "sgd"], "default": "adam"},
            {"name": "shuffle", "type": "bool", "default": True},
            {"name": "labelColumn", "type": "string", "default": "label"},
        ],
        "output": {"format": "safetensors", "template": "tabular-mlp"},
        "metrics": [{"name": "loss"}, {"name": "valAccuracy", "goal": "maximize", "primary": True}],
        "hardware": ["cpu", "gpu"],
    }
    return _obj(kind, name, {**base, **spec})


def training_job(name: str = "digits-train", **spec: Any) -> dict[str, Any]:
    base = {
        "algorithmRef": {"name": "tabular-mlp"},
        "inputs": [{"name": "train", "uri": "s3://datasets/digits.npz"}],
        "hyperparameters": {"epochs": 20},
        "output": {"modelRef": {"name": "classifier"}},
    }
    return _obj("TrainingJob", name, {**base, **spec})


def training_template(name: str = "digits-template", **spec: Any) -> dict[str, Any]:
    base = {
        "algorithmRef": {"name": "tabular-mlp"},
        "inputs": [{"name": "train", "uri": "s3://datasets/digits.npz"}],
        "hyperparameters": {"epochs": 20, "learningRate": 0.05},
        "hardware": "cpu",
        "output": {"modelRef": {"name": "classifier"}},
    }
    return _obj("TrainingTemplate", name, {**base, **spec})


def with_spec(obj: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A copy of `obj` with spec fields replaced."""
    changed = copy.deepcopy(obj)
    changed["spec"].update(spec)
    return changed


def job_status(*, complete: bool = False, failed: str | None = None, active: int = 0,
               start: str | None = "2026-11-22T10:00:00Z") -> dict[str, Any]:
    """A batch/v1 Job with the given status."""
    conditions = []
    if complete:
        conditions.append({"type": "Complete", "status": "True"})
    if failed:
        conditions.append({"type": "Failed", "status": "True", "reason": failed, "message": f"Job has reached {failed}",
                           "lastTransitionTime": "2026-11-22T10:05:00Z"})
    status: dict[str, Any] = {"conditions": conditions, "active": active}
    if start:
        status["startTime"] = start
    if complete:
        status["completionTime"] = "2026-11-22T10:05:00Z"
        status["succeeded"] = 1
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "job"}, "status": status}


def worker_pod(message: str | None = None, exit_code: int = 0, init: dict[str, Any] | None = None) -> dict[str, Any]:
    """A worker pod; `message` is the termination message when the worker has terminated."""
    container: dict[str, Any] = {"name": "worker", "state": {"running": {}}}
    if message is not None:
        container["state"] = {"terminated": {"exitCode": exit_code, "message": message, "reason": "Completed" if exit_code == 0 else "Error"}}
    status: dict[str, Any] = {"containerStatuses": [container]}
    if init is not None:
        status["initContainerStatuses"] = [init]
    return {"metadata": {"name": "pod", "creationTimestamp": "2026-11-22T10:00:01Z"}, "status": status}


def import_job(tmp_path: Any, store: Any, **changes: Any) -> Any:
    """An ImportJob of `model_version(**changes)` into `store`, with its work folder under tmp_path."""
    from modelyard.api.modelversion import ModelVersionSpec
    from modelyard.worker.importer import ImportJob

    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    spec = ModelVersionSpec.model_validate(model_version(**changes)["spec"])
    return ImportJob(namespace="default", name="classifier-1-0-0", spec=spec, store=store, workdir=work,
                     image_root=tmp_path / "image")


def model_deployment(name: str = "classifier", **spec: Any) -> dict[str, Any]:
    base = {"modelRef": {"name": "classifier"}, "versionRef": {"name": "classifier-1-0-0"}}
    obj = _obj("ModelDeployment", name, {**base, **spec})
    obj["metadata"].update(uid=f"{name}-uid", generation=1, namespace="default")
    return obj


def served_version(name: str, *, format: str = "onnx", version: str = "1.0.0", parent: str | None = None,
                   hardware: str | None = None, gates: bool | None = True, parity: bool = True,
                   phase: str = "Ready") -> dict[str, Any]:
    """A Ready ModelVersion as a deployment sees it: converted from `parent` when given, with
    its Evaluated verdict (`gates`) and recorded parity samples."""
    file_format = "onnx" if format.startswith("onnx") else format
    obj = model_version(name, version=version, format=file_format)
    if parent:
        obj["spec"]["version"] = f"{version}+{format}.{hardware}"
        obj["spec"]["source"] = {"uri": f"s3://models/default/classifier/{version}+{format}/"}
        obj["spec"]["lineage"] = {"parentVersion": parent, "conversionJob": f"cvj-{name}"}
        obj["metadata"]["annotations"] = {"modelyard.dev/converted-by": f"cvj-{name}"}
    files = [{"path": "model.onnx", "sizeBytes": 9, "sha256": "a" * 64}]
    if parity:
        files.append({"path": "parity.npz", "sizeBytes": 9, "sha256": "b" * 64})
    status: dict[str, Any] = {"phase": phase, "artifact": {"uri": f"s3://models/{name}/", "digest": "sha256:" + name[:1] * 64,
                                                         "sizeBytes": 18, "files": files}}
    if hardware:
        status["hardware"] = hardware
    if gates is not None:
        status["conditions"] = [{"type": "Evaluated", "status": "True" if gates else "False",
                                 "reason": "GatesPassed" if gates else "GatesFailed", "message": ""}]
    obj["status"] = status
    return obj
