"""ModelVersion: one immutable, checksummed version of a Model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from modelyard.api.base import ApiModel
from modelyard.api.common import (
    API_VERSION,
    Hardware,
    LocalObjectReference,
    ModelFormat,
    NameText,
    ObjectName,
    SemanticVersion,
    Sha256,
    Signature,
    SourceUri,
    WorkStatus,
    StringMap,
)
from modelyard.api.resource import AGE, MESSAGE, REASON, KindInfo, PrinterColumn, Resource
from modelyard.api.rules import Rule, immutable, matches


class TrainingJobSource(ApiModel):
    """Import the output of a training job once it has succeeded; the job is recorded as lineage."""

    kind: Literal["Job", "PyTorchJob", "TFJob"] = "Job"
    """Kind of the training job: a batch/v1 Job or a Kubeflow PyTorchJob/TFJob."""
    name: ObjectName
    """Name of the training job in this namespace."""
    output_uri: SourceUri
    """Where the job writes the trained model."""


TemplateName = Annotated[
    str,
    Field(max_length=63),
    matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?", "must be a template name such as image-classification-cnn"),
]


class TemplateSource(ApiModel):
    """Import weights with a template from the catalog, which supplies task, signature,
    preprocessing, default metrics and (for state dicts) the architecture."""

    name: TemplateName
    """Template name, e.g. `image-classification-cnn`, `text-classification`, `tabular-mlp`."""
    uri: SourceUri
    """Where the weights are."""
    parameters: StringMap | None = None
    """Template parameters, e.g. `numClasses: "10"`."""


ImageRef = Annotated[
    str,
    Field(max_length=512),
    matches(
        "[a-z0-9]+([._/:@-][a-zA-Z0-9]+)*",
        "must be an OCI image reference such as registry.example.com/team/model:1.0",
    ),
]


class ImageSource(ApiModel):
    """Copy the model out of an OCI image (an init container copies `path` into the Job)."""

    rules = (
        Rule(
            cel="!self.path.contains('/../') && !self.path.endsWith('/..')",
            message="path must not contain '..' segments",
            check=lambda s: "/../" not in s.path and not s.path.endswith("/.."),
        ),
    )

    image: ImageRef
    """Image that contains the model."""
    path: Annotated[str, Field(max_length=1024), matches("/[^ ]*", "must be an absolute path inside the image")]
    """Absolute path of the model file or folder inside the image."""


# The grammar of distribution's reference package (registry/repository[:tag][@digest]), without
# backslashes so that the same text is a CEL string literal and a regular expression.
_DOMAIN_LABEL = "[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?"
_PATH_COMPONENT = "[a-z0-9]+(([.]|_|__|-+)[a-z0-9]+)*"
OCI_REPOSITORY_PATTERN = f"{_DOMAIN_LABEL}([.]{_DOMAIN_LABEL})*(:[0-9]+)?/{_PATH_COMPONENT}(/{_PATH_COMPONENT})*"
"""A registry and repository, without tag or digest (publishing chooses the tag)."""
OCI_REFERENCE_PATTERN = (
    f"({_DOMAIN_LABEL}([.]{_DOMAIN_LABEL})*(:[0-9]+)?/)?{_PATH_COMPONENT}(/{_PATH_COMPONENT})*"
    "(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?"
)

OciReference = Annotated[
    str,
    Field(max_length=512),
    matches(
        OCI_REFERENCE_PATTERN,
        "must be an OCI reference registry/repository:tag or registry/repository@sha256:<64 hex digits>, "
        "e.g. registry.example.com/team/model:1.0",
    ),
]


class OciSource(ApiModel):
    """Pull the model straight from an OCI registry over the distribution API (no container
    engine): an ORAS artifact, a KitOps ModelKit, a KServe modelcar or any image that holds the
    model at a path. Every blob is checked against its digest and size; the digest the
    reference resolved to is recorded in the version's lineage."""

    rules = (
        Rule(
            cel="!has(self.path) || (!self.path.contains('/../') && !self.path.startsWith('../')"
            " && !self.path.endsWith('/..') && self.path != '..')",
            message="path must not contain '..' segments",
            check=lambda s: s.path is None or ".." not in s.path.split("/"),
        ),
    )

    reference: OciReference
    """The artifact or image: `registry/repository:tag`, or `registry/repository@sha256:...` to
    pin it. A tag is resolved once, at import, and its digest recorded."""
    path: Annotated[str, Field(min_length=1, max_length=1024), matches("[^ ]+", "must be a path without spaces")] | None = None
    """The model file or folder inside it. In an image: an absolute path in its filesystem
    (e.g. `/models/model.onnx`; layers are applied in order, whiteouts honoured). In an artifact:
    a file's title (ORAS) or a Kitfile path (ModelKit). Default: a ModelKit's model, every file
    of an ORAS artifact, `/models` of an image (a KServe modelcar)."""
    pull_secret_ref: LocalObjectReference | None = None
    """A Secret of type kubernetes.io/dockerconfigjson (as for imagePullSecrets) with the
    registry's credentials; mounted into the import Job, never copied into status or logs."""


