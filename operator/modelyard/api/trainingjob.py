"""TrainingTemplate and TrainingJob: a saved set of job parameters, and one training run that
registers its model as a ModelVersion.

A TrainingJob names an algorithm (or custom code), its inputs, hyperparameters, hardware and
output, inline or through a TrainingTemplate plus the overrides the template allows. Its
hyperparameters are checked against the algorithm's typed parameters before anything runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from modelyard.api.algorithm import SCALAR_RULE, CatalogStatus, ParameterName
from modelyard.api.base import ApiModel
from modelyard.api.common import (
    API_VERSION,
    Hardware,
    LocalObjectReference,
    NameText,
    ObjectName,
    ResourceRequirements,
    SemanticVersion,
    Sha256,
    ShortText,
    SourceUri,
    WorkStatus,
)
from modelyard.api.modelversion import ImageRef
from modelyard.api.resource import AGE, MESSAGE, REASON, KindInfo, PrinterColumn, Resource
from modelyard.api.rules import RULE_ERROR, Rule

def _scalars(values: dict[str, Any]) -> dict[str, Any]:
    # Not a CEL rule: the API server cannot type-check values of a schemaless map in CEL, so
    # a list or object value is refused here (admission in local mode, a Stalled condition on
    # a cluster).
    for key, value in values.items():
        if not SCALAR_RULE.check(value):
            raise PydanticCustomError(RULE_ERROR, f"{key}: hyperparameter values must be strings, numbers or booleans")
    return values


Hyperparameters = Annotated[
    dict[str, Any],
    AfterValidator(_scalars),
    WithJsonSchema({"type": "object", "maxProperties": 64, "x-kubernetes-preserve-unknown-fields": True}),
]
"""Parameter name -> value, e.g. `{epochs: 20, learningRate: 0.01, optimizer: adam}`."""


class AlgorithmRef(ApiModel):
    """The algorithm to train with."""

    kind: Literal["ClusterAlgorithm", "Algorithm"] = "ClusterAlgorithm"
    """A preset (ClusterAlgorithm) or one in this namespace (Algorithm)."""
    name: ObjectName
    """Its name, e.g. `tabular-mlp`."""


class CodeSpec(ApiModel):
    """Custom training code instead of an algorithm: no typed parameters, no preset output."""

    image: ImageRef
    """Image with the code and the Modelyard worker."""
    command: Annotated[list[Annotated[str, Field(max_length=1024)]], Field(min_length=1, max_length=64)]
    """The training program (reads `$MODELYARD_TRAIN_CONFIG`)."""
    output_format: Literal["onnx", "torchscript", "pytorch-exportedprogram", "safetensors"] = "onnx"
    """Format of the model it writes to the output folder."""


_BY_NAME = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}


class TrainingInput(ApiModel):
    """One dataset the job reads; its digest is recorded with the trained version."""

    name: ParameterName
    """The algorithm's input name, e.g. `train`."""
    uri: SourceUri
    """The file (csv, npz, jsonl) or archive/folder (imagefolder)."""
    sha256: Sha256 | None = None
    """Expected sha256 of the file; the job fails before training when it differs."""
    format: Literal["csv", "npz", "imagefolder", "jsonl", "text"] | None = None
    """Its format; the first one the algorithm accepts when unset."""


class TrainingOutput(ApiModel):
    """Where the trained model is registered."""

    model_ref: LocalObjectReference
    """The Model that gets the new version."""
    version: SemanticVersion | None = None
    """Version to register; the next minor version of the Model when unset."""
    name: ObjectName | None = None
    """Name of the ModelVersion to register; the TrainingJob's name when unset."""


class TensorBoardSpec(ApiModel):
    """TensorBoard over the job's event files, with the store's credentials."""

    enabled: bool = False
    """Run TensorBoard for this job."""
    ttl_seconds: Annotated[int, Field(ge=60, le=604800)] = 3600
    """How long it runs after the job finished."""


Overridable = Literal["inputs", "hyperparameters", "hardware", "resources", "maxRuntimeSeconds", "output", "tensorboard"]
OVERRIDABLE: tuple[str, ...] = Overridable.__args__  # type: ignore[attr-defined]


