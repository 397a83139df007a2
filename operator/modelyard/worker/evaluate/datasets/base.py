"""A dataset as the evaluation loop sees it: a sample count and batches in order."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterator

import numpy as np


@dataclass
class Batch:
    """Samples `start .. start+len(labels)-1`: model inputs by name and their labels."""

    start: int
    inputs: dict[str, np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


class Dataset(ABC):
    """Streams batches; only one batch (plus small read buffers) is in memory at a time."""

    count: int
    """Number of samples."""
    class_names: list[str] | None = None
    """Class names when the data names them (imagefolder folders, csv string labels)."""

    @abstractmethod
    def batches(self, size: int) -> Iterator[Batch]:
        """The samples in order, `size` at a time (the last batch may be smaller)."""

    def close(self) -> None:  # noqa: B027 - optional hook; most need nothing
        """Release open files."""

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
