"""run_convert: source version -> verified, benchmarked output version.

Nothing is uploaded until the converted model has passed verification; the manifest is written
last, so a failed or interrupted job never leaves a version that looks complete."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from modelyard.api.common import Signature
from modelyard.api.conversionjob import ConversionJobSpec, ConversionTarget, VerifySpec
from modelyard.api.modelversion import ModelVersion
from modelyard.storage.base import Store, StoreError
from modelyard.storage.config import S3Settings
from modelyard.storage.layout import RESULT, Manifest, VersionWriter, read_manifest, version_prefix
from modelyard.worker.convert import benchmark as benchmarking
from modelyard.worker.convert import shapes
from modelyard.worker.convert import inputs as sample_inputs
from modelyard.worker.convert import parity_samples
from modelyard.worker.convert import triton
from modelyard.worker.convert.build import build, check_pair, output_format
from modelyard.worker.convert.errors import INVALID_SPEC, VERIFICATION_FAILED, ConversionError
from modelyard.worker.convert.inputs import Batch
from modelyard.worker.convert.layout import find
from modelyard.worker.convert.openvino import describe as describe_fixed, fixed_signature
from modelyard.worker.convert.load import Source, fetch, load
from modelyard.worker.convert.reproduce import script
from modelyard.worker.convert.verify import tolerance, verify
from modelyard.worker.importer import tool_versions

TOOLS = ("torch", "onnx", "onnxruntime", "onnxscript", "onnxslim", "openvino", "numpy")


@dataclass
class ConvertJob:
    """Everything one conversion needs."""

    namespace: str
    name: str
    """The ConversionJob's name."""
    spec: ConversionJobSpec
    source: ModelVersion
    """The Ready source version (its files are in `store`)."""
    store: Store
    workdir: Path
    s3: S3Settings | None = None
    progress: Callable[[str], None] | None = None
    """Called with each stage: export, optimise, quantize, verify, benchmark, upload."""
    template_dir: Path | None = None
    started: float = field(default_factory=time.monotonic)

    def stage(self, name: str) -> None:
        if self.progress is not None:
            self.progress(name)


def output_version(source_version: str, target: ConversionTarget) -> str:
    """`<source version>+<format>.<hardware>`; the source's own build metadata is replaced
    (semver allows one `+`)."""
    core = source_version.split("+", 1)[0]
    return f"{core}+{target.format}.{target.hardware}"


