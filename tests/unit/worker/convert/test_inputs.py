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
    with pytest.raises(ConversionError, match="x has samples of shape \\[3\\], the signature says \\[2\\]"):
        load_npz(_npz(x=np.ones((3, 3))), one, "cal.npz")
    with pytest.raises(ConversionError, match="lacks input\\(s\\) ids, flag"):
        load_npz(_npz(image=np.ones((2, 3, 4, 4))), SIGNATURE, "cal.npz")
    with pytest.raises(ConversionError) as caught:
        load_npz(b"not an npz", one, "s3://data/cal.npz")
    assert caught.value.reason == "InvalidCalibration" and "s3://data/cal.npz" in caught.value.message
