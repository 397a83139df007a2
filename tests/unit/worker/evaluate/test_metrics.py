"""Streamed metrics equal scikit-learn's computed on the whole data at once."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from modelyard.worker.evaluate.errors import EvaluationError
from modelyard.worker.evaluate.metrics import ClassificationTally, RegressionTally, tally_for


def _stream(tally, scores: np.ndarray, labels: np.ndarray, size: int = 13):  # noqa: ANN001, ANN202
    for start in range(0, len(labels), size):
        tally.add(scores[start:start + size], labels[start:start + size], start)
    return tally


def test_classification_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, 500)
    scores = rng.random((500, 8)) + np.eye(8)[labels] * 0.4
    tally = _stream(ClassificationTally(8), scores, labels)
    got = tally.summary()
    predicted = scores.argmax(1)
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(labels, predicted), abs=1e-12)
    assert got["top5"] == pytest.approx(sk.top_k_accuracy_score(labels, scores, k=5), abs=1e-12)
    for name, fn in (("precision", sk.precision_score), ("recall", sk.recall_score), ("f1", sk.f1_score)):
        assert got[name] == pytest.approx(fn(labels, predicted, average="macro", zero_division=0), abs=1e-12)
    np.testing.assert_array_equal(tally.confusion, sk.confusion_matrix(labels, predicted, labels=range(8)))
    per_class = sk.f1_score(labels, predicted, average=None, zero_division=0)
    assert [r["f1"] for r in tally.per_class()] == pytest.approx(per_class)


def test_macro_average_skips_classes_never_seen_like_sklearn() -> None:
    labels = np.array([0, 0, 1, 1])
    scores = np.eye(5)[[0, 1, 1, 1]]
    got = _stream(ClassificationTally(5), scores, labels).summary()
    assert got["precision"] == pytest.approx(sk.precision_score(labels, [0, 1, 1, 1], average="macro"))


def test_misclassified_keeps_the_first_sample_indices() -> None:
    labels = np.array([0, 1, 2, 0, 1, 2])
    scores = np.eye(3)[[0, 2, 2, 1, 1, 2]]
    tally = _stream(ClassificationTally(3), scores, labels, size=2)
    assert tally.misclassified == [{"index": 1, "label": 1, "predicted": 2}, {"index": 3, "label": 0, "predicted": 1}]


def test_label_out_of_range_names_the_sample() -> None:
    with pytest.raises(EvaluationError, match=r"label 10 of sample 42 is outside the model's 10 classes \(0..9\)") as error:
        ClassificationTally(10).add(np.zeros((3, 10)), np.array([1, 10, 11]), 41)
    assert error.value.reason == "LabelOutOfRange"
    with pytest.raises(EvaluationError, match="label -1 of sample 0"):
        ClassificationTally(10).add(np.zeros((1, 10)), np.array([-1]), 0)
    with pytest.raises(EvaluationError, match="label 1.5 of sample 1 is not a class index"):
        ClassificationTally(10).add(np.zeros((2, 10)), np.array([1.0, 1.5]), 0)


def test_regression_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(3, 2, 300)
    predicted = (y + rng.normal(0, 0.5, 300)).astype(np.float32).reshape(-1, 1)
    got = _stream(RegressionTally(), predicted, y).summary()
    assert got["mae"] == pytest.approx(sk.mean_absolute_error(y, predicted), rel=1e-9)
    assert got["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(y, predicted)), rel=1e-9)
    assert got["r2"] == pytest.approx(sk.r2_score(y, predicted), rel=1e-9)


def test_task_follows_the_output_shape_when_no_template_says() -> None:
    assert isinstance(tally_for("", np.zeros((4, 10), dtype=np.float32)), ClassificationTally)
    assert isinstance(tally_for("", np.zeros((4, 1), dtype=np.float32)), RegressionTally)
    assert isinstance(tally_for("regression", np.zeros((4,), dtype=np.float32)), RegressionTally)
    with pytest.raises(EvaluationError, match="classification needs"):
        tally_for("classification", np.zeros((4,), dtype=np.int64))