def run_convert(job: ConvertJob) -> dict[str, Any]:
    """Convert, verify, measure, store; returns the result (also stored as result.json)."""
    spec, target = job.spec, job.spec.target
    model = job.source.spec.model_ref.name
    name = (spec.output.name if spec.output else None) or job.name
    version = (spec.output.version if spec.output else None) or output_version(job.source.spec.version, target)
    check_pair(job.source.spec.format, target)
    prefix = version_prefix(job.namespace, model, version)
    previous = _previous_result(job, prefix)
    if previous is not None:
        return previous

    job.stage("fetch")
    folder, size, digest = fetch(job.store, job.namespace, job.source, job.workdir / "source")
    job.stage("load")
    source = load(folder, job.source, size, digest, job.template_dir)
    _check_classifiers(spec.verify, source.signature)
    calibration = _calibration(job, source)
    given = _verification_data(job, source) or calibration
    source_runner = source.runner(target.hardware)
    layout = source.layout or find(source.signature)
    verifying = spec.verify is None or spec.verify.enabled
    # The shapes to verify at come first: a converter that needs some axes static is given these.
    chosen = shapes.cases(source.signature, spec.verify.samples if spec.verify else 16, source.bounds, given,
                          layout, _accepts(source, source_runner)) if verifying else []
    built = build(source, target, job.workdir / "build", job.stage, calibration, chosen[0].shapes if chosen else None,
                  given)
    signature = fixed_signature(source.signature, built.fixed, built.frozen)
    chosen = [case for case in chosen if _fits(case, built.fixed)]

    converted_runner = built.runner()
    verification = None
    parity: bytes | None = None
    if verifying:
        job.stage("verify")

        def data(case: shapes.Case) -> Batch:
            return shapes.fit(given, case) if given else shapes.generate(source.signature, case, vocabulary=source.vocabulary)

        outputs = source.signature.outputs
        tol = tolerance(target, spec.verify)
        try:
            verification = verify(source_runner, converted_runner, chosen, data, [t.name for t in outputs],
                                  tol, [layout.outputs.get(t.name) for t in outputs], signature)
        except ConversionError as error:
            if error.reason != VERIFICATION_FAILED or not built.caveat:
                raise
            raise ConversionError(VERIFICATION_FAILED, f"{error.message}; {built.caveat}") from None
        # only the cases verification kept (it drops an optional size the source refuses)
        verified = [case for case in chosen if shapes.record([case])[0] in verification["shapes"]]
        parity = parity_samples.record(converted_runner, parity_samples.choose(verified, data),
                                       [t.name for t in signature.inputs], [t.name for t in outputs], tol,
                                       output_format(target.format))
        verification["inputs"] = "given" if given else "generated"
        weak = [] if given else shapes.weak_inputs(source.signature, source.vocabulary)
        notes = [verification.get("note", "")]
        if weak:
            notes.append(f"integer input(s) {', '.join(weak)} were generated as 0s and 1s (the table they index is "
                         f"not known): weak evidence; give verify.inputsUri with real inputs")
        if layout.describe():
            notes.append(f"samples on their batch axes: {layout.describe()}")
        if built.fixed or built.frozen:
            notes.append(f"{describe_fixed(built.fixed, built.frozen)} in the output (its converter needs them static): "
                         "its signature says so and it was verified at those sizes and values only")
        if any(notes):
            verification["note"] = "; ".join(n for n in notes if n)[:1024]

    job.stage("benchmark")
    output_size = sum(p.stat().st_size for p in built.files.values())
    batches = [a["sizes"] for a in (verification or {}).get("axes", []) if a.get("batch")]
    measured_on = benchmarking.inputs(signature, layout, given, source.bounds,
                                      batch_n=not batches or any(len(sizes) > 1 for sizes in batches))
    bench = benchmarking.benchmark(
        *benchmarking.performance([source_runner, converted_runner], [source.size_bytes, output_size], measured_on),
        measured_on, given is not None,
    )

    job.stage("upload")
    return _store(job, source, built, name, model, version, prefix, verification, bench, signature, parity)


def _fits(case: shapes.Case, fixed: dict[str, dict[int, int]]) -> bool:
    return all(case.shapes[name][axis] == size for name, axes in fixed.items() for axis, size in axes.items())


def _accepts(source: Source, runner: Any) -> shapes.Accepts:
    """Whether the source runs at given shapes (batch 1), on generated inputs: the sizes to
    verify at when the user gave no data."""

    def probe(chosen: dict[str, tuple[int, ...]]) -> bool:
        try:
            runner(shapes.random_inputs(source.signature, chosen, vocabulary=source.vocabulary))
        except Exception:  # noqa: BLE001 - refusing a size is the answer
            return False
        return True

    return probe


def _previous_result(job: ConvertJob, prefix: str) -> dict[str, Any] | None:
    """A retried job whose output is already complete returns the stored result; an output
    version made by anything else is never overwritten."""
    found = read_manifest(job.store, prefix)
    if found is None:
        return None
    manifest, _ = found
    if manifest.lineage.get("conversionJob") != job.name or not job.store.exists(f"{prefix}/{RESULT}"):
        raise StoreError(
            "AlreadyExists",
            f"{job.store.describe(prefix)}/ already holds version {manifest.version}; versions are immutable: set spec.output.version",
        )
    result = json.loads(job.store.get_bytes(f"{prefix}/{RESULT}"))
    return {**result, "reason": "AlreadyConverted", "message": f"version {manifest.version} was already converted by this job"}


def _check_classifiers(spec: VerifySpec | None, signature: Signature) -> None:
    named = spec.classifier_outputs if spec is not None else None
    outputs = [t.name for t in signature.outputs]
    unknown = [name for name in named or [] if name not in outputs]
    if unknown:
        raise ConversionError(
            INVALID_SPEC, f"spec.verify.classifierOutputs: {', '.join(repr(n) for n in unknown)} "
            f"{'is not an output' if len(unknown) == 1 else 'are not outputs'} of the source model; its outputs are {', '.join(outputs)}",
        )


