"""ModelDeployment: serve a Ready, gated ModelVersion, in the variant that fits the hardware,
after the live endpoint proved it computes what the conversion verified."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from modelyard.api.base import ApiModel
from modelyard.api.common import (
    API_VERSION,
    Hardware,
    LocalObjectReference,
    NameText,
    ResourceRequirements,
    ShortText,
    StatusBase,
)
from modelyard.api.resource import AGE, MESSAGE, REASON, KindInfo, PrinterColumn, Resource
from modelyard.api.rules import Rule, matches

ServedFormat = Literal["onnx", "onnx-fp16", "onnx-int8", "openvino", "torchscript", "tensorrt-plan"]
Backend = Literal["auto", "kserve", "builtin"]
Track = Literal["LatestPassing"]
ParityPolicy = Literal["Required", "IfRecorded", "Off"]

ENV_NAME = matches("[A-Za-z_][A-Za-z0-9_]*", "must be an environment variable name (letters, digits, _)")


class EnvVar(ApiModel):
    """One environment variable of the server container (thread counts, runtime settings)."""

    name: Annotated[str, Field(min_length=1, max_length=128), ENV_NAME]
    """Variable name."""
    value: Annotated[str, Field(max_length=4096)] = ""
    """Its value. Credentials do not belong here: the store's Secret reaches the server
    the same way it reaches the workers."""


class Autoscaling(ApiModel):
    """Replicas scaled on CPU use (a HorizontalPodAutoscaler; KServe's own autoscaler there)."""

    rules = (
        Rule(
            cel="self.minReplicas <= self.maxReplicas",
            message="minReplicas must not exceed maxReplicas",
            check=lambda a: a.min_replicas <= a.max_replicas,
        ),
    )

    min_replicas: Annotated[int, Field(ge=1, le=1000)] = 1
    """Fewest replicas."""
    max_replicas: Annotated[int, Field(ge=1, le=1000)]
    """Most replicas."""
    target_cpu_percent: Annotated[int, Field(ge=1, le=100)] = 80
    """Average CPU use (of the request) the autoscaler aims at."""


class RolloutSpec(ApiModel):
    """How a new version takes traffic."""

    canary_percent: Annotated[int, Field(ge=0, le=100)] = 0
    """Share of traffic the new version takes first, once parity passed; 0 moves all of it at
    once. Built-in backend: the share of replicas behind the Service (rounded up to one);
    KServe: the InferenceService's `canaryTrafficPercent`."""
    auto_promote: bool = True
    """Move the rest of the traffic once the canary held for `analysisSeconds` with parity
    checked again and no server errors; when false the canary stays until this is set."""
    analysis_seconds: Annotated[int, Field(ge=0, le=86400)] = 60
    """How long a canary serves before it is judged."""
    parity: ParityPolicy = "Required"
    """Live parity before traffic moves: the samples the conversion recorded with the version
    are sent to every new replica and compared with the recorded outputs within the version's
    verification tolerance. `Required` refuses a variant without recorded samples;
    `IfRecorded` skips the check for such a variant (said in status); `Off` skips it."""
    max_error_percent: Annotated[float, Field(ge=0, le=100)] = 1.0
    """A canary whose servers failed more than this share of the requests they served (server
    errors, not a client's bad requests; read from their own metrics) when it is judged is
    rolled back."""
    ready_timeout_seconds: Annotated[int, Field(ge=30, le=7200)] = 600
    """How long a new version's servers may take to become ready before it is rolled back."""


class ModelDeploymentSpec(ApiModel):
    """Desired state of a ModelDeployment."""

    rules = (
        Rule(
            cel="has(self.versionRef) != has(self.track)",
            message="set exactly one of versionRef (a pinned version) and track (LatestPassing)",
            check=lambda s: (s.version_ref is None) != (s.track is None),
        ),
        Rule(
            cel="!has(self.autoscaling) || !has(self.replicas)",
            message="set replicas or autoscaling, not both",
            check=lambda s: s.autoscaling is None or s.replicas is None,
        ),
        Rule(
            cel="!has(self.format) || self.format != 'tensorrt-plan' || self.hardware == 'gpu'",
            message="format tensorrt-plan runs only on hardware gpu",
            check=lambda s: s.format != "tensorrt-plan" or s.hardware == "gpu",
        ),
    )

    model_ref: LocalObjectReference
    """The Model whose version is served."""
    version_ref: LocalObjectReference | None = None
    """A pinned ModelVersion (the GitOps way: change it in Git to roll out). The variant served
    is chosen among it and the versions converted from it; naming a converted version serves
    exactly that one."""
    track: Track | None = None
    """`LatestPassing`: follow the newest version with a Ready variant for the hardware whose
    latest EvaluationJob passed its gates; a newer one that passes rolls out by itself."""
    hardware: Hardware = "cpu"
    """Where it serves: the hardware profile's node selection, tolerations, device resources
    and image; and the variant chosen for it (gpu: tensorrt-plan, onnx-fp16, onnx; arm:
    onnx-int8, onnx; cpu: openvino, onnx-int8, onnx; the fastest measured first)."""
    format: ServedFormat | None = None
    """Serve this format only, overriding the choice."""
    backend: Backend = "auto"
    """`builtin`: Modelyard's Open Inference Protocol server in a Deployment and Service;
    `kserve`: a KServe InferenceService (Triton for ONNX and TensorRT, OpenVINO Model Server for
    OpenVINO IR); `auto`: KServe when its InferenceService CRD is installed, else builtin. The
    backend a deployment started on is kept (status.backend) until the spec says otherwise."""
    replicas: Annotated[int, Field(ge=1, le=1000)] | None = None
    """Server replicas (1 when neither this nor autoscaling is set)."""
    autoscaling: Autoscaling | None = None
    """Scale between min and max replicas on CPU use instead of a fixed count."""
    resources: ResourceRequirements | None = None
    """Server container resources, overriding the hardware profile's defaults."""
    env: Annotated[list[EnvVar], Field(max_length=32)] = []
    """Extra environment of the server container."""
    rollout: RolloutSpec | None = None
    """Canary, promotion and live-parity settings (all traffic after parity when unset)."""


class ServedVariant(ApiModel):
    """One version as served."""

    model_config = {"strict": False}

    version: NameText
    """The ModelVersion asked for (pinned or tracked)."""
    variant: NameText
    """The ModelVersion actually served: the version itself or one converted from it."""
    format: Annotated[str, Field(max_length=64)] | None = None
    """The variant's format."""
    digest: Annotated[str, Field(max_length=80)] | None = None
    """The variant's artifact digest."""
    reason: Annotated[str, Field(max_length=1024)] | None = None
    """Why this variant: the hardware's preference and the measured speed-up."""
    since: datetime | None = None
    """When it started taking traffic."""
    server: NameText | None = None
    """Built-in backend: the Deployment running it (one per variant and pod template)."""


class CanaryStatus(ServedVariant):
    """A new variant taking part of the traffic."""

    percent: Annotated[int, Field(ge=0, le=100)] = 0
    """Its share: of replicas (builtin) or of traffic (KServe)."""


class ParityOutput(ApiModel):
    """Live parity of one output."""

    model_config = {"strict": False}

    name: ShortText
    """Output tensor name."""
    max_abs_diff: float | None = None
    """Largest absolute difference from the recorded output, over samples and replicas."""
    max_rel_diff: float | None = None
    """Largest relative difference."""
    atol: float | None = None
    """Absolute tolerance (the variant's verification tolerance)."""
    rtol: float | None = None
    """Relative tolerance."""
    passed: bool = False
    """Whether this output matched everywhere."""


class Parity(ApiModel):
    """The live endpoint against the outputs recorded when the variant was verified."""

    model_config = {"strict": False}

    variant: NameText
    """The variant checked."""
    passed: bool = False
    """Whether every sample matched on every replica."""
    skipped: bool = False
    """No check ran (rollout.parity Off, or IfRecorded and nothing recorded)."""
    samples: Annotated[int, Field(ge=0)] | None = None
    """Recorded samples sent to each replica."""
    endpoints: Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=64)] = []
    """The replicas checked."""
    outputs: Annotated[list[ParityOutput], Field(max_length=64)] = []
    """Per output: the largest differences and the tolerance."""
    message: Annotated[str, Field(max_length=4096)] | None = None
    """The verdict in words: the worst output, replica and difference."""
    checked_at: datetime | None = None
    """When the check finished."""


