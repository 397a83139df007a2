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
        import onnxslim

        model = onnxslim.slim(str(source))
        import onnx

        onnx.save(model, str(target))
        step = "onnxslim.slim (constant folding, dead-code elimination, pattern fusion)"
    check(target)
    return step
