"""Which ModelVersion a ModelDeployment serves: the version asked for (pinned or tracked), then
the variant among it and the versions converted from it that runs on the hardware, passed its
gates, and measured fastest."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.api import conditions as C
from modelyard.api.conversionjob import ConversionJob
from modelyard.api.modeldeployment import ModelDeployment
from modelyard.api.modelversion import ModelVersion
from modelyard.core.conditions import get_condition
from modelyard.core.modelversion import producer
from modelyard.core.semver import SemVer
from modelyard.core.speed import speed_phrase

PREFERENCE: dict[str, tuple[str, ...]] = {
    "gpu": ("tensorrt-plan", "onnx-fp16", "onnx", "torchscript"),
    "arm": ("onnx-int8", "onnx", "torchscript"),
    "cpu": ("openvino", "onnx-int8", "onnx", "torchscript"),
    "ascend": (),
}
"""Formats a server runs on each hardware, best first when nothing was measured. Ascend OM
models are served by MindIE, which Modelyard does not deploy."""


@dataclass(frozen=True)
class Choice:
    version: ModelVersion
    """The version asked for."""
    variant: ModelVersion
    """The one to serve: `version` or one converted from it."""
    format: str
    """What it is served as (onnx-int8, openvino, ...)."""
    reason: str


@dataclass(frozen=True)
class NoChoice:
    reason: str
    message: str
    final: bool = False
    """A person must act (nothing that may still happen would help)."""


def _ready(version: ModelVersion) -> bool:
    return bool(version.status and version.status.phase == "Ready")


def gate(version: ModelVersion) -> bool | None:
    """The version's latest evaluation verdict: True passed, False failed, None none yet."""
    found = get_condition([c.model_dump(by_alias=True) for c in (version.status.conditions if version.status else [])],
                          C.EVALUATED)
    return None if found is None else found.get("status") == "True"


def _converted(version: ModelVersion) -> bool:
    return bool(producer(version) and producer(version)[0] == "ConversionJob")


def family(version: ModelVersion, versions: list[ModelVersion]) -> list[ModelVersion]:
    """The version and the versions converted from it."""
    children = [v for v in versions if v.spec.lineage and v.spec.lineage.parent_version == version.name and _converted(v)]
    return [version, *sorted(children, key=lambda v: v.name)]


def served_format(variant: ModelVersion, conversions: list[ConversionJob]) -> str:
    """What the variant is as a served artifact: a converted version's ModelVersion format is
    its file format (`onnx` for FP16 and INT8 alike); its ConversionJob's target says which."""
    lineage = variant.spec.lineage
    made_by = lineage.conversion_job if lineage else None
    job = next((j for j in conversions if j.name == made_by), None) if made_by else None
    if job is not None:
        return job.spec.target.format
    build = variant.spec.version.partition("+")[2].split(".")[0]
    # the default output version names the target (1.0.0+onnx-int8.arm)
    return build if build.startswith(variant.spec.format) and build in _ALL_FORMATS else variant.spec.format


_ALL_FORMATS = {f for formats in PREFERENCE.values() for f in formats}


def _fits(variant: ModelVersion, fmt: str, deployment: ModelDeployment) -> bool:
    spec = deployment.spec
    made_for = variant.status.hardware if variant.status else None
    if made_for is not None and made_for != spec.hardware:
        return False
    return fmt in PREFERENCE[spec.hardware] and spec.format in (None, fmt)


def _speedups(conversions: list[ConversionJob]) -> dict[str, float]:
    found = {}
    for job in conversions:
        status = job.status
        if status and status.output_version and status.benchmark and status.benchmark.speedup_batch1:
            found[status.output_version] = float(status.benchmark.speedup_batch1)
    return found