class RejectedVariant(ApiModel):
    """A variant rolled back; it is not tried again until the spec or the variant changes."""

    model_config = {"strict": False}

    variant: NameText
    """The ModelVersion rolled back."""
    digest: Annotated[str, Field(max_length=80)] | None = None
    """Its artifact digest (a new artifact under the same name is tried again)."""
    reason: Annotated[str, Field(max_length=256)]
    """Why: ParityFailed, ServerNotReady, NoParitySamples, ..."""
    message: Annotated[str, Field(max_length=4096)] = ""
    """What was seen."""
    generation: Annotated[int, Field(ge=0)] | None = None
    """The spec generation it was rejected under."""


class ModelDeploymentStatus(StatusBase):
    """Observed state of a ModelDeployment."""

    phase: Literal["Pending", "Deploying", "Verifying", "Canary", "Serving", "Failed"] | None = None
    """Pending (no servable version yet), Deploying (a new variant's servers starting),
    Verifying (live parity running), Canary, Serving, or Failed (nothing serves and a person
    must act)."""
    backend: Literal["builtin", "kserve"] | None = None
    """The backend in use."""
    serving: ServedVariant | None = None
    """What takes the traffic."""
    candidate: ServedVariant | None = None
    """A variant being rolled out (starting or verifying)."""
    canary: CanaryStatus | None = None
    """A variant taking part of the traffic."""
    url: Annotated[str, Field(max_length=512)] | None = None
    """In-cluster REST endpoint of the model (Open Inference Protocol); local mode: loopback."""
    grpc_address: Annotated[str, Field(max_length=512)] | None = None
    """In-cluster gRPC address (host:port)."""
    parity: Parity | None = None
    """The latest live parity check."""
    rejected: RejectedVariant | None = None
    """The latest variant rolled back, and why."""
    replicas: Annotated[int, Field(ge=0)] | None = None
    """Servers ready for the serving variant."""


class ModelDeployment(Resource):
    """Serves a verified, gated ModelVersion on the hardware it was converted for."""

    info = KindInfo(
        kind="ModelDeployment",
        plural="modeldeployments",
        short_names=("mdep",),
        columns=(
            PrinterColumn("Model", ".spec.modelRef.name"),
            PrinterColumn("Hardware", ".spec.hardware"),
            PrinterColumn("Serving", ".status.serving.variant"),
            PrinterColumn("Format", ".status.serving.format"),
            PrinterColumn("Canary", ".status.canary.variant", priority=1),
            PrinterColumn("Phase", ".status.phase"),
            REASON,
            PrinterColumn("URL", ".status.url"),
            PrinterColumn("Parity", ".status.parity.passed", "boolean", priority=1),
            MESSAGE,
            AGE,
        ),
    )

    api_version: Literal[API_VERSION] = API_VERSION
    kind: Literal["ModelDeployment"] = "ModelDeployment"
    spec: ModelDeploymentSpec
    status: ModelDeploymentStatus | None = None