class TrainingFields(ApiModel):
    """What a template and a job both may set."""

    rules = (
        Rule(
            cel="!(has(self.algorithmRef) && has(self.code))",
            message="set algorithmRef or code, not both",
            check=lambda s: s.algorithm_ref is None or s.code is None,
        ),
    )

    algorithm_ref: AlgorithmRef | None = None
    """The algorithm (preset or own)."""
    code: CodeSpec | None = None
    """Custom code instead of an algorithm."""
    inputs: Annotated[list[TrainingInput], Field(max_length=16, json_schema_extra=_BY_NAME)] = []
    """Datasets by the algorithm's input names."""
    hyperparameters: Hyperparameters = {}
    """Values of the algorithm's parameters (checked against their types, ranges and enums)."""
    hardware: Hardware | None = None
    """The resource pool: cpu, gpu, arm or ascend (cpu when unset)."""
    resources: ResourceRequirements | None = None
    """Worker resources, overriding the hardware profile's defaults."""
    max_runtime_seconds: Annotated[int, Field(ge=1, le=2592000)] | None = None
    """Training stops, and the job fails with DeadlineExceeded, after this long."""
    output: TrainingOutput | None = None
    """Where the trained model is registered."""
    tensorboard: TensorBoardSpec | None = None
    """TensorBoard for the job."""


