"""OpenVINO IR (model.xml + model.bin) from the ONNX export, for CPU and ARM nodes.

The converter is given the signature's shapes (dynamic axes as -1). Where it still cannot type a
node (a Conv inside an If branch whose input rank it does not know: "The input data tensor's rank
has to be known"), it is given the sizes verification runs at for the axes other than the batch,
which stays dynamic: the output's signature then says those axes are fixed, verification runs
at those sizes only, and the status says so. Nothing is fixed silently.

A source that quantizes its activations at run time (DynamicQuantizeLinear and the com.microsoft
DynamicQuantize* operators, as onnxruntime's dynamic quantization writes them) is converted as
it is, and `caveat` says why OpenVINO's results may not match (see `runtime_quantization`):
verification still decides, and its refusal can name the cause."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.api.common import Signature
from modelyard.worker.convert.errors import UNSUPPORTED_OPERATOR, ConversionError
from modelyard.worker.convert.graphs import all_nodes
from modelyard.worker.convert.layout import Layout

Fixed = dict[str, dict[int, int]]
"""Input name -> axis -> the size the output takes there (once dynamic)."""


@dataclass
class OpenVino:
    step: str
    fixed: Fixed = field(default_factory=dict)
    frozen: dict[str, Any] = field(default_factory=dict)
    """Inputs shared by every sample that the output no longer takes: held at the one value the
    user's data gives them (a sample rate that selects an If branch)."""
    caveat: str = ""
    """Why the output's results may differ from the source's beyond fp32 tolerance, for a refusal
    to name ('' when nothing is known)."""


def to_openvino(onnx_path: Path, xml: Path, signature: Signature, layout: Layout,
                sizes: dict[str, tuple[int, ...]] | None = None, values: dict[str, Any] | None = None) -> OpenVino:
    """`sizes`: the shapes verification runs at first; `values`: the user's data, whose shared
    inputs may be frozen as a last resort (see the module)."""
    import openvino as ov

    declared = [(t.name, ov.PartialShape(t.shape)) for t in signature.inputs]
    fixed: Fixed = {}
    frozen: dict[str, Any] = {}
    try:
        model = ov.convert_model(str(onnx_path), input=declared)
    except Exception as error:  # noqa: BLE001 - the converter's own words become the message
        fixed = _pinned(signature, layout, sizes or {})
        frozen = {n: values[n] for n, axis in layout.inputs.items() if axis is None and values and n in values
                  and values[n].size == 1}
        attempts = [({}, fixed)] if fixed else []
        if frozen:
            attempts.append((frozen, fixed))
        if not attempts:
            raise ConversionError(UNSUPPORTED_OPERATOR, f"openvino cannot convert the model: {_gist(error)}") from None
        said = []
        for frozen_now, fixed_now in attempts:
            path = _freeze(onnx_path, frozen_now) if frozen_now else onnx_path
            pinned = [(t.name, ov.PartialShape([fixed_now.get(t.name, {}).get(a, s) for a, s in enumerate(t.shape)]))
                      for t in signature.inputs if t.name not in frozen_now]
            try:
                model = ov.convert_model(str(path), input=pinned)
                frozen = frozen_now
                break
            except Exception as again:  # noqa: BLE001
                said.append(f"with {describe(fixed_now, frozen_now)} ({_gist(again)})")
        else:
            raise ConversionError(UNSUPPORTED_OPERATOR, f"openvino cannot convert the model with its dynamic axes "
                                                        f"({_gist(error)}), nor {', nor '.join(said)}") from None
    # fp32 weights: OpenVINO's default compresses them to fp16, a precision change that the
    # target format does not announce.
    ov.save_model(model, str(xml), compress_to_fp16=False)
    shapes = ", ".join(f"{t.name}{[fixed.get(t.name, {}).get(a, s) for a, s in enumerate(t.shape)]}"
                       for t in signature.inputs)
    step = f"openvino.convert_model({onnx_path.name}, input=[{shapes}]); openvino.save_model({xml.name}, compress_to_fp16=False)"
    if fixed or frozen:
        step += f"; {describe(fixed, frozen)}: the converter needs them static"
    return OpenVino(step, fixed, {n: v.item() for n, v in frozen.items()}, runtime_quantization(onnx_path))