def _calibration(job: ConvertJob, source: Source) -> Batch | None:
    quantization = job.spec.target.quantization
    return _npz(job, source, quantization.calibration_uri if quantization else None)


def _verification_data(job: ConvertJob, source: Source) -> Batch | None:
    return _npz(job, source, job.spec.verify.inputs_uri if job.spec.verify else None)


def _npz(job: ConvertJob, source: Source, uri: str | None) -> Batch | None:
    if not uri:
        return None
    from modelyard.worker.source import open_source, redact

    with open_source(uri, job.s3) as stream:
        data = stream.read()
    return sample_inputs.load_npz(data, source.signature, redact(uri), source.layout)


def _store(job: ConvertJob, source: Source, built: Any, name: str, model: str, version: str, prefix: str,
           verification: dict[str, Any] | None, bench: dict[str, Any], signature: Signature,
           parity: bytes | None = None) -> dict[str, Any]:
    target = job.spec.target
    fmt = output_format(target.format)
    tools = tool_versions(*TOOLS)
    steps = built.steps + built.commands
    lineage = {
        "parentVersion": job.source.metadata.name,
        "parentDigest": source.digest,
        "conversionJob": job.name,
        "format": fmt,
        "targetFormat": target.format,
        "hardware": target.hardware,
        "exporter": built.exporter,
        "steps": steps,
        "commands": built.commands,
        "tools": tools,
    }
    extra: dict[str, bytes] = {
        "reproduce.sh": script(
            job.name, job.source.metadata.name, f"{name} {version}",
            {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ConversionJob",
             "metadata": {"name": job.name, "namespace": job.namespace}, "spec": job.spec.to_dict()},
            job.source.model_dump(by_alias=True, exclude_none=True, mode="json"),
            steps, built.commands, tools,
        ).encode()
    }
    if parity is not None:
        extra[parity_samples.FILE] = parity
    if triton.supports(fmt):
        extra["config.pbtxt"] = triton.config_pbtxt(name, fmt, signature, target.hardware).encode()
    writer = VersionWriter(job.store, prefix)
    try:
        entries = []
        for path, local in sorted(built.files.items()):
            with local.open("rb") as stream:
                entries.append(writer.put_file(path, stream))
        for path, data in extra.items():
            entries.append(writer.put_file(path, io.BytesIO(data)))
        manifest = Manifest(
            namespace=job.namespace, model=model, name=name, version=version, format=fmt, files=entries,
            signature=signature.to_dict(), inspection=_inspection(built), lineage=lineage,
            source={"modelVersion": job.source.metadata.name, "version": job.source.spec.version, "digest": source.digest},
            tools=tools, created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        digest = writer.commit(manifest)
    except BaseException:
        writer.abort()
        raise
    model_bytes = sum(e.size_bytes for e in entries if e.path in built.files)
    message = f"converted to {target.format} for {target.hardware} ({built.exporter} export), {model_bytes} bytes"
    if verification:
        count = len(verification["shapes"])
        message += (f"; verified on {verification['samples']} {verification['inputs']} samples at "
                    f"{f'each of {count} shapes' if count > 1 else '1 shape'} (max abs diff {verification['maxAbsDiff']:.3g})")
    speed = benchmarking.summary(bench)
    if speed:
        message += f"; {speed}"
    result = {
        "ok": True, "kind": "convert", "phase": "Succeeded", "reason": "Converted", "message": message,
        "outputVersion": {"name": name, "version": version, "format": fmt, "hardware": target.hardware},
        "artifact": {"uri": job.store.describe(prefix) + "/", "digest": digest, "sizeBytes": manifest.size_bytes,
                     "files": [f.model_dump(by_alias=True) for f in manifest.files]},
        "signature": manifest.signature, "lineage": {k: lineage[k] for k in ("parentVersion", "conversionJob")},
        "verification": verification, "benchmark": bench, "exporter": built.exporter,
        "durationSeconds": round(time.monotonic() - job.started, 3),
    }
    writer.write_result(result)
    return result


def _inspection(built: Any) -> dict[str, Any]:
    if built.onnx is None or not built.files.get("1/model.onnx"):
        return {}
    from modelyard.worker.inspect import inspect_model

    return inspect_model(built.onnx, "onnx").to_status()


