"""The v1alpha1 API: the single source of truth for manifests, CRDs, the operator and local mode."""

from modelyard.api.algorithm import Algorithm, AlgorithmSpec, ClusterAlgorithm
from modelyard.api.common import API_VERSION, GROUP, VERSION
from modelyard.api.conversionjob import ConversionJob, ConversionJobSpec, ConversionJobStatus
from modelyard.api.evaluationjob import EvaluationJob, EvaluationJobSpec, EvaluationJobStatus
from modelyard.api.model import Model, ModelSpec, ModelStatus
from modelyard.api.modelversion import ModelVersion, ModelVersionSpec, ModelVersionStatus
from modelyard.api.resource import Resource
from modelyard.api.trainingjob import TrainingJob, TrainingJobSpec, TrainingJobStatus, TrainingTemplate

KINDS: dict[str, type[Resource]] = {
    cls.info.kind: cls
    for cls in (Model, ClusterAlgorithm, Algorithm, TrainingTemplate, TrainingJob, ModelVersion, ConversionJob, EvaluationJob)
}
"""Every kind by its `kind` name, in dependency order."""

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
    "ModelVersion",
    "ModelVersionSpec",
    "ModelVersionStatus",
    "Resource",
]
