"""Types shared by several kinds: names, URIs, references, conditions, resources, tensors.

Every string and list is bounded: the API server rejects CEL rules (including the whole-spec
`self == oldSelf`) whose estimated cost is unbounded, and an unbounded field is also a way to
store megabytes in etcd by accident.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from modelyard.api.base import ApiModel
from modelyard.api.group import API_VERSION, GROUP, VERSION  # noqa: F401 - re-exported
from modelyard.api.rules import Rule, matches


# --- strings -------------------------------------------------------------------------------

_DNS_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN_PATTERN = f"{_DNS_LABEL}([.]{_DNS_LABEL})*"

ObjectName = Annotated[
    str,
    Field(max_length=253),
    matches(
        DNS_SUBDOMAIN_PATTERN,
        "must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', "
        "starting and ending with a letter or digit (e.g. 'resnet-v1')",
    ),
]
"""The name of a Kubernetes object in the same namespace."""

_NUM = "(0|[1-9][0-9]*)"
_PRE = "(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
SEMVER_PATTERN = f"{_NUM}[.]{_NUM}[.]{_NUM}(-{_PRE}([.]{_PRE})*)?([+][0-9a-zA-Z-]+([.][0-9a-zA-Z-]+)*)?"

SemanticVersion = Annotated[
    str,
    Field(max_length=128),
    matches(
        SEMVER_PATTERN,
        "must be a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], "
        "e.g. 1.0.0 or 2.1.0-rc.1+build.5",
    ),
]

SourceUri = Annotated[
    str,
    Field(max_length=2048),
    matches(
        "(s3://[^/ ]+|file://|https://[^/ ]+)(/[^ ]*)?",
        "must be an s3://bucket/key, file:///path or https:// URI",
    ),
]
"""Where bytes come from: S3-compatible storage (AWS S3, MinIO, Ceph RGW, Huawei OBS), a local
path (local mode) or an HTTPS URL."""

StoreUri = Annotated[
    str,
    Field(max_length=2048),
    matches(
        "s3://[^/ ]+(/[^ ]*)?|file:///[^ ]*",
        "must be an s3://bucket[/prefix] or file:///path URI",
    ),
]

EndpointUrl = Annotated[
    str,
    Field(max_length=2048),
    matches("https?://[^/ ]+(/[^ ]*)?", "must be an http:// or https:// URL"),
]

Sha256 = Annotated[
    str,
    Field(max_length=64),
    matches("[a-f0-9]{64}", "must be a sha256 digest: 64 lowercase hexadecimal characters"),
]

ShortText = Annotated[str, Field(max_length=256)]
NameText = Annotated[str, Field(max_length=253)]
"""An object name as reported in status (written by the operator, not validated by CEL)."""
LongText = Annotated[str, Field(max_length=4096)]

StringMap = Annotated[
    dict[str, Annotated[str, Field(max_length=1024)]],
    Field(max_length=64),
]
"""Free-form string pairs (hyperparameters, template parameters)."""

# --- enums ---------------------------------------------------------------------------------

Hardware = Literal["cpu", "gpu", "arm", "ascend"]
"""Where work runs: x86 CPU nodes, NVIDIA GPU nodes, ARM64 nodes or Huawei Ascend NPU nodes."""

ModelFormat = Literal[
    "onnx",
    "torchscript",
    "pytorch-exportedprogram",
    "pytorch-state-dict",
    "safetensors",
    "openvino",
    "tensorrt-plan",
    "ascend-om",
]

DType = Literal["float32", "float16", "bfloat16", "int64", "int32", "int8", "uint8", "bool"]

ConditionStatus = Literal["True", "False", "Unknown"]
JobPhase = Literal["Pending", "Running", "Succeeded", "Failed"]

# --- references ------------------------------------------------------------------------------


class LocalObjectReference(ApiModel):
    """A reference to an object in the same namespace."""

    name: ObjectName
    """Name of the referenced object."""


# --- tensors -------------------------------------------------------------------------------


class TensorSpec(ApiModel):
    """One named input or output tensor."""

    rules = (
        Rule(
            cel="!has(self.batchAxis) || self.batchAxis < size(self.shape)",
            message="batchAxis must be an axis of shape (less than its rank), or -1 for none",
            check=lambda t: t.batch_axis is None or t.batch_axis < len(t.shape),
        ),
    )

    name: Annotated[str, Field(min_length=1, max_length=256)]
    """Tensor name as the model knows it (e.g. `input`, `logits`)."""
    dtype: DType = "float32"
    """Element type."""
    shape: Annotated[list[Annotated[int, Field(ge=-1)]], Field(max_length=16)]
    """Dimensions; -1 marks a dynamic dimension (usually the batch)."""
    batch_axis: Annotated[int, Field(ge=-1, le=15)] | None = None
    """The axis that indexes samples (the batch), where it is not the first: a recurrent
    state's `[layers, batch, hidden]` has 1; -1: the input has none and is shared by every
    sample of a run (a sample rate). Unset: the symbolic dimension the model's inputs share,
    else the first axis when it is dynamic."""


_BY_NAME = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}


class Signature(ApiModel):
    """The model's inputs and outputs."""

    inputs: Annotated[list[TensorSpec], Field(max_length=64, json_schema_extra=_BY_NAME)] = []
    """Input tensors, in the order the model takes them."""
    outputs: Annotated[list[TensorSpec], Field(max_length=64, json_schema_extra=_BY_NAME)] = []
    """Output tensors, in the order the model returns them."""