class TrainingTemplateSpec(TrainingFields):
    """A saved, named set of job parameters."""

    allow_overrides: Annotated[
        list[Overridable], Field(max_length=8, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = list(OVERRIDABLE)
    """Fields a job may set over the template's (every one but the algorithm when unset)."""
    description: Annotated[str, Field(max_length=4096)] | None = None
    """What the template is for."""


class TrainingTemplate(Resource):
    """A saved set of TrainingJob parameters, applied to new jobs by `templateRef`."""

    info = KindInfo(
        kind="TrainingTemplate",
        plural="trainingtemplates",
        short_names=("ttpl",),
        columns=(
            PrinterColumn("Algorithm", ".spec.algorithmRef.name"),
            PrinterColumn("Hardware", ".spec.hardware"),
            AGE,
        ),
    )

    api_version: Literal[API_VERSION] = API_VERSION
    kind: Literal["TrainingTemplate"] = "TrainingTemplate"
    spec: TrainingTemplateSpec
    status: CatalogStatus | None = None


_FROZEN = ("templateRef", *(f.alias or n for n, f in TrainingFields.model_fields.items()), "basedOn")
"""Every spec field but `suspend` (a field added to TrainingFields is frozen too)."""


def _frozen(pair: tuple[dict[str, Any], dict[str, Any]]) -> bool:
    old, new = pair
    return all(old.get(k) == new.get(k) for k in _FROZEN)


class TrainingJobSpec(TrainingFields):
    """Desired state of a TrainingJob. Immutable once created, except `suspend`."""

    immutable = Rule(
        cel=" && ".join(f"has(self.{k}) == has(oldSelf.{k}) && (!has(self.{k}) || self.{k} == oldSelf.{k})" for k in _FROZEN),
        message="spec is immutable except suspend: create a new TrainingJob instead",
        check=_frozen,
    )

    template_ref: LocalObjectReference | None = None
    """A TrainingTemplate whose parameters this job starts from."""
    based_on: LocalObjectReference | None = None
    """The TrainingJob this one follows: training versions form a chain, and an algorithm that
    writes checkpoints starts from the previous model."""
    suspend: bool = False
    """`true` stops a running job (its pods go away); `false` again resumes it."""


class MetricValue(ApiModel):
    """One metric's values."""

    model_config = {"strict": False}

    latest: float | None = None
    """The last value reported."""
    best: float | None = None
    """The best value (by the metric's goal)."""
    best_step: int | None = None
    """The step of the best value."""
    final: float | None = None
    """The value at the end of a finished run."""


class TrainingProgress(ApiModel):
    """How far a running job is."""

    model_config = {"strict": False}

    step: int | None = None
    """Steps (or epochs) done."""
    total: int | None = None
    """Steps in the run."""
    percent: float | None = None
    """step / total, in percent."""
    eta_seconds: float | None = None
    """Estimated seconds left."""
    message: Annotated[str, Field(max_length=256)] | None = None
    """The current stage, e.g. `fetching inputs`, `training`, `storing the model`."""


class ResolvedInput(ApiModel):
    """An input as used, with its digest."""

    model_config = {"strict": False}

    name: ShortText
    """The input's name."""
    uri: Annotated[str, Field(max_length=2048)]
    """Where it was read from."""
    sha256: ShortText | None = None
    """Its sha256 as read (a local folder has none)."""
    format: ShortText | None = None
    """The format it was read as."""


class TrainingFailure(ApiModel):
    """Why the job failed, in terms a user acts on."""

    model_config = {"strict": False}

    reason: ShortText
    """e.g. `InvalidHyperparameter`, `DigestMismatch`, `Diverged`, `OOMKilled`, `DeadlineExceeded`."""
    message: Annotated[str, Field(max_length=4096)] = ""
    """What happened."""
    exit_code: int | None = None
    """The training container's exit code, when it ran."""


class TensorBoardStatus(ApiModel):
    """The job's TensorBoard server."""

    model_config = {"strict": False}  # a status as stored: timestamps are strings

    phase: Literal["Running", "Expired"]
    """Running (its Deployment and Service exist) or Expired (removed after ttlSeconds)."""
    url: Annotated[str, Field(max_length=512)] | None = None
    """In-cluster URL of its Service (`kubectl port-forward svc/NAME 6006:80` to open it)."""
    service: NameText | None = None
    """Its Service (and Deployment)."""
    expires_at: datetime | None = None
    """When it is removed: ttlSeconds after the job finished."""


class TrainingJobStatus(WorkStatus):
    """Observed state of a TrainingJob."""

    phase: Literal["Pending", "Running", "Suspended", "Succeeded", "Failed"] | None = None
    """Pending (checking or waiting for its inputs), Running, Suspended, Succeeded or Failed."""
    progress: TrainingProgress | None = None  # type: ignore[assignment]
    """How far training is."""
    algorithm: Annotated[dict[str, str], Field(max_length=8)] = {}
    """The algorithm used: kind, name, digest (sha256 of its spec)."""
    hyperparameters: Annotated[dict[str, Any], Field(max_length=64)] = {}
    """Every parameter's value as used (defaults filled in, typed)."""
    inputs: Annotated[list[ResolvedInput], Field(max_length=16)] = []
    """Inputs with their digests."""
    training_version: Annotated[int, Field(ge=1)] | None = None
    """Position in the `basedOn` chain (1 for a job based on none)."""
    metrics: Annotated[dict[str, MetricValue], Field(max_length=32)] = {}
    """Each metric's latest, best and final value."""
    primary_metric: ShortText | None = None
    """The algorithm's primary metric."""
    curves_uri: Annotated[str, Field(max_length=2048)] | None = None
    """The stored metric curves (metrics.jsonl) in the store."""
    report_uri: Annotated[str, Field(max_length=2048)] | None = None
    """Folder of the training report (report.html, curves.svg)."""
    tensorboard_logdir: Annotated[str, Field(max_length=2048)] | None = None
    """The stored TensorBoard event files."""
    tensorboard: TensorBoardStatus | None = None
    """The TensorBoard server the operator runs for the job (spec.tensorboard.enabled)."""
    output_model: NameText | None = None
    """The Model the trained version goes to."""
    output_version: ShortText | None = None
    """The version registered (or to be registered)."""
    model_version: NameText | None = None
    """The ModelVersion this job registers on success (named when the job starts)."""
    failure: TrainingFailure | None = None
    """Why the job failed."""


class TrainingJob(Resource):
    """One training run: typed hyperparameters, checked inputs, metric curves, and the trained
    model registered as a Ready, digest-pinned ModelVersion with lineage."""

    info = KindInfo(
        kind="TrainingJob",
        plural="trainingjobs",
        short_names=("trj",),
        columns=(
            PrinterColumn("Algorithm", ".status.algorithm.name"),
            PrinterColumn("Phase", ".status.phase"),
            REASON,
            PrinterColumn("Progress", ".status.progress.percent", "number"),
            PrinterColumn("Version", ".status.modelVersion"),
            PrinterColumn("Based-On", ".spec.basedOn.name", priority=1),
            MESSAGE,
            AGE,
        ),
    )

    api_version: Literal[API_VERSION] = API_VERSION
    kind: Literal["TrainingJob"] = "TrainingJob"
    spec: TrainingJobSpec
    status: TrainingJobStatus | None = None
