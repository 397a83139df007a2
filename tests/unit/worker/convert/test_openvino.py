"""OpenVINO IR from ONNX: what the conversion says about sources it cannot be expected to reproduce."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelyard.api.common import Signature
from modelyard.worker.convert.layout import find
from modelyard.worker.convert.openvino import runtime_quantization, to_openvino

SIGNATURE = Signature.model_validate({"inputs": [{"name": "x", "shape": [-1, 8]}], "outputs": [{"name": "y", "shape": [-1, 4]}]})


def _dynamic_matmul(path: Path, inside_if: bool = False) -> Path:
    """y = x @ W as onnxruntime's dynamic quantization writes it: x quantized at run time
    (DynamicQuantizeLinear), MatMulInteger, then scaled back to float."""
    weights = np.random.default_rng(0).integers(-127, 128, (8, 4)).astype(np.int8)
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
        helper.make_node("MatMulInteger", ["xq", "w", "xz"], ["acc"]),
        helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["xs", "ws"], ["scale"]),
        helper.make_node("Mul", ["accf", "scale"], ["y"]),
    ]
    initializers = [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.float32(0.02), "ws")]
    if inside_if:
        branch = helper.make_graph(nodes, "branch", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        nodes = [helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array(True), "c")),
                 helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _float_matmul(path: Path) -> Path:
    weights = numpy_helper.from_array(np.ones((8, 4), np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], [weights])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    return path


def test_runtime_quantization_names_the_operators_and_what_to_do(tmp_path: Path):
    said = runtime_quantization(_dynamic_matmul(tmp_path / "dynamic.onnx"))
    assert "quantizes its activations at run time (DynamicQuantizeLinear x1)" in said
    assert "multiplying with the reciprocal" in said and "convert this model to onnx or onnx-int8" in said
    assert "DynamicQuantizeLSTM in float" not in said, "only where the source has one"
    assert "DynamicQuantizeLinear x2" in runtime_quantization(_dynamic_matmul(tmp_path / "if.onnx", inside_if=True)), \
        "both branches of the If are counted"


def test_a_float_source_has_no_caveat(tmp_path: Path):
    assert runtime_quantization(_float_matmul(tmp_path / "float.onnx")) == ""


def test_to_openvino_converts_runtime_quantization_and_says_why_it_may_differ(tmp_path: Path):
    converted = to_openvino(_dynamic_matmul(tmp_path / "dynamic.onnx"), tmp_path / "model.xml", SIGNATURE, find(SIGNATURE))
    assert (tmp_path / "model.xml").exists() and (tmp_path / "model.bin").exists()
    assert converted.caveat.startswith("the source quantizes its activations at run time (DynamicQuantizeLinear x1)")
    assert to_openvino(_float_matmul(tmp_path / "float.onnx"), tmp_path / "float.xml", SIGNATURE,
                       find(SIGNATURE)).caveat == ""
