"""Evaluation datasets (npz, imagefolder, csv, text), streamed in batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.api.evaluationjob import DatasetSpec
from modelyard.worker.evaluate.datasets.base import Batch, Dataset
from modelyard.worker.evaluate.datasets.fetch import fetch_dataset
from modelyard.worker.evaluate.errors import dataset_mismatch
from modelyard.worker.evaluate.tensors import TensorInfo
from modelyard.worker.source import redact


def open_dataset(spec: DatasetSpec, path: Path, inputs: list[TensorInfo], workdir: Path,
                 preprocessing: dict[str, Any] | None = None) -> Dataset:
    """The dataset at `path` (from fetch_dataset) shaped for a model taking `inputs`."""
    where = f"dataset {redact(spec.uri)}"
    if spec.format == "npz":
        from modelyard.worker.evaluate.datasets.npz import NpzDataset

        return NpzDataset(path, inputs, spec.label_column, where)
    if spec.format == "csv":
        from modelyard.worker.evaluate.datasets.tabular import CsvDataset

        return CsvDataset(path, inputs, spec.label_column, where)
    if spec.format == "text":
        from modelyard.worker.evaluate.datasets.text import TextDataset

        return TextDataset(path, inputs, spec.text_column, spec.label_column, preprocessing or {}, where)
    from modelyard.worker.evaluate.datasets.imagefolder import ImageFolderDataset
    from modelyard.worker.evaluate.datasets.preprocessing import image_preprocessing

    if len(inputs) != 1:
        raise dataset_mismatch(f"{where}: an imagefolder dataset feeds one image input but the model takes "
                               f"{', '.join(t.name for t in inputs)}")
    return ImageFolderDataset(path, inputs[0].name, image_preprocessing(inputs[0], preprocessing or {}), workdir, where)


__all__ = ["Batch", "Dataset", "fetch_dataset", "open_dataset"]
