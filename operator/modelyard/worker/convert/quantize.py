"""INT8 with onnxruntime's quantizer.

Defaults come from measurement on the 2-core x86 CPU this project is developed on (bench/convert.py
prints them again on every run): dynamic quantization of convolutions (ConvInteger) made a
ResNet-18 5.6x slower than fp32 (61.6 ms vs 10.9 ms at batch 1), while dynamic quantization of
MatMul/Gemm made a Linear-heavy MLP 5.6x faster (0.08 ms vs 0.45 ms). So on cpu and arm, dynamic
mode quantizes only the MatMul-family operators by default; static mode (QDQ, activations
calibrated) quantizes everything, and the job's benchmark shows what that costs or gains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from modelyard.worker.convert.inputs import Batch, chunks, samples_in
from modelyard.worker.convert.layout import Layout

DYNAMIC_OPS = ["MatMul", "Gemm", "Attention", "LSTM"]
"""Operators dynamic INT8 quantizes on cpu/arm (convolutions excluded: ConvInteger is slow)."""
CALIBRATION_BATCH = 1


def _prepare(source: Path, target: Path) -> None:
    """Drop the exporter's value_info: the dynamo exporter records intermediate shapes that the
    quantizer's own shape inference contradicts (it then fails with a shape merge error)."""
    import onnx

    model = onnx.load(str(source))
    del model.graph.value_info[:]
    onnx.save(model, str(target))


def quantize_dynamic(source: Path, target: Path, hardware: str) -> list[str]:
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    prepared = target.with_name(target.stem + ".prepared.onnx")
    _prepare(source, prepared)
    ops = DYNAMIC_OPS if hardware in ("cpu", "arm") else None
    # 7-bit weights: x86 CPUs without VNNI (AVX2, AVX-512F) saturate in onnxruntime's u8s8
    # kernels; measured on an AVX2 EPYC, an LSTM's top-1 agreement fell below 0.9 with 8 bits.
    # The converted model may run on any CPU, so it is made for the least capable one.
    # Per-channel scales: with one scale per weight tensor all-MiniLM-L6-v2's sentence embedding
    # kept a cosine of only 0.77 to fp32; per channel 0.977 at the same speed (1.5x fp32 at 16 and
    # 128 tokens on this AVX2 CPU) and 0.2 % more bytes.
    ort_quantize_dynamic(prepared, target, op_types_to_quantize=ops, weight_type=QuantType.QInt8, reduce_range=True,
                         per_channel=True)
    prepared.unlink()
    _check_quantized(target, ops)
    return [
        "cleared graph.value_info",
        f"onnxruntime.quantization.quantize_dynamic(weight_type=QInt8, per_channel=True, reduce_range=True, op_types_to_quantize={ops or 'all'})",
    ]


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over a batch of samples."""

    def __init__(self, batch: Batch, layout: Layout | None = None):
        self._items: Iterator[Batch] = chunks(batch, CALIBRATION_BATCH, layout)

    def get_next(self) -> Batch | None:
        return next(self._items, None)

    def rewind(self) -> None:  # part of the protocol; one pass is enough for MinMax
        pass


def quantize_static(source: Path, target: Path, calibration: Batch, layout: Layout | None = None) -> list[str]:
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType
    from onnxruntime.quantization import quantize_static as ort_quantize_static

    prepared = target.with_name(target.stem + ".prepared.onnx")
    _prepare(source, prepared)
    reader = type("CalibrationReader", (_Reader, CalibrationDataReader), {})(calibration, layout)
    ort_quantize_static(
        prepared, target, reader, quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8, per_channel=True, calibrate_method=CalibrationMethod.MinMax,
    )
    prepared.unlink()
    _check_quantized(target, None)
    samples = samples_in(calibration, layout.inputs if layout is not None else {})
    return [
        "cleared graph.value_info",
        f"onnxruntime.quantization.quantize_static(QDQ, QInt8 activations and weights, per_channel=True, MinMax on {samples} calibration samples)",
    ]


QUANTIZED_OPS = ("DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QuantizeLinear", "DynamicQuantizeLSTM",
                 "QLinearMatMul", "QLinearConv", "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QAttention", "QGemm")
"""Operators that compute in integers: an INT8 model has some."""


def _check_quantized(path: Path, ops: list[str] | None) -> None:
    """Refuse an "INT8" model in which nothing was quantized: the quantizer leaves alone what it
    cannot reach (control-flow branches) or was not asked to touch (convolutions in dynamic mode)."""
    import onnx

    from modelyard.worker.convert.errors import CONVERSION_FAILED, NOTHING_CONVERTED, ConversionError
    from modelyard.worker.convert.graphs import sort_topologically, subgraphs

    model = onnx.load(str(path))
    # the quantizer appends nodes in If branches out of order: sorted, checked here, in this stage
    sort_topologically(model.graph)
    onnx.save(model, str(path))
    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as error:
        raise ConversionError(CONVERSION_FAILED, f"the quantizer made an invalid model: {' '.join(str(error).split())[:500]}; "
                              "convert to onnx or onnx-fp16 instead") from None

    def found(graph) -> tuple[set[str], set[str]]:
        quantized = {n.op_type for n in graph.node if n.op_type in QUANTIZED_OPS}
        flow = {n.op_type for n in graph.node if subgraphs(n)}
        for node in graph.node:
            for sub in subgraphs(node):
                inner, nested = found(sub)
                quantized |= inner
                flow |= nested
        return quantized, flow

    quantized, flow = found(model.graph)
    if quantized:
        return
    where = f"; its control flow ({', '.join(sorted(flow))}) holds the rest, which the quantizer does not enter" if flow else ""
    asked = f"dynamic mode quantizes {', '.join(ops)} only" if ops else "the quantizer found nothing to quantize"
    raise ConversionError(
        NOTHING_CONVERTED,
        f"no operator of the model was quantized ({asked}{where}); the output would be the fp32 model under an INT8 name: "
        "convert to onnx, or use quantization.mode static with calibrationUri to quantize convolutions too",
    )