def choose_variant(deployment: ModelDeployment, version: ModelVersion, versions: list[ModelVersion],
                   conversions: list[ConversionJob]) -> Choice | NoChoice:
    """Among `version`'s family: Ready, fit for the hardware, gates passed; fastest first."""
    spec = deployment.spec
    hardware = spec.hardware
    if not PREFERENCE[hardware]:
        return NoChoice("NoServerForHardware", f"no server of Modelyard runs models on {hardware} (Ascend OM models "
                        "are served by MindIE); deploy it with MindIE, or serve a cpu/gpu/arm variant", final=True)
    members = [version] if _converted(version) else family(version, versions)
    formats = {v.name: served_format(v, conversions) for v in members}
    fitting = [v for v in members if _ready(v) and _fits(v, formats[v.name], deployment)]
    if not fitting:
        wanted = f"format {spec.format}" if spec.format else f"one of {', '.join(PREFERENCE[hardware])}"
        have = ", ".join(f"{v.name} ({formats[v.name]}{', ' + v.status.hardware if v.status and v.status.hardware else ''})"
                         for v in members if _ready(v)) or "none Ready"
        return NoChoice("NoVariantForHardware", f"{version.name} has no Ready variant for {hardware} ({wanted}); "
                        f"have: {have}. Convert it with a ConversionJob (target.hardware: {hardware})")
    passed = [v for v in fitting if gate(v)]
    if not passed:
        verdicts = ", ".join(f"{v.name}: {'gates failed' if gate(v) is False else 'not evaluated'}" for v in fitting)
        return NoChoice("NotGated", f"no variant of {version.name} for {hardware} passed its gates ({verdicts}); "
                        "an EvaluationJob whose gates pass makes one servable")
    speed = _speedups(conversions)
    order = PREFERENCE[hardware]
    best = sorted(passed, key=lambda v: (-speed.get(v.name, 1.0), order.index(formats[v.name]), v.name))[0]
    why = f"{formats[best.name]} for {hardware}"
    if best.name in speed:
        source = (best.spec.lineage.parent_version if best.spec.lineage else None) or version.name
        why += f", {speed_phrase(speed[best.name])} than {source} (measured by its ConversionJob)"
    if len(passed) > 1:
        why += f"; chosen over {', '.join(v.name for v in passed if v is not best)}"
    return Choice(version=version, variant=best, format=formats[best.name], reason=why + "; gates passed")


def choose(deployment: ModelDeployment, versions: list[ModelVersion],
           conversions: list[ConversionJob]) -> Choice | NoChoice:
    """The version asked for and its variant, or why there is none (yet)."""
    spec = deployment.spec
    mine = [v for v in versions if v.spec.model_ref.name == spec.model_ref.name]
    if spec.version_ref is not None:
        name = spec.version_ref.name
        version = next((v for v in mine if v.name == name), None)
        if version is None:
            other = next((v for v in versions if v.name == name), None)
            if other is not None:
                return NoChoice("VersionOfAnotherModel", f"ModelVersion {name!r} belongs to Model "
                                f"{other.spec.model_ref.name!r}, not {spec.model_ref.name!r}", final=True)
            return NoChoice("VersionNotFound", f"ModelVersion {name!r} does not exist (yet)")
        phase = version.status.phase if version.status else None
        if phase == "Failed":
            return NoChoice("VersionFailed", f"ModelVersion {name!r} failed: {version.status.message or ''}", final=True)
        if phase != "Ready":
            return NoChoice("WaitingForVersion", f"waiting for ModelVersion {name!r} to be Ready (now {phase or 'Pending'})")
        return choose_variant(deployment, version, mine, conversions)
    roots = sorted((v for v in mine if not _converted(v) and _ready(v)), key=lambda v: SemVer(v.spec.version), reverse=True)
    misses = []
    for root in roots:
        found = choose_variant(deployment, root, mine, conversions)
        if isinstance(found, Choice):
            return found
        misses.append(found.message)
    detail = f": newest {misses[0]}" if misses else ""
    return NoChoice("NoPassingVersion", f"no version of Model {spec.model_ref.name!r} has a variant for "
                    f"{spec.hardware} that passed its gates yet{detail}")