class VersionSource(ApiModel):
    """Where the version's model comes from: exactly one of uri, trainingJob, template, image or oci."""

    rules = (
        Rule(
            cel=(
                "(has(self.uri) ? 1 : 0) + (has(self.trainingJob) ? 1 : 0)"
                " + (has(self.template) ? 1 : 0) + (has(self.image) ? 1 : 0) + (has(self.oci) ? 1 : 0) == 1"
            ),
            message="exactly one of uri, trainingJob, template, image or oci must be set",
            check=lambda s: sum(
                x is not None for x in (s.uri, s.training_job, s.template, s.image, s.oci)
            )
            == 1,
        ),
    )

    uri: SourceUri | None = None
    """The model file or archive (.tar, .tar.gz, .zip): s3://, file:// or https://."""
    sha256: Sha256 | None = None
    """Expected sha256 of the downloaded file; the import fails when it differs."""
    training_job: TrainingJobSource | None = None
    """Import from a training job's output."""
    template: TemplateSource | None = None
    """Import weights with a catalog template."""
    image: ImageSource | None = None
    """Import from a path inside an OCI image, copied out by an init container (the image must
    contain `cp`)."""
    oci: OciSource | None = None
    """Import from an OCI registry, pulled by the worker itself (artifacts, ModelKits, images)."""


class TemplateUse(ApiModel):
    """The catalog template a version's weights were imported with."""

    name: TemplateName
    """Template name, e.g. `image-classification-cnn`."""
    parameters: StringMap | None = None
    """Its parameters."""


class DatasetRef(ApiModel):
    """A dataset a version was trained on, pinned by digest."""

    name: Annotated[str, Field(max_length=63)]
    """The training job's input name, e.g. `train`."""
    uri: SourceUri
    """Where it was read from."""
    sha256: Sha256 | None = None
    """Its digest when read."""


class Lineage(ApiModel):
    """Where this version came from."""

    parent_version: ObjectName | None = None
    """The ModelVersion this one was converted from."""
    conversion_job: ObjectName | None = None
    """The ConversionJob that produced this version."""
    training_job: ObjectName | None = None
    """The training job that produced the weights."""
    dataset: SourceUri | None = None
    """The training dataset."""
    code: Annotated[str, Field(max_length=1024)] | None = None
    """The training code, e.g. `https://git.example.com/team/repo@3f2c1e9`."""
    hyperparameters: StringMap | None = None
    """Training hyperparameters."""
    algorithm: Annotated[str, Field(max_length=512)] | None = None
    """The algorithm that trained it, e.g. `ClusterAlgorithm/tabular-mlp`."""
    algorithm_digest: Annotated[str, Field(max_length=71)] | None = None
    """`sha256:` of the algorithm's spec when it trained."""
    datasets: Annotated[list[DatasetRef], Field(max_length=16)] | None = None
    """Every training input with its digest."""
    metrics: Annotated[dict[str, float], Field(max_length=32)] | None = None
    """Final training metrics."""
    training_template: ObjectName | None = None
    """The TrainingTemplate the job started from."""
    based_on: ObjectName | None = None
    """The TrainingJob the training job followed (the previous training version)."""
    training_version: Annotated[int, Field(ge=1)] | None = None
    """Position in the chain of training versions."""
    template: TemplateUse | None = None
    """For a converted version: the template its source was imported with, whose task and
    preprocessing (resize, scale, mean/std) apply to it as well."""


class ModelVersionSpec(ApiModel):
    """Desired state of a ModelVersion. Immutable once created."""

    immutable = immutable("spec is immutable: create a new ModelVersion instead")
    rules = (
        Rule(
            cel="self.format != 'pytorch-state-dict' || has(self.source.template)",
            message=(
                "format pytorch-state-dict needs source.template: a state dict holds weights "
                "only and the template supplies the architecture"
            ),
            check=lambda s: s.format != "pytorch-state-dict" or s.source.template is not None,
        ),
    )

    model_ref: LocalObjectReference
    """The Model this version belongs to."""
    version: SemanticVersion
    """Semantic version, unique within the model."""
    format: ModelFormat
    """Format of the model artifact."""
    signature: Signature | None = None
    """Declared inputs and outputs; checked against the real model on import (inferred when
    unset)."""
    source: VersionSource
    """Where the model comes from."""
    lineage: Lineage | None = None
    """Provenance recorded with the version."""


