"""ConversionJob: turn a Ready ModelVersion into a new, verified ModelVersion for a target."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from modelyard.api.base import ApiModel
from modelyard.api.common import (
    API_VERSION,
    Hardware,
    JobStatus,
    LocalObjectReference,
    NameText,
    ObjectName,
    ResourceRequirements,
    SemanticVersion,
    SourceUri,
)
from modelyard.api.modelversion import Artifact
from modelyard.api.resource import AGE, MESSAGE, REASON, KindInfo, PrinterColumn, Resource
from modelyard.api.rules import Rule, immutable, matches

TargetFormat = Literal[
    "onnx", "onnx-fp16", "onnx-int8", "torchscript", "openvino", "tensorrt-plan", "ascend-om"
]


class Quantization(ApiModel):
    """INT8 quantization settings."""

    rules = (
        Rule(
            cel="self.mode != 'static' || has(self.calibrationUri)",
            message="static quantization needs calibrationUri: an npz of representative inputs",
            check=lambda q: q.mode != "static" or q.calibration_uri is not None,
        ),
    )

    mode: Literal["dynamic", "static"] = "dynamic"
    """`dynamic` quantizes weights ahead of time and activations at run time; `static` also
    quantizes activations, with ranges measured on `calibrationUri` (QDQ format)."""
    calibration_uri: SourceUri | None = None
    """An npz file of representative inputs (arrays named like the model's inputs)."""


class AscendOptions(ApiModel):
    """Options for CANN's `atc` when building an Ascend offline model (OM)."""

    soc_version: Annotated[
        str,
        Field(max_length=32),
        matches("Ascend[0-9A-Za-z]+", "must be an Ascend SoC version such as Ascend910B or Ascend310P3"),
    ]
    """Target chip, passed to `atc --soc_version`, e.g. `Ascend910B`, `Ascend310P3`."""
    precision_mode: Literal[
        "force_fp16",
        "allow_mix_precision",
        "must_keep_origin_dtype",
        "force_fp32",
        "allow_fp32_to_fp16",
    ] = "allow_fp32_to_fp16"
    """Passed to `atc --precision_mode`."""


class ConversionTarget(ApiModel):
    """What to convert to and where it will run."""

    rules = (
        Rule(
            cel="self.format != 'ascend-om' || self.hardware == 'ascend'",
            message="format ascend-om runs only on hardware ascend",
            check=lambda t: t.format != "ascend-om" or t.hardware == "ascend",
        ),
        Rule(
            cel="self.format != 'tensorrt-plan' || self.hardware == 'gpu'",
            message="format tensorrt-plan runs only on hardware gpu",
            check=lambda t: t.format != "tensorrt-plan" or t.hardware == "gpu",
        ),
        Rule(
            cel="self.format != 'ascend-om' || has(self.ascend)",
            message="format ascend-om needs ascend.socVersion (e.g. Ascend910B)",
            check=lambda t: t.format != "ascend-om" or t.ascend is not None,
        ),
        Rule(
            cel="!has(self.ascend) || self.format == 'ascend-om'",
            message="ascend options apply only to format ascend-om",
            check=lambda t: t.ascend is None or t.format == "ascend-om",
        ),
        Rule(
            cel="!has(self.quantization) || self.format == 'onnx-int8'",
            message="quantization applies only to format onnx-int8",
            check=lambda t: t.quantization is None or t.format == "onnx-int8",
        ),
    )

    format: TargetFormat
    """Output format: ONNX (fp32), ONNX FP16, ONNX INT8, TorchScript, OpenVINO IR, a TensorRT
    plan (gpu) or an Ascend offline model (ascend)."""
    hardware: Hardware = "cpu"
    """Hardware the output runs on; the Job runs on that hardware's nodes so that the
    verification and latency figures are measured where the model will serve."""
    opset: Annotated[int, Field(ge=7, le=23)] | None = None
    """ONNX opset for the export; the worker's default (18) when unset."""
    quantization: Quantization | None = None
    """INT8 settings (format onnx-int8); dynamic quantization when unset."""
    ascend: AscendOptions | None = None
    """Ascend options (format ascend-om)."""


class ConversionOutput(ApiModel):
    """The ModelVersion the conversion creates."""

    name: ObjectName | None = None
    """Name of the output ModelVersion; the ConversionJob's name when unset."""
    version: SemanticVersion | None = None
    """Semantic version of the output; the source's version with build metadata naming the
    target (e.g. `1.0.0+onnx-fp16.gpu`) when unset."""


class VerifySpec(ApiModel):
    """Numerical-equivalence check of the converted model against its source."""

    enabled: bool = True
    """Run the check (on by default). A failed check fails the job and registers no output."""
    atol: Annotated[float, Field(ge=0)] | None = None
    """Absolute tolerance; per-format default when unset (tight for fp32, looser for fp16)."""
    rtol: Annotated[float, Field(ge=0)] | None = None
    """Relative tolerance; per-format default when unset."""
    samples: Annotated[int, Field(ge=1, le=10000)] = 16
    """Number of inputs to compare on at each shape (from `inputsUri` or calibration data when
    given, else generated from the signature)."""
    inputs_uri: SourceUri | None = None
    """An npz file of real inputs (arrays named like the model's inputs, the first axis indexing
    samples) to verify and compare on; cropped or zero-padded on dynamic axes to the sizes
    checked. Without it, calibration data is used when given, else generated inputs."""
    min_top1_agreement: Annotated[float, Field(ge=0, le=1)] | None = None
    """For classifiers: the least fraction of samples whose arg-max must agree (how INT8 is
    judged); per-format default when unset."""
    classifier_outputs: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=256)]], Field(max_length=64)
    ] | None = None
    """The outputs that hold class scores, judged by top-1 agreement; other rank-2 outputs are
    compared as vectors (cosine; INT8 embeddings need 0.95 in every sample). When unset, a rank-2
    float output is a classifier unless its name marks an embedding (embed, feature, pool,
    hidden, vector, encod, repr); `[]` means none."""


