"""EvaluationJob: measure a ModelVersion on a dataset and decide promotion with gates."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from modelyard.api.base import ApiModel
from modelyard.api.common import (
    API_VERSION,
    EndpointUrl,
    Hardware,
    JobStatus,
    LocalObjectReference,
    ObjectName,
    ResourceRequirements,
    Sha256,
    SourceUri,
)
from modelyard.api.resource import AGE, MESSAGE, REASON, KindInfo, PrinterColumn, Resource
from modelyard.api.rules import Rule, immutable

Metric = Literal[
    "accuracy", "top5", "precision", "recall", "f1", "confusionMatrix", "latency", "throughput"
]
GateMetric = Literal[
    "accuracy",
    "top5",
    "precision",
    "recall",
    "f1",
    "latencyP50Ms",
    "latencyP95Ms",
    "latencyP99Ms",
    "throughput",
    "sizeBytes",
]
GateOp = Literal[">=", ">", "<=", "<"]


class DatasetSpec(ApiModel):
    """The evaluation data, streamed in batches."""

    uri: SourceUri
    """The dataset file (npz, csv) or archive/folder (imagefolder)."""
    format: Literal["npz", "imagefolder", "csv", "text"]
    """`npz`: arrays `x` and `y` (or arrays named like the model's inputs, plus `y`);
    `imagefolder`: one folder per class in a .tar/.tar.gz/.zip or directory; `csv`: tabular
    features with a label column; `text`: a csv or jsonl file with a text column and a label
    column, tokenized by the tokenizer the model's template names (as in training)."""
    sha256: Sha256 | None = None
    """Expected sha256 of the dataset file; the evaluation fails when it differs."""
    label_column: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    """Label column (csv, text) or array (npz); `label` for csv and text, `y` for npz when unset."""
    text_column: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    """Column (csv) or field (jsonl) holding the text of a `text` dataset; `text` when unset."""


class BackendSpec(ApiModel):
    """How the model is run."""

    rules = (
        Rule(
            cel="self.type != 'triton' || (has(self.url) && has(self.modelName))",
            message="backend triton needs url and modelName",
            check=lambda b: b.type != "triton" or (b.url is not None and b.model_name is not None),
        ),
        Rule(
            cel="self.type == 'triton' || (!has(self.url) && !has(self.modelName))",
            message="url and modelName apply only to backend triton",
            check=lambda b: b.type == "triton" or (b.url is None and b.model_name is None),
        ),
    )

    type: Literal["onnxruntime", "torch", "triton"] = "onnxruntime"
    """`onnxruntime` (CUDA execution provider on gpu), `torch` (torch formats) or `triton`: a
    model already served by Triton or KServe, called over the KServe v2 protocol."""
    url: EndpointUrl | None = None
    """Server URL (triton), e.g. `http://triton.serving:8000`."""
    model_name: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    """Served model name (triton)."""
    protocol: Literal["http", "grpc"] = "http"
    """KServe v2 transport (triton)."""


class Gate(ApiModel):
    """A promotion rule: `metric op value`, e.g. `accuracy >= 0.95`."""

    metric: GateMetric
    """Metric to compare (latencies in milliseconds, throughput in samples per second)."""
    op: GateOp
    """Comparison."""
    value: float
    """Threshold."""


class BaselineRef(ApiModel):
    """A version to compare against."""

    name: ObjectName
    """The baseline ModelVersion; it must have a passed or failed evaluation on the same
    dataset, or is evaluated in the same job."""
    tolerance: Annotated[float, Field(ge=0, le=1)] = 0.0
    """How much worse than the baseline each quality metric (accuracy, top5, precision, recall,
    f1) may be, in absolute terms (0.01 = one percentage point)."""


class EvaluationJobSpec(ApiModel):
    """Desired state of an EvaluationJob. Immutable once created."""

    immutable = immutable("spec is immutable: create a new EvaluationJob instead")
    rules = (
        Rule(
            cel="has(self.modelVersionRef) != has(self.deploymentRef)",
            message="set exactly one of modelVersionRef (a stored version) and deploymentRef (a live endpoint)",
            check=lambda s: (s.model_version_ref is None) != (s.deployment_ref is None),
        ),
        Rule(
            cel="!has(self.deploymentRef) || !has(self.backend)",
            message="backend does not apply to deploymentRef: the deployment's own endpoint is called",
            check=lambda s: s.deployment_ref is None or s.backend is None,
        ),
    )

    model_version_ref: LocalObjectReference | None = None
    """The ModelVersion to evaluate; the job waits until it is Ready."""
    deployment_ref: LocalObjectReference | None = None
    """A ModelDeployment whose live endpoint to evaluate (over the Open Inference Protocol),
    with the same metrics and gates as a stored version; the job waits until it serves, and
    records the variant it measured in status.evaluatedVersion."""
    dataset: DatasetSpec
    """The evaluation data."""
    backend: BackendSpec | None = None
    """How the model is run; onnxruntime when unset."""
    hardware: Hardware = "cpu"
    """Where the evaluation runs (latency is measured there)."""
    batch_size: Annotated[int, Field(ge=1, le=65536)] = 32
    """Samples per batch."""
    metrics: Annotated[
        list[Metric], Field(max_length=16, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = []
    """Metrics to compute; every metric that fits the model's task when empty."""
    gates: Annotated[list[Gate], Field(max_length=32)] = []
    """Promotion rules; all must hold for `passed: true`. A failing gate is a result, not an
    error."""
    baseline_ref: BaselineRef | None = None
    """Optional version that this one must not be worse than."""
    resources: ResourceRequirements | None = None
    """Worker resources, overriding the hardware profile's defaults."""


class GateResult(ApiModel):
    """A gate with its measured value."""

    model_config = {"strict": False}

    metric: str
    """Metric compared."""
    op: str
    """Comparison."""
    value: float
    """Threshold."""
    actual: float | None = None
    """Measured value (unset when the metric could not be computed)."""
    passed: bool
    """Whether the gate holds."""


class EvaluationJobStatus(JobStatus):
    """Observed state of an EvaluationJob."""

    results: Annotated[dict[str, float], Field(max_length=256)] = {}
    """Metric name -> value (e.g. accuracy, f1, latencyP95Ms, throughput)."""
    gates: Annotated[list[GateResult], Field(max_length=64)] = []
    """Each gate with its actual value and outcome."""
    passed: bool | None = None
    """The verdict: every gate (and the baseline comparison) holds."""
    report_uri: Annotated[str, Field(max_length=2048)] | None = None
    """Folder of the report (report.json, report.html, PNG plots) in the store."""
    evaluated_version: Annotated[str, Field(max_length=253)] | None = None
    """For deploymentRef: the ModelVersion the deployment served when the job started."""
    endpoint: Annotated[str, Field(max_length=2048)] | None = None
    """For deploymentRef: the endpoint called."""


class EvaluationJob(Resource):
    """Evaluates a ModelVersion on a dataset and records metrics, a report and a verdict."""

    info = KindInfo(
        kind="EvaluationJob",
        plural="evaluationjobs",
        short_names=("evj",),
        columns=(
            PrinterColumn("Version", ".spec.modelVersionRef.name"),
            PrinterColumn("Deployment", ".spec.deploymentRef.name", priority=1),
            PrinterColumn("Phase", ".status.phase"),
            REASON,
            PrinterColumn("Passed", ".status.passed", "boolean"),
            PrinterColumn("Accuracy", ".status.results.accuracy", "number"),
            PrinterColumn("P95-ms", ".status.results.latencyP95Ms", "number", priority=1),
            MESSAGE,
            AGE,
        ),
    )

    api_version: Literal[API_VERSION] = API_VERSION
    kind: Literal["EvaluationJob"] = "EvaluationJob"
    spec: EvaluationJobSpec
    status: EvaluationJobStatus | None = None
