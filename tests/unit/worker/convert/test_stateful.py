"""silero-vad, the voice-activity model its wheel carries (ONNX, IR 8, opsets 15-16): a rank-0
int64 sample rate, a recurrent state whose batch is its second axis (`[2, batch, 128]`), and every
weight inside If branches. Each conversion is checked the way a user would feed it: 36 ms audio
frames (512 samples and 64 of context at 16 kHz), a zero state, one sample rate for all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelyard.worker.convert import run_convert
from modelyard.worker.convert.errors import ConversionError
from tests.unit.worker.convert import models as m

silero = pytest.importorskip("silero_vad", reason="the test extra carries it")

DATA = Path(silero.__file__).parent / "data"
FRAME = 576
"""Samples per call at 16 kHz: 512 new and 64 of context."""


def _frames(count: int) -> dict[str, np.ndarray]:
    t = np.arange(count * FRAME) / 16000
    voice = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    noise = np.random.default_rng(3).normal(0, 0.02, t.shape)
    return {"input": (voice + noise).reshape(count, FRAME).astype(np.float32),
            "state": np.zeros((2, count, 128), np.float32), "sr": np.array(16000, np.int64)}


def _convert(store, tmp_path: Path, file: str, format: str, frames: dict[str, np.ndarray] | None = None):
    npz = tmp_path / "frames.npz"
    np.savez(npz, **(frames or _frames(4)))
    source = m.publish(store, "silero", "onnx", data=("model.onnx", (DATA / file).read_bytes()))
    return run_convert(m.job(store, tmp_path / "work", source, m.spec(format, verify={"inputsUri": f"file://{npz}"})))


def _independently(tmp_path: Path, format: str, frames: dict[str, np.ndarray], original: str) -> float:
    """The stored model against the original on the same frames, outside the pipeline."""
    import onnxruntime as ort

    reference = ort.InferenceSession(str(DATA / original)).run(None, frames)
    build = tmp_path / "work" / "build"
    if format == "openvino":
        import openvino as ov

        compiled = ov.Core().compile_model(str(build / "ov" / "model.xml"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        result = compiled({p.get_any_name(): frames[p.get_any_name()] for p in compiled.inputs})
        outputs = [result[p] for p in compiled.outputs]
    else:
        outputs = ort.InferenceSession(str(build / "model.onnx")).run(None, frames)
    return max(float(np.abs(np.asarray(a) - b).max()) for a, b in zip(outputs, reference, strict=True))


@pytest.mark.parametrize("file", ["silero_vad.onnx", "silero_vad_16k_op15.onnx"])
def test_a_scalar_input_and_a_state_batched_on_its_second_axis_are_fed_as_the_model_takes_them(store, tmp_path, file):
    result = run = _convert(store, tmp_path, file, "onnx")
    verification = result["verification"]
    assert verification["passed"] and verification["inputs"] == "given"
    assert verification["shapes"][:2] == [{"input": [1, FRAME], "state": [2, 1, 128], "sr": []},
                                          {"input": [4, FRAME], "state": [2, 4, 128], "sr": []}]
    assert {"input": "state", "axis": 1, "sizes": [1, 4], "batch": True} in verification["axes"]
    assert "state on axis 1, sr shared by every sample" in verification["note"]
    assert _independently(tmp_path, "onnx", _frames(4), file) < 1e-5
    assert run["signature"]["inputs"][2] == {"name": "sr", "dtype": "int64", "shape": []}


def test_frames_of_another_size_than_the_model_takes_are_refused_by_the_source_not_cropped(store, tmp_path):
    frames = _frames(2)
    frames["input"] = frames["input"][:, :100]
    with pytest.raises(ConversionError) as caught:
        _convert(store, tmp_path, "silero_vad.onnx", "onnx", frames)
    assert "the source model fails at input shapes input[1, 100]" in caught.value.message


def test_fp16_keeps_control_flow_as_an_fp32_island_and_refuses_a_model_that_is_all_island(store, tmp_path):
    with pytest.raises(ConversionError) as caught:
        _convert(store, tmp_path, "silero_vad.onnx", "onnx-fp16")
    assert caught.value.reason == "NothingConverted"
    assert "If_0 (If, control flow: its branches stay fp32)" in caught.value.message


def test_fp16_of_a_model_with_weights_outside_its_if_loads_and_is_judged_on_numbers(store, tmp_path):
    """onnxruntime's converter made a model onnxruntime refused to load ('Tensor element type
    mismatch. 10 != 1' in an If); now it loads, and verification decides."""
    try:
        result = _convert(store, tmp_path, "silero_vad_16k_op15.onnx", "onnx-fp16")
    except ConversionError as error:
        assert error.reason == "VerificationFailed" and "maxAbsDiff" in error.message, error.message
        return
    assert result["verification"]["passed"]


def test_int8_of_a_model_whose_weights_the_quantizer_cannot_reach_is_refused(store, tmp_path):
    with pytest.raises(ConversionError) as caught:
        _convert(store, tmp_path, "silero_vad.onnx", "onnx-int8")
    assert caught.value.reason == "NothingConverted"
    assert "control flow (If) holds the rest" in caught.value.message


@pytest.mark.parametrize("file, frozen", [("silero_vad_16k_op15.onnx", False), ("silero_vad.onnx", True)])
def test_openvino_fixes_what_its_converter_needs_static_and_says_so(store, tmp_path, file, frozen):
    result = _convert(store, tmp_path, file, "openvino")
    verification = result["verification"]
    assert verification["passed"]
    assert f"input[1] fixed at {FRAME}" in verification["note"]
    inputs = {t["name"]: t["shape"] for t in result["signature"]["inputs"]}
    assert inputs["input"] == [-1, FRAME], "the batch stays dynamic, the frame length is fixed and said so"
    assert ("sr" not in inputs) is frozen
    if frozen:
        assert "sr frozen at 16000" in verification["note"]
    assert all(len(shape["input"]) == 2 and shape["input"][1] == FRAME for shape in verification["shapes"])
    assert _independently(tmp_path, "openvino", _frames(4), file) < 1e-4