class ConversionJobSpec(ApiModel):
    """Desired state of a ConversionJob. Immutable once created."""

    immutable = immutable("spec is immutable: create a new ConversionJob instead")

    source_ref: LocalObjectReference
    """The ModelVersion to convert; the job waits until it is Ready."""
    target: ConversionTarget
    """Output format and hardware."""
    output: ConversionOutput | None = None
    """Name and version of the output ModelVersion."""
    verify: VerifySpec | None = None
    """Equivalence check settings (on with per-format tolerances when unset)."""
    resources: ResourceRequirements | None = None
    """Worker resources, overriding the hardware profile's defaults."""


class OutputVerification(ApiModel):
    """Verification figures of one output tensor."""

    model_config = {"strict": False}

    name: Annotated[str, Field(max_length=256)]
    """Output tensor name."""
    max_abs_diff: float
    """Largest absolute difference."""
    max_rel_diff: float
    """Largest relative difference."""
    top1_agreement: float | None = None
    """Fraction of samples whose arg-max agrees (classifiers)."""
    min_cosine: float | None = None
    """Least cosine similarity of a sample's output vector to the source's (rank-2 outputs)."""
    similarity_rank: float | None = None
    """Embeddings: rank correlation (Spearman) of the similarities between samples, converted
    against source: whether retrieval would rank neighbours the same way."""
    judged_as: Literal["classifier", "embedding", "values"] | None = None
    """How the output was judged: class scores (top-1 agreement), an embedding (cosine) or
    values (element-wise)."""
    passed: bool
    """Whether this output is within tolerance."""


class AxisCheck(ApiModel):
    """The sizes one dynamic input axis was verified at."""

    model_config = {"strict": False}

    input: Annotated[str, Field(max_length=256)]
    """The input's name."""
    axis: int
    """The axis (0-based)."""
    sizes: Annotated[list[int], Field(max_length=8)] = []
    """The sizes it was checked at; one size only: the converted model is verified there alone
    (the source was not shown to take another), though the axis stays dynamic."""
    batch: bool | None = None
    """Whether it is the input's batch axis."""