RUNTIME_QUANTIZERS = ("DynamicQuantizeLinear", "DynamicQuantizeLSTM", "DynamicQuantizeMatMul")
"""Operators that derive a scale from the values they are given, then round to integers."""


def runtime_quantization(onnx_path: Path) -> str:
    """Why OpenVINO cannot be expected to reproduce a source that quantizes activations at run
    time, naming its operators; '' for any other source.

    Such a scale is (max - min) / 255 of the values themselves, and each value is rounded to a
    step of it: a difference in the last bit upstream moves some values across a rounding
    boundary, a whole step, and the next layers multiply that. OpenVINO's CPU plugin computes
    every float Divide as a multiplication by the reciprocal (ov::pass::ConvertDivide, up to 1
    ulp from IEEE division, which onnxruntime does) and its Sigmoid/Exp differ from
    onnxruntime's in the last bit; neither can be switched off in a saved IR. Its ONNX frontend
    also runs com.microsoft.DynamicQuantizeLSTM in float, without quantizing X and H."""
    import onnx

    counts: dict[str, int] = {}
    for node in all_nodes(onnx.load(str(onnx_path), load_external_data=False).graph):
        if node.op_type in RUNTIME_QUANTIZERS and node.domain in ("", "ai.onnx", "com.microsoft"):
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    if not counts:
        return ""
    found = ", ".join(f"{op} x{n}" for op, n in counts.items())
    lstm = ", and it runs DynamicQuantizeLSTM in float (X and H not quantized)" if "DynamicQuantizeLSTM" in counts else ""
    return (f"the source quantizes its activations at run time ({found}), so a last-bit difference upstream moves "
            f"values across a rounding step and later layers multiply it: OpenVINO divides by multiplying with the "
            f"reciprocal and its Sigmoid/Exp differ from onnxruntime's in the last bit{lstm}; convert this model to "
            f"onnx or onnx-int8 (onnxruntime quantizes as the source does), or convert the float model from before "
            f"quantization to openvino")


def _freeze(onnx_path: Path, frozen: dict[str, Any]) -> Path:
    """The model with `frozen` inputs made constants, folded (an If on them collapses)."""
    import onnx
    import onnxslim

    model = onnx.load(str(onnx_path))
    for value in [v for v in model.graph.input if v.name in frozen]:
        model.graph.input.remove(value)
        model.graph.initializer.append(onnx.numpy_helper.from_array(frozen[value.name], value.name))
    target = onnx_path.with_name(onnx_path.stem + ".frozen.onnx")
    onnx.save(onnxslim.slim(model), str(target))
    return target


def _pinned(signature: Signature, layout: Layout, sizes: dict[str, tuple[int, ...]]) -> Fixed:
    """The dynamic axes other than the batch, at the sizes verification runs at first."""
    fixed: Fixed = {}
    for tensor in signature.inputs:
        for axis, size in enumerate(tensor.shape):
            if size == -1 and axis != layout.inputs.get(tensor.name) and tensor.name in sizes:
                fixed.setdefault(tensor.name, {})[axis] = sizes[tensor.name][axis]
    return fixed


def describe(fixed: Fixed, frozen: dict[str, Any] | None = None) -> str:
    parts = [f"{name}[{axis}] fixed at {size}" for name, axes in fixed.items() for axis, size in axes.items()]
    parts += [f"{name} frozen at {value.item() if hasattr(value, 'item') else value}" for name, value in (frozen or {}).items()]
    return ", ".join(parts)


def fixed_signature(signature: Signature, fixed: Fixed, frozen: dict[str, Any] | None = None) -> Signature:
    """The output's signature: the fixed axes at their sizes, frozen inputs gone."""
    if not fixed and not frozen:
        return signature
    inputs = [t.model_copy(update={"shape": [fixed.get(t.name, {}).get(a, s) for a, s in enumerate(t.shape)]})
              for t in signature.inputs if t.name not in (frozen or {})]
    return signature.model_copy(update={"inputs": inputs})


def _gist(error: BaseException) -> str:
    """The lines of an OpenVINO conversion error that say what failed and why."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    wanted = [line for line in lines if line.startswith("-- Conversion is failed for") or "has to be" in line
              or "Unsupported" in line or line.startswith("Check '") and "failed at" not in line]
    text = "; ".join(dict.fromkeys(wanted or lines[-2:]))
    return f"{type(error).__name__}: {text}"[:700]
