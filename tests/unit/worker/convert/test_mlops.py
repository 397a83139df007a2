"""scikit-learn's LinearClassifier in ai.onnx, for converters without ai.onnx.ml."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper

from modelyard.worker.convert.mlops import lower, standard_copy
from modelyard.worker.convert.runners import onnx_runner, openvino_runner
from tests.unit.worker.convert.test_zipmap import IRIS, ROWS


def test_the_iris_classifier_computes_the_same_in_standard_operators(tmp_path: Path):
    lowered, steps = standard_copy(IRIS, tmp_path / "standard.onnx")
    assert lowered != IRIS and steps == [
        "rewritten in ai.onnx for the converter: LinearClassifier LinearClassifier as MatMul, Add, LOGISTIC, ArgMax and Gather"]
    assert "LinearClassifier" not in {n.op_type for n in onnx.load(str(lowered)).graph.node}
    rows = np.random.default_rng(3).uniform(4, 8, (3, 2)).astype(np.float32)
    for x in (ROWS, rows):
        (label, maps), (same_label, same) = onnx_runner(IRIS)({"float_input": x}), onnx_runner(lowered)({"float_input": x})
        assert np.array_equal(label, same_label)
        np.testing.assert_allclose(same, maps, atol=1e-6)


def test_openvino_converts_the_rewritten_classifier(tmp_path: Path):
    import openvino as ov

    model = onnx.load(str(IRIS))
    from modelyard.worker.convert.zipmap import strip

    model.opset_import.append(helper.make_opsetid("", 13))
    strip(model)
    onnx.save(model, str(tmp_path / "stripped.onnx"))
    lowered, _ = standard_copy(tmp_path / "stripped.onnx", tmp_path / "standard.onnx")
    ov.save_model(ov.convert_model(str(lowered)), str(tmp_path / "model.xml"), compress_to_fp16=False)
    label, probabilities = openvino_runner(tmp_path / "model.xml")({"float_input": ROWS})
    source_label, source = onnx_runner(IRIS)({"float_input": ROWS})
    assert np.array_equal(label, source_label)
    np.testing.assert_allclose(probabilities, source, atol=1e-6)


def _classifier(**attributes) -> onnx.ModelProto:
    node = helper.make_node("LinearClassifier", ["x"], ["label", "scores"], domain="ai.onnx.ml", **attributes)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", 2])],
                              [helper.make_tensor_value_info("label", TensorProto.INT64, ["rows"]),
                               helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["rows", 2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("ai.onnx.ml", 1)])


@pytest.mark.parametrize("attributes, why", [
    ({"classlabels_strings": ["no", "yes"], "coefficients": [1, 2, 3, 4], "intercepts": [0, 0]}, "string class labels"),
    ({"classlabels_ints": [0, 1], "coefficients": [1, 2], "intercepts": [0.5]}, "1 score column(s) for 2 labels"),
    ({"classlabels_ints": [0, 1], "coefficients": [1, 2, 3, 4], "intercepts": [0, 0], "post_transform": "PROBIT"},
     "post_transform PROBIT"),
])
def test_what_cannot_be_rewritten_is_kept_and_said(attributes: dict, why: str):
    model = _classifier(**attributes)
    done, kept = lower(model)
    assert not done and len(kept) == 1 and why in kept[0]
    assert [n.op_type for n in model.graph.node] == ["LinearClassifier"]


def test_softmax_and_integer_inputs_follow_onnxruntime(tmp_path: Path):
    model = _classifier(classlabels_ints=[7, 9], coefficients=[0.5, -1.0, 2.0, 0.25], intercepts=[0.1, -0.2],
                        post_transform="SOFTMAX")
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.INT64
    onnx.save(model, str(tmp_path / "source.onnx"))
    lowered, steps = standard_copy(tmp_path / "source.onnx", tmp_path / "standard.onnx")
    assert steps and "SOFTMAX" in steps[0]
    x = np.array([[1, 2], [3, -1], [0, 0]], np.int64)
    expected = onnxruntime.InferenceSession(str(tmp_path / "source.onnx")).run(None, {"x": x})
    found = onnx_runner(lowered)({"x": x})
    assert np.array_equal(found[0], expected[0])
    np.testing.assert_allclose(found[1], expected[1], atol=1e-6)
