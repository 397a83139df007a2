"""npz datasets, read row by row straight out of the zip: memory stays one batch deep.

Why not `np.load`: loading an npz member reads the whole array into memory, and
`np.load(mmap_mode='r')` ignores mmap for npz members (it only maps plain .npy files), so the
options were (a) extract every member to disk and memory-map it, or (b) stream each member.
We stream: every `.npy` member is opened through `zipfile` (works alike for `np.savez` and
`np.savez_compressed`), its header parsed, and each batch read with `readinto` into a fresh
array. Rows are consumed in order, which is all the evaluation needs; nothing is extracted, and
unlike a memory map, pages already read do not stay resident and count towards the pod's RSS.
Object arrays are refused: they would need unpickling.
"""

from __future__ import annotations

import zipfile
from math import prod
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
from numpy.lib import format as npy

from modelyard.worker.evaluate.datasets.base import Batch, Dataset
from modelyard.worker.evaluate.errors import dataset_mismatch
from modelyard.worker.evaluate.tensors import TensorInfo


class NpyStream:
    """One `.npy` member of an npz, read a number of rows at a time."""

    def __init__(self, archive: zipfile.ZipFile, member: str, where: str):
        self.name = member[: -len(".npy")] if member.endswith(".npy") else member
        self._stream: BinaryIO = archive.open(member)  # type: ignore[assignment]
        try:
            version = npy.read_magic(self._stream)
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran, dtype = read_header(self._stream)
        except ValueError as error:
            raise dataset_mismatch(f"{where}: array {self.name!r} is not a valid .npy ({error})") from None
        if dtype.hasobject:
            raise dataset_mismatch(f"{where}: array {self.name!r} holds Python objects, which would need unpickling; "
                                   "store numeric arrays")
        if fortran and len(shape) > 1:
            raise dataset_mismatch(f"{where}: array {self.name!r} is stored in Fortran order; "
                                   "save np.ascontiguousarray(array) so rows can be streamed")
        if not shape:
            raise dataset_mismatch(f"{where}: array {self.name!r} is a scalar; it needs one row per sample")
        self.shape: tuple[int, ...] = tuple(shape)
        self.dtype: np.dtype = dtype
        self.rows = self.shape[0]
        self._row_bytes = dtype.itemsize * prod(self.shape[1:])
        self._where = where

    def read(self, rows: int) -> np.ndarray:
        out = np.empty((rows, *self.shape[1:]), dtype=self.dtype)
        view = memoryview(out.reshape(-1).view(np.uint8)) if out.size else memoryview(b"")
        done = 0
        while done < len(view):
            n = self._stream.readinto(view[done:])  # type: ignore[attr-defined]
            if not n:
                raise dataset_mismatch(f"{self._where}: array {self.name!r} ends early (truncated file)")
            done += n
        return out

    def close(self) -> None:
        self._stream.close()


class NpzDataset(Dataset):
    """Arrays `x` (single-input models) or one per model input by name, plus labels `y`
    (or `dataset.labelColumn`)."""

    def __init__(self, path: Path, inputs: list[TensorInfo], label: str | None, where: str):
        try:
            self._archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise dataset_mismatch(f"{where} is not an npz (zip) file: {error}") from None
        arrays = {m[: -len(".npy")]: m for m in self._archive.namelist() if m.endswith(".npy")}
        label = label or "y"
        found = ", ".join(sorted(arrays)) or "none"
        if label not in arrays:
            raise dataset_mismatch(f"{where}: no label array {label!r} (arrays: {found}); "
                                   "name it y or set dataset.labelColumn")
        names = [t.name for t in inputs]
        if all(n in arrays for n in names):
            members = {n: arrays[n] for n in names}
        elif len(names) == 1 and "x" in arrays:
            members = {names[0]: arrays["x"]}
        else:
            raise dataset_mismatch(f"{where}: the model takes {', '.join(names)} but the npz holds {found}; "
                                   f"provide x (single-input models) or arrays named like the inputs")
        self._where = where
        self._inputs = {n: NpyStream(self._archive, m, where) for n, m in members.items()}
        self._labels = NpyStream(self._archive, arrays[label], where)
        self.count = self._labels.rows
        if self._labels.shape[1:] not in ((), (1,)):
            raise dataset_mismatch(f"{where}: labels {label!r} have shape {list(self._labels.shape)}; "
                                   "give one class index (or regression target) per sample")
        for name, stream in self._inputs.items():
            if stream.rows != self.count:
                raise dataset_mismatch(f"{where}: array {stream.name!r} (input {name}) has {stream.rows} rows but "
                                       f"labels {label!r} have {self.count}")

    def batches(self, size: int) -> Iterator[Batch]:
        for start in range(0, self.count, size):
            rows = min(size, self.count - start)
            inputs = {n: s.read(rows) for n, s in self._inputs.items()}
            yield Batch(start, inputs, self._labels.read(rows).reshape(rows))

    def close(self) -> None:
        for stream in (*self._inputs.values(), self._labels):
            stream.close()
        self._archive.close()

