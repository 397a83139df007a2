"""Datasets stream in order, in batches, in every format, and fail clearly when wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from modelyard.worker.archive import ArchiveError
from modelyard.worker.evaluate.datasets import fetch_dataset, open_dataset
from modelyard.worker.evaluate.errors import EvaluationError
from modelyard.worker.evaluate.tensors import TensorInfo
from tests.support import evaluation as ev

FEATURES = [TensorInfo("input", "float32", (-1, 64))]
IMAGE = [TensorInfo("image", "float32", (-1, 1, 8, 8))]


def _read(path: Path, format: str, inputs=FEATURES, size: int = 7, tmp: Path | None = None, **spec):
    dataset_spec = ev.spec(f"file://{path}", format, **spec).dataset
    with open_dataset(dataset_spec, fetch_dataset(dataset_spec, tmp or path.parent), inputs, tmp or path.parent) as data:
        batches = list(data.batches(size))
        return data, batches


def _joined(batches, name: str = "input") -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([b.inputs[name] for b in batches]), np.concatenate([b.labels for b in batches])


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_streams_every_row_in_order_in_batches(tmp_path: Path, compressed: bool) -> None:
    x = np.arange(50 * 64, dtype=np.float32).reshape(50, 64)
    y = np.arange(50) % 10
    data, batches = _read(ev.write_npz(tmp_path / "d.npz", compressed, x=x, y=y), "npz")
    assert data.count == 50
    assert [len(b) for b in batches] == [7] * 7 + [1]
    assert [b.start for b in batches] == list(range(0, 50, 7))
    got_x, got_y = _joined(batches)
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


def test_npz_arrays_named_like_inputs_and_a_label_column(tmp_path: Path) -> None:
    inputs = [TensorInfo("ids", "int64", (-1, 4)), TensorInfo("mask", "int64", (-1, 4))]
    ids, mask = np.arange(40).reshape(10, 4), np.ones((10, 4), dtype=np.int64)
    path = ev.write_npz(tmp_path / "d.npz", ids=ids, mask=mask, target=np.arange(10).reshape(10, 1))
    _, batches = _read(path, "npz", inputs, size=4, labelColumn="target")
    np.testing.assert_array_equal(np.concatenate([b.inputs["ids"] for b in batches]), ids)
    np.testing.assert_array_equal(np.concatenate([b.labels for b in batches]), np.arange(10))


def test_npz_without_labels_or_inputs_names_what_it_holds(tmp_path: Path) -> None:
    path = ev.write_npz(tmp_path / "d.npz", features=np.zeros((3, 64)), y=np.zeros(3))
    with pytest.raises(EvaluationError, match="model takes input but the npz holds features, y") as error:
        _read(path, "npz")
    assert error.value.reason == "DatasetMismatch"
    with pytest.raises(EvaluationError, match="no label array 'labels'"):
        _read(path, "npz", labelColumn="labels")


def test_npz_row_counts_must_agree(tmp_path: Path) -> None:
    path = ev.write_npz(tmp_path / "d.npz", x=np.zeros((3, 64)), y=np.zeros(4))
    with pytest.raises(EvaluationError, match="has 3 rows but labels 'y' have 4"):
        _read(path, "npz")


def test_npz_object_arrays_are_refused_not_unpickled(tmp_path: Path) -> None:
    path = ev.write_npz(tmp_path / "d.npz", x=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3))
    with pytest.raises(EvaluationError, match="would need unpickling"):
        _read(path, "npz")


def test_csv_features_and_numeric_labels(tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((20, 64)).astype(np.float32)
    path = ev.write_csv(tmp_path / "d.csv", x, [int(i % 10) for i in range(20)])
    data, batches = _read(path, "csv")
    got_x, got_y = _joined(batches)
    np.testing.assert_allclose(got_x, x, rtol=1e-7)
    np.testing.assert_array_equal(got_y, np.arange(20) % 10)
    assert data.class_names is None


def test_csv_string_labels_become_sorted_classes(tmp_path: Path) -> None:
    path = ev.write_csv(tmp_path / "d.csv", np.zeros((3, 64)), ["dog", "cat", "dog"], label="animal")
    data, batches = _read(path, "csv", labelColumn="animal")
    assert data.class_names == ["cat", "dog"]
    np.testing.assert_array_equal(_joined(batches)[1], [1, 0, 1])


def test_csv_errors_name_the_column_and_row(tmp_path: Path) -> None:
    path = ev.write_csv(tmp_path / "d.csv", np.zeros((3, 64)), [0, 1, 2])
    with pytest.raises(EvaluationError, match="no label column 'class'.*f0"):
        _read(path, "csv", labelColumn="class")
    path.write_text(path.read_text().replace("0.0,0.0,1", "oops,0.0,1", 1))
    with pytest.raises(EvaluationError, match="row 2, feature 62: 'oops' is not a number"):
        _read(path, "csv")


@pytest.mark.parametrize("suffix", ["", ".tar.gz", ".zip"])
def test_imagefolder_from_folder_or_archive(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (12, 8, 8), dtype=np.uint8)
    labels = np.array([3, 1, 2] * 4)
    path = ev.write_imagefolder(tmp_path / f"images{suffix}", pixels, labels)
    work = tmp_path / "work"
    work.mkdir()
    data, batches = _read(path, "imagefolder", IMAGE, size=5, tmp=work)
    assert data.class_names == ["1", "2", "3"]
    order = ev.imagefolder_order(labels)
    got_x, got_y = _joined(batches, "image")
    np.testing.assert_array_equal(got_y, np.searchsorted([1, 2, 3], labels[order]))
    np.testing.assert_allclose(got_x[:, 0], pixels[order] / 255.0, atol=1e-6)
    assert got_x.dtype == np.float32 and got_x.shape == (12, 1, 8, 8)


def test_imagefolder_resizes_and_normalises_from_the_template(tmp_path: Path) -> None:
    from modelyard.worker.evaluate.datasets.preprocessing import image_preprocessing

    path = ev.write_imagefolder(tmp_path / "images", np.full((2, 8, 8), 255, dtype=np.uint8), np.array([0, 1]))
    spec = ev.spec(f"file://{path}", "imagefolder").dataset
    rgb = [TensorInfo("image", "float32", (-1, 16, 16, 3))]
    prep = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
    with open_dataset(spec, path, rgb, tmp_path, prep) as data:
        (batch,) = list(data.batches(4))
    assert batch.inputs["image"].shape == (2, 16, 16, 3)
    np.testing.assert_allclose(batch.inputs["image"], 2.0)
    assert image_preprocessing(rgb[0], {}).layout == "NHWC"


def test_imagefolder_archive_that_escapes_is_refused(tmp_path: Path) -> None:
    import tarfile

    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as archive:
        info = tarfile.TarInfo("../evil/0/a.png")
        archive.addfile(info)
    with pytest.raises(ArchiveError, match="escapes"):
        _read(bad, "imagefolder", IMAGE, tmp=tmp_path)


def test_sha256_is_checked(tmp_path: Path) -> None:
    path = ev.write_npz(tmp_path / "d.npz", x=np.zeros((3, 64)), y=np.zeros(3))
    good = hashlib.sha256(path.read_bytes()).hexdigest()
    _read(path, "npz", sha256=good)
    with pytest.raises(EvaluationError, match=f"has sha256 {good} but dataset.sha256 is {'0' * 64}") as error:
        _read(path, "npz", sha256="0" * 64)
    assert error.value.reason == "DigestMismatch"


def test_s3_dataset_is_streamed_to_the_workdir_and_checked(tmp_path: Path, bucket: str) -> None:
    from modelyard.storage.config import S3Settings
    from modelyard.storage.s3 import make_client

    path = ev.write_npz(tmp_path / "d.npz", x=np.ones((3, 64)), y=np.arange(3))
    make_client(S3Settings()).upload_file(str(path), bucket, "d.npz")
    spec = ev.spec(f"s3://{bucket}/d.npz", sha256=hashlib.sha256(path.read_bytes()).hexdigest()).dataset
    local = fetch_dataset(spec, tmp_path / "work", S3Settings())
    assert local.read_bytes() == path.read_bytes()


def test_missing_file_and_folder_for_npz(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="does not exist"):
        fetch_dataset(ev.spec(f"file://{tmp_path}/nope.npz").dataset, tmp_path)
    with pytest.raises(EvaluationError, match="is a folder; format npz needs a file"):
        fetch_dataset(ev.spec(f"file://{tmp_path}").dataset, tmp_path)


TOKENS = [TensorInfo("input_ids", "int64", (-1, -1)), TensorInfo("attention_mask", "int64", (-1, -1))]
WORDPIECE = {"tokenizer": "minilm-wordpiece", "maxLength": 16}


def test_text_is_tokenized_per_batch_by_the_template_tokenizer(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"body": "a very long sentence about nothing at all really", "topic": "b"}\n'
                    '{"body": "short", "topic": "a"}\n{"body": "mid sized text", "topic": "b"}\n')
    dataset_spec = ev.spec(f"file://{path}", "text", textColumn="body", labelColumn="topic").dataset
    with open_dataset(dataset_spec, path, TOKENS, tmp_path, WORDPIECE) as data:
        batches = list(data.batches(2))
    assert data.count == 3 and data.class_names == ["a", "b"]
    assert [b.labels.tolist() for b in batches] == [[1, 0], [1]]
    first = batches[0].inputs
    assert first["input_ids"].shape == first["attention_mask"].shape == (2, 11)  # padded to the longest
    assert first["attention_mask"][1].tolist() == [1, 1, 1] + [0] * 8
    assert batches[1].inputs["input_ids"].shape == (1, 5)


def test_text_needs_token_inputs_and_a_tokenizer(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\nhello,0\n")
    with pytest.raises(EvaluationError, match="feeds inputs input_ids \\(and attention_mask\\); the model takes input"):
        _read(path, "text", FEATURES)
    dataset_spec = ev.spec(f"file://{path}", "text").dataset
    with pytest.raises(EvaluationError, match="template names a tokenizer"):
        open_dataset(dataset_spec, path, TOKENS, tmp_path, {"tokenizer": "ids"})
