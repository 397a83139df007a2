"""Algorithm and ClusterAlgorithm: training code with typed parameters, named inputs, the model
it produces and the metrics it reports. ClusterAlgorithm is the preset catalogue (the chart
installs it); Algorithm is a team's own, in its namespace. Both have the same spec."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from modelyard.api.base import ApiModel
from modelyard.api.common import API_VERSION, Hardware, ModelFormat, ShortText, Signature, StringMap
from modelyard.api.modelversion import ImageRef, TemplateName
from modelyard.api.resource import AGE, KindInfo, PrinterColumn, Resource
from modelyard.api.rules import RULE_ERROR, Rule, matches

ParameterName = Annotated[
    str,
    Field(max_length=63),
    matches("[a-zA-Z][a-zA-Z0-9_]*", "must be a parameter name: a letter, then letters, digits or '_'"),
]

ParameterType = Literal["int", "float", "string", "bool", "enum"]

Scalar = Annotated[Any, WithJsonSchema({"x-kubernetes-preserve-unknown-fields": True})]
"""A string, number or boolean (YAML's own type is kept: `epochs: 10`, `lr: 0.01`)."""

_SCALAR_CEL = "type(self) == string || type(self) == int || type(self) == double || type(self) == bool"


def is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


SCALAR_RULE = Rule(cel=_SCALAR_CEL, message="must be a string, a number or a boolean", check=is_scalar)

_NUMBER = ("int", "float")


DEFAULT_MESSAGE = "default must have the parameter's type (and be one of allowed for enum)"


def _default_fits(p: "ParameterSpec") -> bool:
    value = p.default
    if value is None:
        return True
    if p.type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if p.type == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if p.type == "bool":
        return isinstance(value, bool)
    if p.type == "enum":
        return isinstance(value, str) and value in p.allowed
    return isinstance(value, str)


class ParameterSpec(ApiModel):
    """One typed parameter of an algorithm (a hyperparameter a job may set)."""

    rules = (
        Rule(
            cel="self.type != 'enum' || (has(self.allowed) && size(self.allowed) > 0)",
            message="a parameter of type enum needs allowed values",
            check=lambda p: p.type != "enum" or bool(p.allowed),
        ),
        Rule(
            cel="self.type in ['int', 'float'] || (!has(self.min) && !has(self.max))",
            message="min and max apply only to int and float parameters",
            check=lambda p: p.type in _NUMBER or (p.min is None and p.max is None),
        ),
        Rule(
            cel="!has(self.min) || !has(self.max) || self.min <= self.max",
            message="min must not exceed max",
            check=lambda p: p.min is None or p.max is None or p.min <= p.max,
        ),
    )

    @model_validator(mode="after")
    def _default_has_the_type(self) -> "ParameterSpec":
        # Python only: CEL cannot see a schemaless field's type. A job using a bad default is
        # refused with the same message by the hyperparameter check.
        if not _default_fits(self):
            raise PydanticCustomError(RULE_ERROR, DEFAULT_MESSAGE)
        return self

    name: ParameterName
    """Parameter name as jobs set it, e.g. `learningRate`."""
    type: ParameterType
    """`int`, `float`, `string`, `bool` or `enum` (one of `allowed`)."""
    default: Scalar = None
    """Value when a job does not set it."""
    min: float | None = None
    """Smallest allowed value (int and float)."""
    max: float | None = None
    """Largest allowed value (int and float)."""
    allowed: Annotated[list[ShortText], Field(max_length=64, json_schema_extra={"x-kubernetes-list-type": "set"})] = []
    """The values an enum parameter takes."""
    required: bool = False
    """A job must set it (a parameter with a default is never missing)."""
    description: Annotated[str, Field(max_length=1024)] | None = None
    """What it does, for people and `modelyard explain`."""


InputFormat = Literal["csv", "npz", "imagefolder", "jsonl", "text", "any"]


class AlgorithmInput(ApiModel):
    """A named input (dataset) the algorithm reads."""

    name: ParameterName
    """Input name, e.g. `train` or `validation`."""
    formats: Annotated[list[InputFormat], Field(min_length=1, max_length=8, json_schema_extra={"x-kubernetes-list-type": "set"})]
    """Formats the code can read."""
    required: bool = True
    """A job must give it."""
    description: Annotated[str, Field(max_length=1024)] | None = None
    """What it holds."""


class AlgorithmOutput(ApiModel):
    """The model the algorithm writes, as Modelyard imports it."""

    format: ModelFormat
    """Format of the model file."""
    template: TemplateName | None = None
    """The catalog template that loads it (architecture, task, preprocessing), e.g. `tabular-mlp`;
    the code writes the template's parameters (sizes learnt from the data) with the model."""
    signature: Signature | None = None
    """The model's inputs and outputs, when no template supplies them."""


class MetricSpec(ApiModel):
    """A metric the algorithm reports, and where it is read from."""

    rules = (
        Rule(
            cel="self.source != 'log' || has(self.regex)",
            message="a metric with source log needs regex",
            check=lambda m: m.source != "log" or m.regex is not None,
        ),
        Rule(
            cel="self.source == 'log' || !has(self.regex)",
            message="regex applies only to source log",
            check=lambda m: m.source == "log" or m.regex is None,
        ),
    )

    name: ParameterName
    """Metric name, e.g. `loss`, `valAccuracy`."""
    source: Literal["jsonl", "log"] = "jsonl"
    """`jsonl`: a field of the lines the code writes to its metrics file; `log`: the first
    group of `regex` on each line of the code's output (the step is the line's count)."""
    regex: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    """Python/RE2 regular expression with one group, e.g. `loss=([0-9.eE+-]+)`."""
    goal: Literal["minimize", "maximize"] = "minimize"
    """Whether lower or higher is better (decides `best`)."""
    primary: bool = False
    """The metric that ranks training versions and shows in `kubectl get`."""


_HARDWARE = ("cpu", "gpu", "arm", "ascend")

Images = Annotated[
    dict[str, ImageRef],
    Field(max_length=4),
    Rule(
        cel="self.all(k, k in ['cpu', 'gpu', 'arm', 'ascend'])",
        message="keys must be hardware names: cpu, gpu, arm or ascend",
        check=lambda images: all(k in _HARDWARE for k in images),
    ),
]

_BY_NAME = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}


