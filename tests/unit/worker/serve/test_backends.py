from __future__ import annotations

import numpy as np

from modelyard.worker.serve.backends import OnnxRuntime
from tests.unit.worker.convert.test_zipmap import IRIS, ROWS


def test_a_zipmap_is_served_as_the_tensor_the_signature_describes():
    backend = OnnxRuntime(IRIS, "cpu", 1)
    assert [(t.name, t.dtype, t.shape) for t in backend.outputs] == [
        ("label", "int64", (3,)), ("probabilities", "float32", (-1, 3))]
    found = backend.predict({"float_input": ROWS})
    assert found["probabilities"].shape == (3, 3) and found["probabilities"].dtype == np.float32
    np.testing.assert_allclose(found["probabilities"].sum(axis=1), 1, rtol=1e-6)
