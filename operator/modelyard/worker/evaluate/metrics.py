"""Quality metrics, accumulated batch by batch (nothing grows with the dataset but counters).

Classification keeps a confusion matrix and a top-5 hit count; a prediction is the argmax of the
model's first output (`[batch, classes]` logits or probabilities).
precision, recall and f1 are macro averages over the classes that occur in the labels or the
predictions (scikit-learn's convention, with 0 where a ratio is undefined); per-class values are
in the report. Regression keeps sums for MAE, RMSE and R2.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelyard.worker.evaluate.errors import EvaluationError, dataset_mismatch

MISCLASSIFIED_KEPT = 20


def class_indices(labels: np.ndarray, start: int, classes: int) -> np.ndarray:
    """Labels as int64 class indices; LabelOutOfRange names the first bad sample."""
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.floor(labels)):
            bad = int(np.flatnonzero(~np.isfinite(labels) | (labels != np.floor(labels)))[0])
            raise dataset_mismatch(f"label {labels[bad].item()!r} of sample {start + bad} is not a class index; "
                                   "classification labels are integers 0..classes-1")
    elif labels.dtype.kind not in "iub":
        raise dataset_mismatch(f"labels are {labels.dtype}; classification labels are integers 0..classes-1")
    indices = labels.astype(np.int64)
    outside = (indices < 0) | (indices >= classes)
    if outside.any():
        bad = int(np.flatnonzero(outside)[0])
        raise EvaluationError("LabelOutOfRange", f"label {indices[bad]} of sample {start + bad} is outside the model's "
                              f"{classes} classes (0..{classes - 1})")
    return indices


class ClassificationTally:
    def __init__(self, classes: int):
        self.classes = classes
        self.confusion = np.zeros((classes, classes), dtype=np.int64)
        self.top5_hits = 0
        self.misclassified: list[dict[str, int]] = []

    def add(self, output: np.ndarray, labels: np.ndarray, start: int) -> None:
        truth = class_indices(labels, start, self.classes)
        scores = output.reshape(len(output), -1)
        predicted = scores.argmax(axis=1)
        k = min(5, self.classes)
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        self.top5_hits += int((best == truth[:, None]).any(axis=1).sum())
        self.confusion += np.bincount(truth * self.classes + predicted, minlength=self.classes**2).reshape(
            self.classes, self.classes)
        if len(self.misclassified) < MISCLASSIFIED_KEPT:
            for i in np.flatnonzero(predicted != truth)[: MISCLASSIFIED_KEPT - len(self.misclassified)]:
                self.misclassified.append({"index": start + int(i), "label": int(truth[i]), "predicted": int(predicted[i])})

    def per_class(self) -> list[dict[str, float]]:
        m = self.confusion
        support, predicted, correct = m.sum(axis=1), m.sum(axis=0), np.diag(m)
        rows = []
        for c in range(self.classes):
            precision = correct[c] / predicted[c] if predicted[c] else 0.0
            recall = correct[c] / support[c] if support[c] else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            rows.append({"class": c, "precision": float(precision), "recall": float(recall), "f1": float(f1),
                         "support": int(support[c]), "predicted": int(predicted[c])})
        return rows

    def summary(self) -> dict[str, float]:
        total = int(self.confusion.sum())
        present = [r for r in self.per_class() if r["support"] or r["predicted"]]
        metrics = {
            "accuracy": float(np.trace(self.confusion) / total) if total else 0.0,
            "precision": float(np.mean([r["precision"] for r in present])) if present else 0.0,
            "recall": float(np.mean([r["recall"] for r in present])) if present else 0.0,
            "f1": float(np.mean([r["f1"] for r in present])) if present else 0.0,
            "top5": self.top5_hits / total if total else 0.0,
        }
        return metrics


class RegressionTally:
    def __init__(self) -> None:
        self.count = 0
        self.sum_abs = self.sum_sq = self.sum_y = self.sum_y2 = 0.0

    def add(self, output: np.ndarray, labels: np.ndarray, start: int) -> None:
        if labels.dtype.kind not in "fiu":
            raise dataset_mismatch(f"labels are {labels.dtype}; regression targets are numbers")
        predicted = output.reshape(len(output), -1)
        if predicted.shape[1] != 1:
            raise dataset_mismatch(f"a regression model returns one value per sample but the output is "
                                   f"{list(output.shape)} (samples from {start})")
        y = labels.astype(np.float64).reshape(-1)
        error = predicted[:, 0].astype(np.float64) - y
        self.count += len(y)
        self.sum_abs += float(np.abs(error).sum())
        self.sum_sq += float((error**2).sum())
        self.sum_y += float(y.sum())
        self.sum_y2 += float((y**2).sum())

    def summary(self) -> dict[str, float]:
        n = self.count
        if not n:
            return {}
        total = self.sum_y2 - self.sum_y**2 / n
        return {"mae": self.sum_abs / n, "rmse": float(np.sqrt(self.sum_sq / n)),
                "r2": 1.0 - self.sum_sq / total if total > 0 else 0.0}


def tally_for(task: str, output: np.ndarray) -> Any:
    """The tally that fits the task (or, without one, the model's output shape)."""
    width = int(np.prod(output.shape[1:])) if output.ndim > 1 else 0
    if task == "regression" or (task == "" and output.dtype.kind == "f" and width <= 1):
        return RegressionTally()
    if output.ndim == 1:
        raise EvaluationError("UnsupportedOutput", f"the model's output is {list(output.shape)}; classification "
                              "needs [batch, classes] scores (logits or probabilities)")
    return ClassificationTally(width)
