"""INT8 and FP16 graph transformations."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from modelyard.api.common import Signature
from modelyard.worker.convert.export import export_onnx
from modelyard.worker.convert.fp16 import to_fp16
from modelyard.worker.convert.quantize import quantize_dynamic
from tests.unit.worker.convert import models as m


@pytest.fixture(scope="module")
def cnn_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    module, signature = m.build("cnn")
    return export_onnx(module, Signature.model_validate(signature), tmp_path_factory.mktemp("cnn") / "cnn.onnx").path


def _ops(path: Path) -> set[str]:
    return {n.op_type for n in onnx.load(str(path)).graph.node}


def test_dynamic_int8_leaves_convolutions_alone_on_cpu(cnn_onnx: Path, tmp_path: Path):
    steps = quantize_dynamic(cnn_onnx, tmp_path / "cpu.onnx", "cpu")
    assert "ConvInteger" not in _ops(tmp_path / "cpu.onnx") and "MatMulInteger" in _ops(tmp_path / "cpu.onnx")
    assert "cleared graph.value_info" in steps and "op_types_to_quantize=['MatMul', 'Gemm', 'Attention', 'LSTM']" in steps[1]
    quantize_dynamic(cnn_onnx, tmp_path / "gpu.onnx", "gpu")
    assert "ConvInteger" in _ops(tmp_path / "gpu.onnx")
    assert not (tmp_path / "cpu.prepared.onnx").exists()


def test_fp16_keeps_io_types(cnn_onnx: Path, tmp_path: Path):
    to_fp16(cnn_onnx, tmp_path / "half.onnx")
    model = onnx.load(str(tmp_path / "half.onnx"))
    onnx.checker.check_model(model)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer)
