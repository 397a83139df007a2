"""The v1alpha1 API: the single source of truth for manifests, CRDs, the operator and local mode.

The kinds load on first use (`from modelyard.api import KINDS`): a process that needs only
the group's name, or one model module, does not pay for all of them (0.1 s on two cores)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelyard.api.group import API_VERSION, GROUP, VERSION

if TYPE_CHECKING:
    from modelyard.api.resource import Resource

_HOMES = {
    "Algorithm": "algorithm", "AlgorithmSpec": "algorithm", "ClusterAlgorithm": "algorithm",
    "ConversionJob": "conversionjob", "ConversionJobSpec": "conversionjob", "ConversionJobStatus": "conversionjob",
    "EvaluationJob": "evaluationjob", "EvaluationJobSpec": "evaluationjob", "EvaluationJobStatus": "evaluationjob",
    "Model": "model", "ModelSpec": "model", "ModelStatus": "model",
    "ModelDeployment": "modeldeployment", "ModelDeploymentSpec": "modeldeployment",
    "ModelDeploymentStatus": "modeldeployment",
    "ModelVersion": "modelversion", "ModelVersionSpec": "modelversion", "ModelVersionStatus": "modelversion",
    "Resource": "resource",
    "TrainingJob": "trainingjob", "TrainingJobSpec": "trainingjob", "TrainingJobStatus": "trainingjob",
    "TrainingTemplate": "trainingjob",
}
_ORDER = ("Model", "ClusterAlgorithm", "Algorithm", "TrainingTemplate", "TrainingJob", "ModelVersion", "ConversionJob",
          "EvaluationJob", "ModelDeployment")
"""The kinds in dependency order (KINDS keeps it)."""


def __getattr__(name: str) -> Any:
    if name == "KINDS":
        kinds: dict[str, type[Resource]] = {}
        for kind in _ORDER:
            cls = __getattr__(kind)
            kinds[cls.info.kind] = cls
        globals()["KINDS"] = kinds
        return kinds
    if name in _HOMES:
        value = getattr(importlib.import_module(f"modelyard.api.{_HOMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "API_VERSION",
    "Algorithm",
    "AlgorithmSpec",
    "ClusterAlgorithm",
    "TrainingJob",
    "TrainingJobSpec",
    "TrainingJobStatus",
    "TrainingTemplate",
    "GROUP",
    "KINDS",
    "VERSION",
    "ConversionJob",
    "ConversionJobSpec",
    "ConversionJobStatus",
    "EvaluationJob",
    "EvaluationJobSpec",
    "EvaluationJobStatus",
    "Model",
    "ModelSpec",
    "ModelStatus",
    "ModelDeployment",
    "ModelDeploymentSpec",
    "ModelDeploymentStatus",
    "ModelVersion",
    "ModelVersionSpec",
    "ModelVersionStatus",
    "Resource",
]
