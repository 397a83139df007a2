"""A scikit-learn classifier as skl2onnx writes it by default: its probabilities a ZipMap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper

from modelyard.worker.convert.runners import onnx_runner
from modelyard.worker.convert.zipmap import strip, tensor_shape, zipmaps
from modelyard.worker.inspect import inspect_model

IRIS = Path(onnxruntime.__file__).parent / "datasets" / "logreg_iris.onnx"
"""onnxruntime's bundled logistic regression: IR 3, ai.onnx.ml only, a ZipMap over labels 0, 1, 2."""
ROWS = np.array([[5.1, 3.5], [6.2, 2.9], [7.7, 3.0]], np.float32)


def test_a_zipmap_output_is_described_as_the_tensor_it_is_given():
    signature = inspect_model(IRIS, "onnx").signature
    assert [(t.name, t.dtype, t.shape) for t in signature.outputs] == [
        ("label", "int64", [3]), ("probabilities", "float32", [3, 3])]


def test_the_source_s_maps_are_run_as_that_tensor_in_label_order():
    maps = onnxruntime.InferenceSession(str(IRIS)).run(["probabilities"], {"float_input": ROWS})[0]
    label, probabilities = onnx_runner(IRIS)({"float_input": ROWS})
    assert probabilities.shape == (3, 3) and probabilities.dtype == np.float32
    assert probabilities.tolist() == [[row[k] for k in (0, 1, 2)] for row in maps]
    assert label.tolist() == [0, 0, 0]


def test_a_stripped_graph_returns_the_same_tensor(tmp_path: Path):
    model = onnx.load(str(IRIS))
    model.opset_import.append(helper.make_opsetid("", 13))
    steps = strip(model)
    assert steps and "one column per class in label order (0, 1, 2)" in steps[0] and not zipmaps(model)
    onnx.save(model, str(tmp_path / "stripped.onnx"))
    assert [o.type for o in onnxruntime.InferenceSession(str(tmp_path / "stripped.onnx")).get_outputs()] == [
        "tensor(int64)", "tensor(float)"]
    stripped = onnx_runner(tmp_path / "stripped.onnx")({"float_input": ROWS})
    source = onnx_runner(IRIS)({"float_input": ROWS})
    assert all(np.array_equal(a, b) for a, b in zip(stripped, source, strict=True))


def test_string_labels_keep_their_order_and_an_unknown_row_count_stays_open():
    zipped = helper.make_node("ZipMap", ["scores"], ["probabilities"], domain="ai.onnx.ml",
                              classlabels_strings=["setosa", "virginica", "versicolor"])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["scores"]), zipped], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", 3])],
        [helper.make_value_info("probabilities", helper.make_sequence_type_proto(
            helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(TensorProto.FLOAT, None))))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 1)])
    found = zipmaps(model)["probabilities"]
    assert found.labels == ["setosa", "virginica", "versicolor"] and found.tensor == "scores"
    assert tensor_shape(model, found) == ["rows", 3]
