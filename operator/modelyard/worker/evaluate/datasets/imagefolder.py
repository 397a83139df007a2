"""imagefolder datasets: one folder per class (torchvision's ImageFolder convention).

Classes are the folder names in sorted order and a sample's label is its folder's position.
An archive (.tar, .tar.gz, .tgz, .zip) is unpacked safely into the work folder first (disk, not
memory); when the archive wraps everything in a single top folder (`val/cat/1.png`) that folder
is the root. Images are listed per class when they are read, so memory holds one class's file
names and one batch of pixels.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from modelyard.worker.archive import extract, is_archive
from modelyard.worker.evaluate.datasets.base import Batch, Dataset
from modelyard.worker.evaluate.datasets.preprocessing import ImagePreprocessing
from modelyard.worker.evaluate.errors import dataset_mismatch

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".tif", ".tiff"})


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if not n.startswith(".") and Path(n).suffix.lower() in IMAGE_SUFFIXES)


def _class_root(root: Path) -> Path:
    while True:
        folders = _subfolders(root)
        if len(folders) == 1 and not _images(root) and _subfolders(folders[0]):
            root = folders[0]
        else:
            return root


class ImageFolderDataset(Dataset):
    def __init__(self, path: Path, input_name: str, preprocessing: ImagePreprocessing, workdir: Path, where: str):
        if path.is_file():
            if not is_archive(path.name):
                raise dataset_mismatch(f"{where}: an imagefolder dataset is a folder or a .tar, .tar.gz, .tgz or .zip archive")
            # The baseline reads the same data: unpack once per job.
            unpacked, done = workdir / "images", workdir / "images.complete"
            if not done.exists():
                extract(path, unpacked)
                done.touch()
            path = unpacked
        self._root = _class_root(path)
        self._classes = _subfolders(self._root)
        self.class_names = [c.name for c in self._classes]
        self.count = sum(len(_images(c)) for c in self._classes)
        self._input = input_name
        self._preprocessing = preprocessing

    def _samples(self) -> Iterator[tuple[Path, int]]:
        for label, folder in enumerate(self._classes):
            for name in _images(folder):
                yield folder / name, label

    def batches(self, size: int) -> Iterator[Batch]:
        start, images, labels = 0, [], []
        for path, label in self._samples():
            images.append(self._preprocessing.load(path))
            labels.append(label)
            if len(images) == size:
                yield Batch(start, {self._input: np.stack(images)}, np.array(labels, dtype=np.int64))
                start, images, labels = start + size, [], []
        if images:
            yield Batch(start, {self._input: np.stack(images)}, np.array(labels, dtype=np.int64))