# --- resources -----------------------------------------------------------------------------

QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def _quantity(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PydanticCustomError("int_or_string_type", "must be an integer or a string")
    if isinstance(value, str) and not re.match(QUANTITY_PATTERN, value):
        raise PydanticCustomError(
            "string_pattern_mismatch", "pattern", {"pattern": QUANTITY_PATTERN}
        )
    return value


Quantity = Annotated[
    int | str,
    PlainValidator(_quantity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    ),
]
"""A Kubernetes quantity such as `2`, `500m`, `8Gi`."""

ResourceList = Annotated[
    dict[str, Quantity],
    Field(max_length=16),
]


class ResourceRequirements(ApiModel):
    """Compute resources of the Job's worker container, as in a Pod spec."""

    limits: ResourceList | None = None
    """Maximum resources (e.g. `cpu: "4"`, `memory: 16Gi`, `nvidia.com/gpu: 1`)."""
    requests: ResourceList | None = None
    """Resources the scheduler reserves for the container."""


# --- status --------------------------------------------------------------------------------


class Condition(ApiModel):
    """A Kubernetes condition: one observation about the object, keyed by `type`."""

    model_config = {"strict": False}

    type: Annotated[str, Field(max_length=316)]
    """CamelCase condition type (e.g. `Ready`, `Reconciling`, `Stalled`)."""
    status: ConditionStatus
    """Whether the condition holds."""
    reason: Annotated[str, Field(max_length=1024)] = ""
    """CamelCase reason of the last transition, for programs."""
    message: Annotated[str, Field(max_length=32768)] = ""
    """What happened, for people."""
    last_transition_time: datetime | None = None
    """When the status last changed."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The `metadata.generation` this condition was computed from."""


Conditions = Annotated[
    list[Condition],
    Field(
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    ),
]


class StatusBase(ApiModel):
    """Fields every kind's status has."""

    model_config = {"strict": False}

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The `metadata.generation` the operator last acted on."""
    conditions: Conditions = []
    """Current observations: `Ready` summarises; `Reconciling` means work is in progress;
    `Stalled` means a person must act."""
    message: Annotated[str, Field(max_length=32768)] | None = None
    """A one-line summary of the current state, for `kubectl get` and people."""


class WorkStatus(StatusBase):
    """Status fields of kinds whose work runs in a Kubernetes Job."""

    job_name: NameText | None = None
    """The Kubernetes Job doing the work."""
    start_time: datetime | None = None
    """When the Job started."""
    completion_time: datetime | None = None
    """When the Job finished."""
    progress: Annotated[str, Field(max_length=256)] | None = None
    """Progress of the current step, e.g. `importing: 120/512 MiB` or `verify`."""


class JobStatus(WorkStatus):
    """Status fields of ConversionJob and EvaluationJob."""

    phase: JobPhase | None = None
    """Pending (waiting for its input), Running, Succeeded or Failed."""

