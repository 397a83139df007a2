"""Build the target format from the loaded source, stage by stage; returns the files of the
output model (relative name -> local path), a runner for it, and the steps taken."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from modelyard.api.conversionjob import ConversionTarget
from modelyard.worker.convert import export as exporting
from modelyard.worker.convert import tools
from modelyard.worker.convert.errors import INVALID_CALIBRATION, UNSUPPORTED_CONVERSION, ConversionError
from modelyard.worker.convert.inputs import Batch
from modelyard.worker.convert.layout import find
from modelyard.worker.convert.load import TORCH_FORMATS, Source
from modelyard.worker.convert.probe import probe
from modelyard.worker.convert.mlops import standard_copy
from modelyard.worker.convert.runners import Runner, onnx_runner, openvino_runner, tensorrt_runner, torch_runner

ONNX_TARGETS = ("onnx", "onnx-fp16", "onnx-int8")
HARDWARE = {
    "onnx": ("cpu", "gpu", "arm"),
    "onnx-fp16": ("cpu", "gpu", "arm"),
    "onnx-int8": ("cpu", "gpu", "arm"),
    "torchscript": ("cpu", "gpu", "arm"),
    "openvino": ("cpu", "arm"),
    "tensorrt-plan": ("gpu",),
    "ascend-om": ("ascend",),
}
"""Target format -> hardware it can run on."""
OUTPUT_FORMAT = {"onnx-fp16": "onnx", "onnx-int8": "onnx"}
"""Target format -> the ModelVersion format of the output (the api's ModelFormat)."""

Stage = Callable[[str], None]


@dataclass
class Built:
    files: dict[str, Path]
    """Path inside the version -> local file."""
    runner: Callable[[], Runner]
    exporter: str = "none"
    steps: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    """External tool commands (trtexec, atc), exactly as run."""
    onnx: Path | None = None
    """The final ONNX file, when the output is ONNX."""
    kept: list[str] = field(default_factory=list)
    """Nodes left in the source's precision (fp16: control flow, recurrent operators)."""
    frozen: dict[str, object] = field(default_factory=dict)
    """Shared inputs the output no longer takes, held at the value the user's data gave them."""
    fixed: dict[str, dict[int, int]] = field(default_factory=dict)
    """Input axes the output takes at one size only (input -> axis -> size), though the source's
    are dynamic: where the target's converter needs them static."""
    caveat: str = ""
    """Why the target's runtime may compute otherwise than the source's (said with a refusal)."""


def output_format(target_format: str) -> str:
    return OUTPUT_FORMAT.get(target_format, target_format)


def check_pair(source_format: str, target: ConversionTarget) -> None:
    """Refuse conversions that cannot exist, before any work."""
    if target.hardware not in HARDWARE[target.format]:
        raise ConversionError(
            UNSUPPORTED_CONVERSION,
            f"format {target.format} does not run on hardware {target.hardware}; it runs on {', '.join(HARDWARE[target.format])}",
        )
    if source_format not in TORCH_FORMATS + ("onnx",):
        raise ConversionError(
            UNSUPPORTED_CONVERSION,
            f"a {source_format} model is built for one runtime and cannot be converted; convert the PyTorch or ONNX version it came from",
        )
    if target.format == "torchscript" and source_format == "onnx":
        raise ConversionError(
            UNSUPPORTED_CONVERSION, "ONNX cannot be converted to TorchScript; convert the PyTorch version it was exported from"
        )


def build(source: Source, target: ConversionTarget, work: Path, stage: Stage, calibration: Batch | None,
          sizes: dict[str, tuple[int, ...]] | None = None, values: Batch | None = None) -> Built:
    """The converted model; `sizes`: the input shapes verification runs at first, for a converter
    that needs axes static, and `values` the user's inputs (see openvino.py)."""
    work.mkdir(parents=True, exist_ok=True)
    if target.format == "torchscript":
        from modelyard.worker.convert.torchscript import to_torchscript

        stage("export")
        path = work / "model.pt"
        step = to_torchscript(source.module, source.signature, path, source.bounds, sizes)
        if source.format == "pytorch-exportedprogram":
            from modelyard.worker.convert.probe import probe_torchscript
            from modelyard.worker.convert.shapes import example, example_at, random_inputs

            # not the traced batch size
            at = example_at(source.signature, sizes, 3) if sizes else example(source.signature, source.bounds, 3)
            probe_torchscript(path, random_inputs(source.signature, at))

        def script_runner() -> Runner:
            import torch

            return torch_runner(torch.jit.load(str(path), map_location="cpu").eval(), source.signature)

        return Built({"1/model.pt": path}, script_runner, "torch.jit.trace", [step])

    built = _onnx(source, target, work, stage, sizes, values)
    onnx_path = built.onnx
    assert onnx_path is not None
    hardware = target.hardware
    if target.format == "onnx-fp16":
        from modelyard.worker.convert.fp16 import to_fp16

        stage("quantize")
        path = work / "model.fp16.onnx"
        half = to_fp16(onnx_path, path)
        built.steps.append(half.step)
        built.kept = half.kept
        probe(path, "fp16")
        built.onnx = path
    elif target.format == "onnx-int8":
        from modelyard.worker.convert import quantize

        stage("quantize")
        path = work / "model.int8.onnx"
        mode = target.quantization.mode if target.quantization else "dynamic"
        if mode == "static":
            if calibration is None:
                raise ConversionError(INVALID_CALIBRATION, "static quantization needs quantization.calibrationUri")
            built.steps += quantize.quantize_static(onnx_path, path, calibration, source.layout)
        else:
            built.steps += quantize.quantize_dynamic(onnx_path, path, hardware)
        probe(path, "int8")
        built.onnx = path
    exporting.keeps_dynamic(source.signature, built.onnx)
    if target.format not in ONNX_TARGETS:
        stage("convert")
        # Converters other than onnxruntime have no scikit-learn operators (mlops.py).
        onnx_path, lowered = standard_copy(onnx_path, work / "standard.onnx")
        built.steps += lowered
    if target.format in ONNX_TARGETS:
        final = built.onnx
        assert final is not None
        built.files = {"1/model.onnx": final, **_external_data(final, "1/")}
        built.runner = lambda: onnx_runner(final, hardware)
        return built
    if target.format == "openvino":
        from modelyard.worker.convert.openvino import to_openvino

        xml = work / "ov" / "model.xml"
        xml.parent.mkdir(exist_ok=True)
        converted = to_openvino(onnx_path, xml, source.signature, source.layout or find(source.signature), sizes, values)
        built.steps.append(converted.step)
        built.fixed, built.frozen = converted.fixed, {**built.frozen, **converted.frozen}
        built.caveat = converted.caveat
        built.files = {"1/model.xml": xml, "1/model.bin": xml.with_suffix(".bin")}
        built.runner = lambda: openvino_runner(xml, hardware)
        return built
    if target.format == "tensorrt-plan":
        plan = work / "model.plan"
        command = tools.trtexec_command(onnx_path, plan, source.signature, fp16=True, bounds=source.bounds)
        built.commands.append(tools.run_tool(command, work))
        built.files = {"1/model.plan": plan}
        built.runner = lambda: tensorrt_runner(plan, source.signature)
        return built
    assert target.format == "ascend-om" and target.ascend is not None
    stem = work / "model"
    command = tools.atc_command(onnx_path, stem, source.signature, target.ascend, source.bounds)
    built.commands.append(tools.run_tool(command, work))
    om = stem.with_suffix(".om")
    built.files = {"model.om": om}
    built.runner = lambda: _ascend_runner(om)
    return built


def _onnx(source: Source, target: ConversionTarget, work: Path, stage: Stage,
          sizes: dict[str, tuple[int, ...]] | None = None, values: Batch | None = None) -> Built:
    """Export (torch sources) and optimise: the ONNX every other target starts from."""
    from modelyard.worker.convert.optimise import optimise

    steps: list[str] = []
    exporter = "none"
    frozen: dict[str, object] = {}
    if source.format in TORCH_FORMATS:
        stage("export")
        result = exporting.export_onnx(source.module, source.signature, work / "export" / "model.onnx", target.opset,
                                       source.bounds, sizes, source.layout, values)
        frozen = result.frozen
        exporting.check(result.path)
        exported, exporter, steps = result.path, result.exporter, result.steps + ["onnx.checker.check_model: passed"]
    else:
        from modelyard.worker.convert.optimise import upgrade

        exported = source.path
        steps.append(f"source is ONNX ({source.path.name}); no export")
        changes = upgrade(exported, work / "upgraded.onnx")
        if (work / "upgraded.onnx").exists():
            exported = work / "upgraded.onnx"
        steps += [f"upgraded the source: {change}" for change in changes]
    stage("optimise")
    optimised = work / "model.onnx"
    if exporter == "dynamo" and target.format == "onnx":
        # torch.onnx optimised its own output (onnxscript: constant folding, dead code, rewrites)
        # and onnxruntime runs its own graph passes when it loads the model: onnxslim would only
        # rewrite the file (0.45 s beside a ResNet-18's 2.5 s export). Where another tool reads the
        # graph next (fp16, INT8, OpenVINO, TensorRT, Ascend) it still runs: it removed 9 of an
        # LSTM's 19 nodes, without which onnxruntime's fp16 LSTM kernel crashed.
        for produced in exported.parent.iterdir():  # the model and any external data beside it
            produced.replace(work / produced.name)
        steps.append("optimised by the exporter (optimize=True); onnxruntime optimises the graph when it loads it")
    else:
        steps.append(optimise(exported, optimised))
    return Built({}, lambda: onnx_runner(optimised), exporter, steps, onnx=optimised, frozen=frozen)


def _external_data(path: Path, folder: str) -> dict[str, Path]:
    data = path.with_name(path.name + ".data")
    return {f"{folder}{data.name}": data} if data.exists() else {}


def _ascend_runner(om: Path) -> Runner:
    try:
        from ais_bench.infer.interface import InferSession
    except ImportError:
        raise ConversionError(
            "ToolMissing", "verifying an ascend-om model needs CANN's ais_bench Python package in the worker image"
        ) from None
    session = InferSession(0, str(om))
    names = [i.name for i in session.get_inputs()]

    def run(batch: Batch) -> list:
        return session.infer([batch[n] for n in names], mode="dymbatch")

    return run
