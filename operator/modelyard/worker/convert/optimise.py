"""Graph simplification: onnxslim (constant folding, dead-code removal, fusions of what the
exporter left behind); onnxruntime's offline optimiser for models with external data, which
onnxslim would have to pull into one 2 GB protobuf."""

from __future__ import annotations

from pathlib import Path

from modelyard.worker.convert.export import check


def _has_external_data(path: Path) -> bool:
    import onnx
    from onnx.external_data_helper import uses_external_data

    model = onnx.load(str(path), load_external_data=False)
    return any(uses_external_data(t) for t in model.graph.initializer)


def optimise(source: Path, target: Path) -> str:
    """Write a simplified copy of `source` to `target`; returns the step as recorded in lineage."""
    if _has_external_data(source):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(target)
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name", target.name + ".data")
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        step = "onnxruntime offline optimisation (ORT_ENABLE_BASIC: constant folding, redundant node removal)"
    else:
        import onnx
        import onnxslim

        model = onnx.load(str(source))
        # What a file declares of its outputs' shapes and intermediate values is a claim the graph
        # does not enforce: ddddocr's OCR model declares [1, seqlen] and returns [T, 1, 8210], and
        # onnxslim, trusting the claim, made it return [1, T * 8210]. It infers them itself.
        declared = {o.name: o.type.tensor_type.shape for o in model.graph.output if o.type.tensor_type.HasField("shape")}
        kept = {name: type(shape)() for name, shape in declared.items()}
        for name, shape in declared.items():
            kept[name].CopyFrom(shape)
        for output in model.graph.output:
            output.type.tensor_type.ClearField("shape")
        del model.graph.value_info[:]
        model = onnxslim.slim(model)
        for output in model.graph.output:  # where it could not, the file's own claim stands
            if not output.type.tensor_type.HasField("shape") and output.name in kept:
                output.type.tensor_type.shape.CopyFrom(kept[output.name])
        onnx.save(model, str(target))
        step = "onnxslim.slim (constant folding, dead-code elimination, pattern fusion; declared shapes re-inferred)"
    check(target)
    return step


MIN_OPSET = 13
"""Older opsets are converted up (onnx.version_converter): quantization needs at least 10 and
onnxruntime's float16 and quantization tools are written against 13 and later."""


def upgrade(source: Path, target: Path) -> list[str]:
    """Write to `target` a copy of an ONNX source every later step can work on, when it needs
    one; returns what was changed. IR versions below 4 require every initializer to be a graph
    input, which a simplified graph no longer keeps; old opsets are converted up; a ZipMap's
    maps become the tensor it is given (zipmap.py)."""
    import onnx
    from onnx import helper, version_converter

    from modelyard.worker.convert.zipmap import strip, zipmaps

    model = onnx.load(str(source), load_external_data=False)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    old_opset = opset is not None and opset < MIN_OPSET
    if not old_opset and model.ir_version >= 4 and not zipmaps(model):
        return []
    if _has_external_data(source):
        # its data files are named relative to the source: a copy elsewhere would lose them
        return [f"IR version {model.ir_version}, opset {opset} kept: models with external data are not rewritten"]
    steps: list[str] = []
    if old_opset:
        try:
            model = version_converter.convert_version(model, MIN_OPSET)
            steps.append(f"onnx.version_converter: opset {opset} -> {MIN_OPSET}")
        except Exception as error:  # noqa: BLE001 - kept as it is, said in lineage
            steps.append(f"opset {opset} kept: the version converter failed ({type(error).__name__}: {str(error)[:200]})")
    if zipmaps(model):
        if opset is None:  # an ai.onnx.ml-only graph: the Identity that replaces its ZipMap needs ai.onnx
            model.opset_import.append(helper.make_opsetid("", MIN_OPSET))
        steps += strip(model)
    wanted = max(helper.find_min_ir_version_for(list(model.opset_import), ignore_unknown=True), 4)
    if model.ir_version < wanted:
        steps.append(f"IR version {model.ir_version} -> {wanted}")
        model.ir_version = wanted
    onnx.save(model, str(target))
    check(target)
    return steps
