"""Text datasets: a csv or jsonl file of texts and labels, tokenized batch by batch by the
tokenizer the model's template names (the text preset trains through the same encoder). Labels
map to class indices as everywhere else: sorted names when any label is not a number."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator


from modelyard.worker.evaluate.datasets.base import Batch, Dataset
from modelyard.worker.evaluate.errors import dataset_mismatch
from modelyard.worker.evaluate.tensors import TensorInfo
from modelyard.worker.text import TextDataError, label_indices, read_texts, text_encoder

INPUTS = ("input_ids", "attention_mask")


class TextDataset(Dataset):
    def __init__(self, path: Path, inputs: list[TensorInfo], text_column: str | None, label_column: str | None,
                 preprocessing: dict[str, Any], where: str):
        names = [t.name for t in inputs]
        if names[:1] != ["input_ids"] or any(n not in INPUTS for n in names):
            raise dataset_mismatch(f"{where}: a text dataset feeds inputs input_ids (and attention_mask); "
                                   f"the model takes {', '.join(names)}")
        try:
            self._encoder = text_encoder(preprocessing, where)
            self._texts, raw = read_texts(path, text_column or "text", label_column or "label", where)
            self._labels, self.class_names = label_indices(raw, where)
        except TextDataError as error:
            raise dataset_mismatch(str(error)) from None
        self._inputs = names
        self.count = len(self._texts)

    def batches(self, size: int) -> Iterator[Batch]:
        for start in range(0, self.count, size):
            ids, mask = self._encoder.encode(self._texts[start:start + size])
            arrays = {"input_ids": ids, "attention_mask": mask}
            yield Batch(start, {n: arrays[n] for n in self._inputs}, self._labels[start:start + size])
