"""Triton model configuration."""

from __future__ import annotations

from modelyard.api.common import Signature
from modelyard.worker.convert.triton import config_pbtxt, supports

SIGNATURE = Signature.model_validate({"inputs": [{"name": "image", "shape": [-1, 3, 224, 224]}],
                                      "outputs": [{"name": "logits", "shape": [-1, 1000]}]})


def test_batched_onnx_config():
    text = config_pbtxt("resnet", "onnx", SIGNATURE, "gpu")
    assert text.startswith('name: "resnet"\nplatform: "onnxruntime_onnx"\ndefault_model_filename: "model.onnx"\nmax_batch_size: 32\n')
    assert 'name: "image"\n    data_type: TYPE_FP32\n    dims: [ 3, 224, 224 ]' in text
    assert "dims: [ 1000 ]" in text and "kind: KIND_GPU" in text and "dynamic_batching { }" in text


def test_fixed_batch_and_backends():
    fixed = Signature.model_validate({"inputs": [{"name": "x", "dtype": "int64", "shape": [1, 16]}],
                                      "outputs": [{"name": "y", "shape": [1, 2]}]})
    text = config_pbtxt("m", "openvino", fixed, "cpu")
    assert 'backend: "openvino"' in text and "max_batch_size: 0" in text and "dims: [ 1, 16 ]" in text
    assert "TYPE_INT64" in text and "dynamic_batching" not in text and "KIND_CPU" in text
    assert supports("tensorrt-plan") and supports("torchscript") and not supports("ascend-om")
