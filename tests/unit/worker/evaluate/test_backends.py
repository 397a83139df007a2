"""onnxruntime and torch run the same model to the same outputs; misuse fails clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelyard.worker.evaluate.backends import check_format
from modelyard.worker.evaluate.backends.onnxrt import OnnxRuntimeBackend
from modelyard.worker.evaluate.backends.torchrt import TorchBackend
from modelyard.worker.evaluate.errors import EvaluationError
from modelyard.worker.evaluate.tensors import TensorInfo

INPUTS = [TensorInfo("input", "float32", (-1, 64))]


def test_onnx_and_torch_formats_agree(artifacts) -> None:  # noqa: ANN001
    x = artifacts.digits.x_test[:100]
    onnx = OnnxRuntimeBackend(artifacts.onnx)
    assert onnx.inputs == INPUTS
    assert onnx.outputs == [TensorInfo("logits", "float32", (-1, 10))]
    reference = onnx.run({"input": x})
    for backend in (TorchBackend(artifacts.torchscript, "torchscript", INPUTS, []),
                    TorchBackend(artifacts.exported, "pytorch-exportedprogram", [], [])):
        np.testing.assert_allclose(backend.run({"input": x}), reference, atol=1e-5)
        assert (backend.run({"input": x}).argmax(1) == reference.argmax(1)).all()


def test_exported_program_describes_its_inputs(artifacts) -> None:  # noqa: ANN001
    backend = TorchBackend(artifacts.exported, "pytorch-exportedprogram", [], [])
    assert [(t.dtype, t.shape) for t in backend.inputs] == [("float32", (-1, 64))]


def test_torchscript_needs_a_signature(artifacts) -> None:  # noqa: ANN001
    with pytest.raises(EvaluationError, match="needs spec.signature") as error:
        TorchBackend(artifacts.torchscript, "torchscript", [], [])
    assert error.value.reason == "SignatureMissing"


def test_a_pickled_module_is_not_loaded(tmp_path: Path, artifacts) -> None:  # noqa: ANN001
    import torch

    pickled = tmp_path / "pickled.pt"
    torch.save(artifacts.module, pickled)
    with pytest.raises(EvaluationError, match="torch cannot load pickled.pt as torchscript") as error:
        TorchBackend(pickled, "torchscript", INPUTS, [])
    assert error.value.reason == "InvalidModel"


def test_gpu_is_requested_explicitly_never_a_silent_cpu_fallback(artifacts) -> None:  # noqa: ANN001
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has CUDA: the error path cannot be shown")
    with pytest.raises(EvaluationError, match="hardware gpu needs onnxruntime's CUDAExecutionProvider") as error:
        OnnxRuntimeBackend(artifacts.onnx, "gpu")
    assert error.value.reason == "AcceleratorUnavailable"


def test_not_an_onnx_file(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(EvaluationError, match="onnxruntime cannot load model.onnx"):
        OnnxRuntimeBackend(bad)


def test_backend_and_format_must_fit() -> None:
    check_format("onnxruntime", "onnx")
    check_format("triton", "tensorrt-plan")
    with pytest.raises(EvaluationError, match="backend onnxruntime runs onnx models but the version's format is "
                       "tensorrt-plan; convert it") as error:
        check_format("onnxruntime", "tensorrt-plan")
    assert error.value.reason == "BackendMismatch"
    with pytest.raises(EvaluationError, match="backend torch runs torchscript or pytorch-exportedprogram"):
        check_format("torch", "onnx")


def test_torch_on_gpu_runs_there_or_says_why_not(artifacts) -> None:  # noqa: ANN001
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(EvaluationError, match="hardware gpu but torch sees no CUDA device") as error:
            TorchBackend(artifacts.torchscript, "torchscript", INPUTS, [], hardware="gpu")
        assert error.value.reason == "AcceleratorUnavailable"
        return
    x = artifacts.digits.x_test[:64]
    on_gpu = TorchBackend(artifacts.torchscript, "torchscript", INPUTS, [], hardware="gpu")
    assert "cuda" in on_gpu.description
    np.testing.assert_allclose(on_gpu.run({"input": x}), OnnxRuntimeBackend(artifacts.onnx).run({"input": x}), atol=1e-4)