class AlgorithmSpec(ApiModel):
    """Desired state of an Algorithm or ClusterAlgorithm."""

    rules = (
        Rule(
            cel="!has(self.metrics) || self.metrics.filter(m, m.primary).size() <= 1",
            message="at most one metric is primary",
            check=lambda s: sum(m.primary for m in s.metrics) <= 1,
        ),
    )

    description: Annotated[str, Field(max_length=4096)] | None = None
    """What it trains, for people."""
    task: Annotated[str, Field(max_length=63)] | None = None
    """The task of the model it produces, e.g. `tabular-classification`."""
    images: Images = {}
    """Image per hardware; the hardware profile's worker image when unset. An image must hold
    the Modelyard worker (it runs the command, checks inputs and stores the model)."""
    command: Annotated[list[Annotated[str, Field(max_length=1024)]], Field(min_length=1, max_length=64)]
    """The training program, e.g. `[python, -m, modelyard.worker.train.presets.tabular]`. It reads
    its configuration (hyperparameters, input paths, output folder) from the JSON file named by
    `$MODELYARD_TRAIN_CONFIG`."""
    parameters: Annotated[list[ParameterSpec], Field(max_length=64, json_schema_extra=_BY_NAME)] = []
    """Typed parameters; a job's hyperparameters are checked against them before anything runs."""
    inputs: Annotated[list[AlgorithmInput], Field(max_length=16, json_schema_extra=_BY_NAME)] = []
    """Named inputs."""
    output: AlgorithmOutput
    """The model it writes."""
    metrics: Annotated[list[MetricSpec], Field(max_length=32, json_schema_extra=_BY_NAME)] = []
    """Metrics it reports."""
    hardware: Annotated[list[Hardware], Field(min_length=1, max_length=4, json_schema_extra={"x-kubernetes-list-type": "set"})] = ["cpu"]
    """Hardware (resource pools) it runs on."""
    checkpoints: bool = False
    """It writes checkpoints and resumes from the latest one (a resumed job continues)."""
    labels: StringMap | None = None
    """Free-form facts for search (e.g. `framework: pytorch`)."""


class CatalogStatus(ApiModel):
    """Observed state of a catalogue object (Algorithm, TrainingTemplate): nothing runs for it."""

    model_config = {"strict": False}

    message: Annotated[str, Field(max_length=4096)] | None = None
    """Notes from the operator."""


_COLUMNS = (
    PrinterColumn("Task", ".spec.task"),
    PrinterColumn("Format", ".spec.output.format"),
    PrinterColumn("Template", ".spec.output.template", priority=1),
    AGE,
)


class Algorithm(Resource):
    """Training code with typed parameters, in one namespace."""

    info = KindInfo(kind="Algorithm", plural="algorithms", short_names=("algo",), columns=_COLUMNS)

    api_version: Literal[API_VERSION] = API_VERSION
    kind: Literal["Algorithm"] = "Algorithm"
    spec: AlgorithmSpec
    status: CatalogStatus | None = None


class ClusterAlgorithm(Resource):
    """A preset algorithm every namespace can train with (the chart installs the presets)."""

    info = KindInfo(kind="ClusterAlgorithm", plural="clusteralgorithms", short_names=("calgo",), columns=_COLUMNS,
                    cluster_scoped=True)

    api_version: Literal[API_VERSION] = API_VERSION
    kind: Literal["ClusterAlgorithm"] = "ClusterAlgorithm"
    spec: AlgorithmSpec
    status: CatalogStatus | None = None
