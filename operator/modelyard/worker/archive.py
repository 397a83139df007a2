"""Safe unpacking of model archives (.tar, .tar.gz, .tgz, .zip).

Nothing may land outside the destination: absolute paths, `..` segments, links and device
files are refused, and so are archives over the size or file-count limits (zip bombs).
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")


class ArchiveError(ValueError):
    """An archive that cannot be unpacked safely; the message names the archive and entry."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 64 * 1024**3
    max_files: int = 10_000


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _safe_name(archive: Path, name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not path.parts or path.is_absolute() or name.startswith("\\") or ":" in path.parts[0]:
        raise ArchiveError(f"{archive.name}: entry {name!r} has an absolute path")
    if ".." in path.parts:
        raise ArchiveError(f"{archive.name}: entry {name!r} escapes the archive with '..'")
    return path


def extract(archive: Path, dest: Path, limits: Limits = Limits()) -> list[Path]:
    """Unpack `archive` into `dest`; returns the regular files written, relative to `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    if archive.name.lower().endswith(".zip"):
        return _extract_zip(archive, dest, limits)
    return _extract_tar(archive, dest, limits)


def _check_totals(archive: Path, count: int, total: int, limits: Limits) -> None:
    if count > limits.max_files:
        raise ArchiveError(f"{archive.name}: more than {limits.max_files} files")
    if total > limits.max_bytes:
        raise ArchiveError(f"{archive.name}: unpacks to more than {limits.max_bytes} bytes")


def _extract_tar(archive: Path, dest: Path, limits: Limits) -> list[Path]:
    written: list[Path] = []
    total = 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = _safe_name(archive, member.name)
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ArchiveError(f"{archive.name}: entry {member.name!r} is a link or device; only regular files are accepted")
                total += member.size
                _check_totals(archive, len(written) + 1, total, limits)
                target = dest.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, 1024 * 1024)
                written.append(Path(*name.parts))
    except tarfile.TarError as error:
        raise ArchiveError(f"{archive.name}: not a readable tar archive ({error})") from None
    return written


def _extract_zip(archive: Path, dest: Path, limits: Limits) -> list[Path]:
    written: list[Path] = []
    total = 0
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = _safe_name(archive, info.filename)
                if info.is_dir():
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise ArchiveError(f"{archive.name}: entry {info.filename!r} is a link; only regular files are accepted")
                target = dest.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as source, target.open("wb") as out:
                    # Count what is really inflated: a zip's declared sizes can lie.
                    while chunk := source.read(1024 * 1024):
                        total += len(chunk)
                        _check_totals(archive, len(written) + 1, total, limits)
                        out.write(chunk)
                written.append(Path(*name.parts))
    except zipfile.BadZipFile as error:
        raise ArchiveError(f"{archive.name}: not a readable zip archive ({error})") from None
    return written
