"""Text files and the packaged tokenizer: what the text preset trains on and evaluation reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelyard.worker.text import TextDataError, TextEncoder, label_indices, read_texts, text_encoder
from tests.support.datasets import topic_texts, write_texts


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_csv_and_jsonl_read_alike(tmp_path: Path, suffix: str) -> None:
    rows = topic_texts(6, seed=0)
    texts, labels = read_texts(write_texts(tmp_path / f"d{suffix}", rows), "text", "label", "input train")
    assert list(zip(texts, labels, strict=True)) == rows


def test_jsonl_is_known_by_its_content_too(tmp_path: Path) -> None:
    path = write_texts(tmp_path / "d.jsonl", [("a b", "x"), ("c", "y")]).rename(tmp_path / "d.txt")
    assert read_texts(path, "text", "label", "input train") == (["a b", "c"], ["x", "y"])


def test_errors_name_the_file_the_column_and_the_line(tmp_path: Path) -> None:
    csv = write_texts(tmp_path / "d.csv", [("a", "x")])
    with pytest.raises(TextDataError, match="input train: no column 'body' \\(textColumn\\); columns: text, label"):
        read_texts(csv, "body", "label", "input train")
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n')
    with pytest.raises(TextDataError, match="line 2 needs fields 'text' and 'label'"):
        read_texts(jsonl, "text", "label", "input train")
    jsonl.write_text('{"text": "a", "label"\n')
    with pytest.raises(TextDataError, match="not a text csv or jsonl file"):
        read_texts(jsonl, "text", "label", "input train")
    (tmp_path / "empty.csv").write_text("text,label\n")
    with pytest.raises(TextDataError, match="no samples"):
        read_texts(tmp_path / "empty.csv", "text", "label", "input train")


def test_labels_are_indices_or_sorted_names() -> None:
    indices, names = label_indices(["sport", "cooking", "sport"], "d")
    assert names == ["cooking", "sport"] and indices.tolist() == [1, 0, 1]
    indices, names = label_indices(["2", "0"], "d")
    assert names == ["0", "1", "2"] and indices.tolist() == [2, 0]
    with pytest.raises(TextDataError, match="class indices 0..N-1 or class names"):
        label_indices(["-1", "0"], "d")


def test_the_packaged_wordpiece_tokenizer_pads_and_truncates() -> None:
    encoder = TextEncoder("minilm-wordpiece", max_length=6)
    ids, mask = encoder.encode(["Hello world", "one two three four five six seven"])
    assert ids.dtype == np.int64 and ids.shape == mask.shape == (2, 6)
    assert ids[0, 0] == 101 and ids[0, 3] == 102 and ids[0, 4:].tolist() == [0, 0]  # [CLS] hello world [SEP] pad
    assert mask.tolist() == [[1, 1, 1, 1, 0, 0], [1] * 6] and ids[1, -1] == 102


def test_a_template_must_name_a_known_tokenizer() -> None:
    with pytest.raises(TextDataError, match="needs a model whose template names a tokenizer.*this one has 'ids'"):
        text_encoder({"tokenizer": "ids"}, "dataset d.csv")
    with pytest.raises(TextDataError, match="no tokenizer named 'bpe'; available: minilm-wordpiece"):
        text_encoder({"tokenizer": "bpe"}, "dataset d.csv")
    assert text_encoder({"tokenizer": "minilm-wordpiece", "maxLength": 32}, "d").max_length == 32