class Verification(ApiModel):
    """Outcome of the equivalence check."""

    model_config = {"strict": False}

    passed: bool
    """Whether every output is within tolerance."""
    max_abs_diff: float | None = None
    """Largest absolute difference over all outputs."""
    max_rel_diff: float | None = None
    """Largest relative difference over all outputs."""
    top1_agreement: float | None = None
    """Smallest top-1 agreement over classifier outputs."""
    atol: float | None = None
    """Absolute tolerance applied."""
    rtol: float | None = None
    """Relative tolerance applied."""
    samples: int | None = None
    """Inputs compared at each of the `shapes` (what spec.verify.samples asked for); the
    comparisons number this times the count of shapes."""
    inputs: Literal["given", "generated"] | None = None
    """Whether the inputs were the user's (verify.inputsUri or calibration data) or generated
    from the signature."""
    note: Annotated[str, Field(max_length=1024)] | None = None
    """What limits the evidence (e.g. integer inputs generated without a known range)."""
    shapes: Annotated[list[dict[str, list[int]]], Field(max_length=8)] = []
    """The input shapes checked (input name -> shape in one run): the batch and every other
    dynamic axis at two sizes where the source takes them (`axes` says which had one). The
    converted model is verified at these shapes and no others."""
    outputs: Annotated[list[OutputVerification], Field(max_length=64)] = []
    """Per-output figures."""
    axes: Annotated[list[AxisCheck], Field(max_length=64)] = []
    """Every dynamic input axis and the sizes it was checked at."""


class Performance(ApiModel):
    """Latency and size of one model on the job's own hardware."""

    model_config = {"strict": False}

    latency_p50_ms_batch1: float | None = None
    """Median latency at batch size 1, in milliseconds."""
    latency_p50_ms_batch_n: float | None = None
    """Median latency at `batchSize`, in milliseconds."""
    batch_size: int | None = None
    """The larger batch size measured."""
    size_bytes: int | None = None
    """Model size in bytes."""


class Benchmark(ApiModel):
    """Source versus converted model, measured in the same job, so that nobody ships a slower
    'optimised' model without seeing it."""

    model_config = {"strict": False}

    source: Performance | None = None
    """The source model."""
    output: Performance | None = None
    """The converted model."""
    speedup_batch1: float | None = None
    """Source latency / converted latency at batch 1 (below 1 means slower)."""
    speedup_batch_n: float | None = None
    """Source latency / converted latency at the larger batch."""
    size_ratio: float | None = None
    """Converted size / source size."""
    measured_on: Annotated[str, Field(max_length=256)] | None = None
    """Where both were measured: CPU architecture and model, execution provider or device
    (in local mode this is the local machine, whatever the target hardware)."""
    inputs: Literal["given", "generated"] | None = None
    """Whether latency was measured on the user's inputs (verify.inputsUri or calibration data,
    at their own sizes) or on inputs generated at the signature's sizes."""
    shapes: Annotated[list[dict[str, list[int]]], Field(max_length=2)] = []
    """The input shapes latency was measured at (input name -> shape): batch 1, then batch N."""


class ConversionJobStatus(JobStatus):
    """Observed state of a ConversionJob."""

    output_version: NameText | None = None
    """The ModelVersion created from the output."""
    artifact: Artifact | None = None
    """The stored output artifact."""
    verification: Verification | None = None
    """Equivalence check outcome."""
    benchmark: Benchmark | None = None
    """Latency and size, source versus output."""


class ConversionJob(Resource):
    """Converts a Ready ModelVersion for the hardware it will run on and verifies the result."""

    info = KindInfo(
        kind="ConversionJob",
        plural="conversionjobs",
        short_names=("cvj",),
        columns=(
            PrinterColumn("Source", ".spec.sourceRef.name"),
            PrinterColumn("Target", ".spec.target.format"),
            PrinterColumn("Hardware", ".spec.target.hardware"),
            PrinterColumn("Phase", ".status.phase"),
            REASON,
            PrinterColumn("Output", ".status.outputVersion"),
            PrinterColumn("Speedup", ".status.benchmark.speedupBatch1", "number", priority=1),
            MESSAGE,
            AGE,
        ),
    )

    api_version: Literal[API_VERSION] = API_VERSION
    kind: Literal["ConversionJob"] = "ConversionJob"
    spec: ConversionJobSpec
    status: ConversionJobStatus | None = None
