"""Where a classifier goes wrong: worst classes, most confused pairs, misclassified samples."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelyard.worker.evaluate.metrics import ClassificationTally

WORST = 5
PAIRS = 5


def class_name(names: list[str] | None, index: int) -> str:
    return names[index] if names and index < len(names) else str(index)


def diagnose(tally: ClassificationTally, names: list[str] | None) -> dict[str, Any]:
    per_class = [{**row, "name": class_name(names, row["class"])} for row in tally.per_class()]
    seen = [row for row in per_class if row["support"]]
    worst = sorted(seen, key=lambda r: (r["f1"], r["recall"], r["class"]))[:WORST]
    off = tally.confusion.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:PAIRS]
    pairs = []
    for flat in order:
        label, predicted = divmod(int(flat), tally.classes)
        if off[label, predicted] == 0:
            break
        pairs.append({"label": label, "labelName": class_name(names, label), "predicted": predicted,
                      "predictedName": class_name(names, predicted), "count": int(off[label, predicted])})
    misclassified = [{**m, "labelName": class_name(names, m["label"]), "predictedName": class_name(names, m["predicted"])}
                     for m in tally.misclassified]
    return {"perClass": per_class, "worstClasses": worst, "confusedPairs": pairs, "misclassified": misclassified,
            "confusionMatrix": tally.confusion.tolist(), "classNames": [class_name(names, c) for c in range(tally.classes)]}