class ArtifactFile(ApiModel):
    """One stored file."""

    model_config = {"strict": False}

    path: Annotated[str, Field(max_length=1024)]
    """Path relative to the version folder."""
    size_bytes: Annotated[int, Field(ge=0)]
    """Size in bytes."""
    sha256: Annotated[str, Field(max_length=64)]
    """sha256 of the file's bytes."""


class Artifact(ApiModel):
    """The stored, checksummed artifact of a version."""

    model_config = {"strict": False}

    uri: Annotated[str, Field(max_length=2048)]
    """Folder of the version in the store."""
    digest: Annotated[str, Field(max_length=71)]
    """`sha256:<hex>` of the version's manifest.json, which lists every file's digest."""
    size_bytes: Annotated[int, Field(ge=0)]
    """Total size of the model files."""
    files: Annotated[list[ArtifactFile], Field(max_length=1000)] = []
    """Every file with its size and digest."""


class Inspection(ApiModel):
    """Facts read from the model without executing it."""

    model_config = {"strict": False}

    opset: int | None = None
    """ONNX opset."""
    parameter_count: Annotated[int, Field(ge=0)] | None = None
    """Number of parameters."""
    op_types: Annotated[list[Annotated[str, Field(max_length=128)]], Field(max_length=512)] = []
    """Distinct operator types."""
    producer: Annotated[str, Field(max_length=256)] | None = None
    """Tool that produced the model file."""


class SourceProvenance(ApiModel):
    """Where an OCI-imported version's files came from, resolved at import."""

    model_config = {"strict": False}

    oci: Annotated[str, Field(max_length=512)] | None = None
    """The reference as given (tag or digest)."""
    digest: Annotated[str, Field(max_length=80)] | None = None
    """The manifest digest it resolved to: the exact content imported."""
    kind: Annotated[str, Field(max_length=64)] | None = None
    """What the reference held (image, modelkit, modelpack, artifact)."""
    media_type: Annotated[str, Field(max_length=256)] | None = None
    """The manifest's media type."""


class Publication(ApiModel):
    """Where the version was pushed (Model spec.publish, as a KitOps ModelKit)."""

    model_config = {"strict": False}

    reference: Annotated[str, Field(max_length=512)]
    """`registry/repository:tag`."""
    digest: Annotated[str, Field(max_length=80)]
    """The pushed manifest's digest: pull `registry/repository@digest` to get exactly this."""
    published_at: datetime | None = None
    """When the push finished."""


class ModelVersionStatus(WorkStatus):
    """Observed state of a ModelVersion."""

    phase: Literal["Pending", "Importing", "Ready", "Failed"] | None = None
    """Pending (waiting for a dependency), Importing, Ready or Failed."""
    artifact: Artifact | None = None
    """The stored artifact once Ready."""
    signature: Signature | None = None
    """The model's real signature, as inspected."""
    source: SourceProvenance | None = None
    """For `spec.source.oci`: the manifest digest the reference resolved to."""
    inspection: Inspection | None = None
    """Facts about the model."""
    hardware: Hardware | None = None
    """Hardware this version was converted for, when it came from a ConversionJob."""
    published: Annotated[list[Publication], Field(max_length=8)] | None = None
    """Registries the version was pushed to by its Model's spec.publish rule."""
    publish_job: NameText | None = None
    """The Job pushing it now (its condition `Published` says how it went)."""


class ModelVersion(Resource):
    """One immutable, checksummed version of a Model with its lineage."""

    info = KindInfo(
        kind="ModelVersion",
        plural="modelversions",
        short_names=("mv",),
        columns=(
            PrinterColumn("Model", ".spec.modelRef.name"),
            PrinterColumn("Version", ".spec.version"),
            PrinterColumn("Format", ".spec.format"),
            PrinterColumn("Phase", ".status.phase"),
            REASON,
            PrinterColumn("Digest", ".status.artifact.digest"),
            PrinterColumn("Parent", ".spec.lineage.parentVersion", priority=1),
            MESSAGE,
            AGE,
        ),
    )

    api_version: Literal[API_VERSION] = API_VERSION
    kind: Literal["ModelVersion"] = "ModelVersion"
    spec: ModelVersionSpec
    status: ModelVersionStatus | None = None
