"""What every backend offers: the model's inputs/outputs and one call per batch."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from modelyard.worker.evaluate.tensors import TensorInfo


class Backend(ABC):
    """Runs one model; `run` returns its first output (logits, probabilities or values)."""

    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    description: str
    """Shown in the report, e.g. `onnxruntime 1.23 (CPUExecutionProvider)`."""

    @abstractmethod
    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """Infer one batch."""

    def close(self) -> None:  # noqa: B027 - optional hook; most need nothing
        """Release the model or connection."""
