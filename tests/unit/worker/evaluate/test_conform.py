"""Batches are checked against the model's inputs: same-kind casts pass, the rest fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.worker.evaluate.conform import conform
from modelyard.worker.evaluate.datasets.base import Batch
from modelyard.worker.evaluate.errors import EvaluationError
from modelyard.worker.evaluate.tensors import TensorInfo

INPUT = [TensorInfo("input", "float32", (-1, 64))]


def _batch(array: np.ndarray, name: str = "input") -> Batch:
    return Batch(10, {name: array}, np.zeros(len(array), dtype=np.int64))


def test_float64_features_are_cast_to_the_float32_input() -> None:
    feed = conform(_batch(np.zeros((4, 64))), INPUT, "dataset d")
    assert feed["input"].dtype == np.float32


def test_wrong_feature_count_names_input_expected_and_actual() -> None:
    with pytest.raises(EvaluationError) as error:
        conform(_batch(np.zeros((4, 60), dtype=np.float32)), INPUT, "dataset d")
    assert error.value.reason == "DatasetMismatch"
    assert str(error.value) == ("dataset d: input input expects float32[?, 64] but the data is float32[4, 60] "
                                "(samples 10..13)")


def test_kind_mismatch_is_an_error_not_a_silent_cast() -> None:
    with pytest.raises(EvaluationError, match=r"expects float32\[\?, 64\] but the data is uint8\[4, 64\]: integer values "
                       "cannot feed a floating input"):
        conform(_batch(np.zeros((4, 64), dtype=np.uint8)), INPUT, "dataset d")


def test_static_batch_dimension_suggests_the_batch_size() -> None:
    with pytest.raises(EvaluationError, match="takes exactly 1 sample.*set batchSize to 1"):
        conform(_batch(np.zeros((4, 64), dtype=np.float32)), [TensorInfo("input", "float32", (1, 64))], "dataset d")


def test_missing_input() -> None:
    with pytest.raises(EvaluationError, match="no data for input input"):
        conform(_batch(np.zeros((4, 64)), name="x"), INPUT, "dataset d")
