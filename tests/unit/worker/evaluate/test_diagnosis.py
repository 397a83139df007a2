"""The diagnosis points at the worst classes, the most confused pairs and example samples."""

from __future__ import annotations

import numpy as np

from modelyard.worker.evaluate.diagnosis import diagnose
from modelyard.worker.evaluate.metrics import ClassificationTally


def test_worst_classes_and_confused_pairs() -> None:
    tally = ClassificationTally(3)
    labels = np.array([0] * 10 + [1] * 10 + [2] * 10)
    predicted = np.array([0] * 10 + [2] * 6 + [1] * 4 + [2] * 9 + [0])
    tally.add(np.eye(3)[predicted], labels, 0)
    found = diagnose(tally, ["cat", "dog", "fox"])
    assert found["worstClasses"][0]["name"] == "dog"
    assert found["confusedPairs"][0] == {"label": 1, "labelName": "dog", "predicted": 2, "predictedName": "fox", "count": 6}
    assert len(found["confusedPairs"]) == 2
    assert found["misclassified"][0] == {"index": 10, "label": 1, "predicted": 2, "labelName": "dog", "predictedName": "fox"}
    assert found["confusionMatrix"][1] == [0, 4, 6]
