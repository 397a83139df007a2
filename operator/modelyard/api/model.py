"""Model: the logical model that versions belong to."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from modelyard.api.base import ApiModel
from modelyard.api.common import (
    API_VERSION,
    EndpointUrl,
    Hardware,
    LocalObjectReference,
    ModelFormat,
    NameText,
    ShortText,
    StatusBase,
    StoreUri,
)
from modelyard.api.resource import AGE, KindInfo, PrinterColumn, Resource
from modelyard.api.modelversion import OCI_REPOSITORY_PATTERN
from modelyard.api.rules import Rule, matches

Task = Literal[
    "image-classification",
    "object-detection",
    "image-segmentation",
    "text-classification",
    "tabular-classification",
    "regression",
    "other",
]

Retention = Literal["Retain", "Delete"]


class StorageSpec(ApiModel):
    """Where this model's artifacts are stored, overriding the operator's default store."""

    rules = (
        Rule(
            cel="!has(self.endpoint) || self.uri.startsWith('s3://')",
            message="endpoint applies only to an s3:// uri",
            check=lambda s: s.endpoint is None or s.uri.startswith("s3://"),
        ),
        Rule(
            cel="!has(self.secretRef) || self.uri.startsWith('s3://')",
            message="secretRef applies only to an s3:// uri",
            check=lambda s: s.secret_ref is None or s.uri.startswith("s3://"),
        ),
    )

    uri: StoreUri
    """Store root: `s3://bucket[/prefix]` (AWS S3, MinIO, Ceph RGW, Huawei OBS) or
    `file:///path`. Versions live under `<uri>/<namespace>/<model>/<version>/`."""
    endpoint: EndpointUrl | None = None
    """S3 endpoint URL for non-AWS stores, e.g. `https://obs.cn-north-4.myhuaweicloud.com` or
    `http://minio.minio:9000`."""
    region: Annotated[str, Field(max_length=64)] | None = None
    """S3 region, e.g. `us-east-1`."""
    secret_ref: LocalObjectReference | None = None
    """Secret with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and optionally
    `AWS_SESSION_TOKEN`). When unset, the worker's identity is used (IRSA-style web identity
    or the standard AWS credential chain)."""


class PublishSpec(ApiModel):
    """Push versions to an OCI registry as KitOps ModelKits, as a Job with the registry's push
    secret; the pushed digest lands in each version's status.published."""

    repository: Annotated[str, Field(max_length=512), matches(
        f"(oci://)?{OCI_REPOSITORY_PATTERN}",
        "must be an OCI repository registry/repository (no tag: each version is tagged with its "
        "version, + written as _), e.g. registry.example.com/team/digits")]
    """Where to push: `registry/repository` (an `oci://` prefix is allowed)."""
    when: Literal["GatesPassed", "Ready"] = "GatesPassed"
    """Which versions: those whose latest EvaluationJob passed its gates (the `Evaluated`
    condition), or every Ready version."""
    push_secret_ref: LocalObjectReference | None = None
    """A kubernetes.io/dockerconfigjson Secret with credentials for the registry; mounted into
    the publish Job, never read by the operator or copied into status, events or logs."""


class ModelSpec(ApiModel):
    """Desired state of a Model."""

    display_name: ShortText | None = None
    """Human-friendly name shown in reports."""
    task: Task
    """What the model does; selects default metrics and templates."""
    description: Annotated[str, Field(max_length=4096)] | None = None
    """Free text for people."""
    storage: StorageSpec | None = None
    """Artifact store for this model's versions; the operator's default store when unset."""
    retention: Retention = "Retain"
    """What happens to a version's stored artifacts when the version is deleted: `Retain` keeps
    them, `Delete` removes them."""
    publish: PublishSpec | None = None
    """Push versions to an OCI registry (a tag that points elsewhere is never moved)."""


class VersionSummary(ApiModel):
    """One version of the model, as seen from the Model."""

    model_config = {"strict": False}

    name: NameText
    """ModelVersion object name."""
    version: Annotated[str, Field(max_length=128)]
    """Semantic version."""
    phase: Literal["Pending", "Importing", "Ready", "Failed"]
    """The version's phase."""
    format: ModelFormat | None = None
    """Model format."""
    hardware: Hardware | None = None
    """Hardware the version was converted for, when it came from a ConversionJob."""
    digest: Annotated[str, Field(max_length=71)] | None = None
    """`sha256:` digest of the version's manifest."""
    parent: NameText | None = None
    """The version it was converted from, if any."""
    evaluated: bool | None = None
    """Whether its latest evaluation passed its gates (unset when never evaluated)."""


LISTED_VERSIONS = 100
"""How many versions a Model's status lists: a model with thousands of versions would otherwise
carry a status the API server refuses (over the list's maximum) or, below it, one rewritten and
sent to every watcher whole on each change of any version."""

Count = Annotated[int, Field(ge=0)]


class VersionCounts(ApiModel):
    """How many versions the model has, in all and by phase."""

    total: Count = 0
    """All versions."""
    pending: Count = 0
    """Versions waiting to start."""
    importing: Count = 0
    """Versions being imported."""
    ready: Count = 0
    """Ready versions."""
    failed: Count = 0
    """Failed versions."""


class ModelStatus(StatusBase):
    """Observed state of a Model."""

    phase: Literal["Pending", "Ready", "Failed"] | None = None
    """`Ready` once at least one version is Ready; `Failed` when the spec cannot be acted on."""
    versions: Annotated[list[VersionSummary], Field(max_length=LISTED_VERSIONS)] = []
    """The newest versions by semantic version, at most 100, oldest first (`versionCounts` counts
    them all; `kubectl get modelversions` lists them all)."""
    version_counts: VersionCounts | None = None
    """How many versions the model has, in all and by phase."""
    latest_ready_version: NameText | None = None
    """The Ready version with the highest semantic version."""


class Model(Resource):
    """A logical model: task, store and retention shared by all its versions."""

    info = KindInfo(
        kind="Model",
        plural="models",
        short_names=("mdl",),
        columns=(
            PrinterColumn("Task", ".spec.task"),
            PrinterColumn("Latest", ".status.latestReadyVersion"),
            PrinterColumn("Versions", ".status.versionCounts.total", type="integer"),
            PrinterColumn("Phase", ".status.phase"),
            PrinterColumn("Retention", ".spec.retention", priority=1),
            AGE,
        ),
    )

    api_version: Literal[API_VERSION] = API_VERSION
    kind: Literal["Model"] = "Model"
    spec: ModelSpec
    status: ModelStatus | None = None
