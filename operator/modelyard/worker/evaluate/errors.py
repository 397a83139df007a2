"""Evaluation failures a user can act on, each with its CamelCase reason."""

from __future__ import annotations

from modelyard.worker.errors import WorkerError


class EvaluationError(WorkerError):
    """The evaluation cannot run as specified; `reason` says what to fix."""


def dataset_mismatch(message: str) -> EvaluationError:
    return EvaluationError("DatasetMismatch", message)


def empty_dataset(uri: str) -> EvaluationError:
    return EvaluationError("EmptyDataset", f"dataset {uri} holds no samples")
