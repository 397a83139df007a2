"""Sample inputs: generated from the signature, or read from an npz."""

from __future__ import annotations

import io

import numpy as np
import pytest

from modelyard.api.common import Signature
from modelyard.worker.convert.errors import ConversionError
from modelyard.worker.convert.inputs import generate, load_npz

SIGNATURE = Signature.model_validate({"inputs": [
    {"name": "image", "shape": [-1, 3, 4, 4]},
    {"name": "ids", "dtype": "int64", "shape": [-1, -1]},
    {"name": "flag", "dtype": "bool", "shape": [-1]},
]})


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_generated_inputs_follow_the_signature_and_are_reproducible():
    batch = generate(SIGNATURE, 5)
    assert batch["image"].shape == (5, 3, 4, 4) and batch["image"].dtype == np.float32
    assert batch["ids"].shape == (5, 8) and batch["ids"].dtype == np.int64 and batch["ids"].min() >= 0
    assert batch["flag"].dtype == bool
    assert np.array_equal(generate(SIGNATURE, 5)["image"], batch["image"])


def test_npz_is_checked_against_the_signature():
    one = Signature.model_validate({"inputs": [{"name": "x", "shape": [-1, 2]}]})
    loaded = load_npz(_npz(x=np.ones((3, 2))), one, "cal.npz")
    assert loaded["x"].dtype == np.float32
    assert load_npz(_npz(anything=np.ones((3, 2))), one, "cal.npz")["x"].shape == (3, 2)
    with pytest.raises(ConversionError, match="x has shape \\[3, 3\\]; the model takes x as \\[-1, 2\\]"):
        load_npz(_npz(x=np.ones((3, 3))), one, "cal.npz")
    with pytest.raises(ConversionError, match="lacks input\\(s\\) ids, flag"):
        load_npz(_npz(image=np.ones((2, 3, 4, 4))), SIGNATURE, "cal.npz")
    with pytest.raises(ConversionError) as caught:
        load_npz(b"not an npz", one, "s3://data/cal.npz")
    assert caught.value.reason == "InvalidCalibration" and "s3://data/cal.npz" in caught.value.message


STATEFUL = Signature.model_validate({"inputs": [
    {"name": "input", "shape": [-1, -1]},
    {"name": "state", "shape": [2, -1, 128]},
    {"name": "sr", "dtype": "int64", "shape": []},
]})
"""silero-vad's inputs: audio, a recurrent state whose batch is its second axis, a sample rate."""


def test_a_state_batched_on_its_second_axis_and_a_scalar_are_read_as_the_model_takes_them():
    loaded = load_npz(_npz(input=np.ones((4, 576)), state=np.zeros((2, 4, 128)), sr=np.array(16000)), STATEFUL, "a.npz")
    assert loaded["state"].shape == (2, 4, 128) and loaded["sr"].shape == () and loaded["sr"].dtype == np.int64
    per_sample = load_npz(_npz(input=np.ones((4, 576)), state=np.zeros((2, 4, 128)), sr=np.full(4, 8000)), STATEFUL, "a.npz")
    assert per_sample["sr"].shape == () and int(per_sample["sr"]) == 8000, "one value per sample, all equal"


def test_inputs_that_do_not_fit_the_model_are_refused_naming_tensor_and_axis():
    with pytest.raises(ConversionError, match="input 4 on axis 0, state 3 on axis 1"):
        load_npz(_npz(input=np.ones((4, 576)), state=np.zeros((2, 3, 128)), sr=np.array(16000)), STATEFUL, "a.npz")
    with pytest.raises(ConversionError, match="sr holds different values for different samples"):
        load_npz(_npz(input=np.ones((2, 576)), state=np.zeros((2, 2, 128)), sr=np.array([8000, 16000])), STATEFUL, "a.npz")
    with pytest.raises(ConversionError, match="sr has shape \\[2, 2\\]; the model takes it as \\[\\], shared"):
        load_npz(_npz(input=np.ones((2, 576)), state=np.zeros((2, 2, 128)), sr=np.ones((2, 2))), STATEFUL, "a.npz")
    with pytest.raises(ConversionError, match="state has shape \\[4, 128\\]; the model takes state as \\[2, -1, 128\\]"):
        load_npz(_npz(input=np.ones((4, 576)), state=np.zeros((4, 128)), sr=np.array(16000)), STATEFUL, "a.npz")


def test_generated_scalars_are_arrays_onnxruntime_takes():
    batch = generate(STATEFUL, 3)
    assert isinstance(batch["sr"], np.ndarray) and batch["sr"].shape == ()
    assert batch["state"].shape == (2, 3, 128) and batch["input"].shape == (3, 8)
