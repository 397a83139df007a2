"""Check each batch against what the model takes, before it reaches the model.

Shapes must match every static dimension. dtypes must match in kind (floating, integer, bool);
within a kind the data is cast (float64 features feed a float32 input, int32 ids an int64 one),
because that is what a user means. Across kinds (uint8 pixels into a float input, floats into
token ids) the evaluation fails with the input's name, what it expects and what the data holds.
"""

from __future__ import annotations

import numpy as np

from modelyard.worker.evaluate.datasets.base import Batch
from modelyard.worker.evaluate.errors import dataset_mismatch
from modelyard.worker.evaluate.tensors import TensorInfo

_KIND = {"f": "floating", "i": "integer", "u": "integer", "b": "bool"}


def _shape(array: np.ndarray) -> str:
    return f"{array.dtype}[{', '.join(str(d) for d in array.shape)}]"


def conform(batch: Batch, inputs: list[TensorInfo], where: str) -> dict[str, np.ndarray]:
    """The batch's inputs, cast where harmless; a DatasetMismatch otherwise."""
    feed = {}
    for tensor in inputs:
        if tensor.name not in batch.inputs:
            raise dataset_mismatch(f"{where}: no data for input {tensor.name} (has {', '.join(batch.inputs)})")
        array = batch.inputs[tensor.name]
        samples = f"samples {batch.start}..{batch.start + len(batch) - 1}"
        expected = tensor.shape
        if array.ndim != len(expected) or any(e >= 0 and e != a for e, a in zip(expected[1:], array.shape[1:], strict=True)):
            raise dataset_mismatch(f"{where}: input {tensor.name} expects {tensor.describe()} but the data is "
                                   f"{_shape(array)} ({samples})")
        if expected and expected[0] >= 0 and expected[0] != array.shape[0]:
            raise dataset_mismatch(f"{where}: input {tensor.name} takes exactly {expected[0]} sample(s) per batch "
                                   f"but the batch has {array.shape[0]} ({samples}); set batchSize to {expected[0]}")
        try:
            dtype = np.dtype(tensor.dtype)
        except TypeError:
            dtype = array.dtype
        if array.dtype != dtype:
            if _KIND.get(array.dtype.kind) != _KIND.get(dtype.kind):
                raise dataset_mismatch(f"{where}: input {tensor.name} expects {tensor.describe()} but the data is "
                                       f"{_shape(array)}: {_KIND.get(array.dtype.kind, array.dtype.kind)} values cannot "
                                       f"feed a {_KIND.get(dtype.kind, dtype.kind)} input ({samples})")
            array = array.astype(dtype)
        feed[tensor.name] = array
    return feed
