"""csv datasets: one row per sample, one column of labels, the other columns are features.

The file is read twice, streaming: once to count rows and learn string labels (mapped to class
indices in sorted order, like imagefolder's folders), then batch by batch. Features become one
row of the model's single input, in column order.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

import numpy as np

from modelyard.worker.evaluate.datasets.base import Batch, Dataset
from modelyard.worker.evaluate.errors import dataset_mismatch
from modelyard.worker.evaluate.tensors import TensorInfo


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class CsvDataset(Dataset):
    def __init__(self, path: Path, inputs: list[TensorInfo], label: str | None, where: str):
        if len(inputs) != 1:
            raise dataset_mismatch(f"{where}: a csv dataset feeds one input but the model takes "
                                   f"{', '.join(t.name for t in inputs)}; use npz with one array per input")
        self._path, self._where, self._input = path, where, inputs[0].name
        label = label or "label"
        with path.open(newline="") as stream:
            rows = csv.reader(stream)
            header = next(rows, None)
            if header is None:
                self.count, self._label, self._names = 0, 0, None
                return
            if label not in header:
                raise dataset_mismatch(f"{where}: no label column {label!r} (columns: {', '.join(header)}); "
                                       "set dataset.labelColumn")
            self._label = header.index(label)
            named = False
            count = 0
            for row in rows:
                if not row:
                    continue
                count += 1
                if len(row) != len(header):
                    raise dataset_mismatch(f"{where}: row {count} has {len(row)} values but the header has {len(header)}")
                named = named or not _is_number(row[self._label])
        self.count = count
        self._names = self._all_labels() if named else None
        self.class_names = self._names

    def _all_labels(self) -> list[str]:
        """Class names when any label is not a number: every distinct label, sorted."""
        with self._path.open(newline="") as stream:
            rows = csv.reader(stream)
            next(rows, None)
            return sorted({row[self._label] for row in rows if row})

    def _labels(self, rows: list[list[str]]) -> np.ndarray:
        values = [row[self._label] for row in rows]
        if self._names is not None:
            index = {name: i for i, name in enumerate(self._names)}
            return np.array([index[v] for v in values], dtype=np.int64)
        return np.array(values, dtype=np.float64)

    def _features(self, rows: list[list[str]], start: int) -> np.ndarray:
        features = [row[: self._label] + row[self._label + 1 :] for row in rows]
        try:
            return np.array(features, dtype=np.float64)
        except ValueError:
            for i, row in enumerate(features):
                for j, value in enumerate(row):
                    if not _is_number(value):
                        raise dataset_mismatch(f"{self._where}: row {start + i + 1}, feature {j}: {value!r} is not a number") from None
            raise

    def batches(self, size: int) -> Iterator[Batch]:
        with self._path.open(newline="") as stream:
            reader = csv.reader(stream)
            next(reader, None)
            start, pending = 0, []
            for row in reader:
                if not row:
                    continue
                pending.append(row)
                if len(pending) == size:
                    yield Batch(start, {self._input: self._features(pending, start)}, self._labels(pending))
                    start, pending = start + size, []
            if pending:
                yield Batch(start, {self._input: self._features(pending, start)}, self._labels(pending))
