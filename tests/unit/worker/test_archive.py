"""Archives are unpacked without letting anything escape or explode."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from modelyard.worker.archive import ArchiveError, Limits, extract, is_archive


def make_tar(path: Path, entries: list[tuple[str, bytes | None, str]]) -> Path:
    """entries: (name, data, type) with type 'file', 'symlink:<target>', 'hardlink:<target>'."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data, kind in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data or b"")
                tar.addfile(info, io.BytesIO(data or b""))
            else:
                info.type = tarfile.SYMTYPE if kind.startswith("symlink") else tarfile.LNKTYPE
                info.linkname = kind.split(":", 1)[1]
                tar.addfile(info)
    return path


def test_tar_with_folders_unpacks(tmp_path: Path):
    archive = make_tar(tmp_path / "m.tar.gz", [("model/model.onnx", b"abc", "file"), ("model/labels.txt", b"cat", "file")])
    files = extract(archive, tmp_path / "out")
    assert sorted(map(str, files)) == ["model/labels.txt", "model/model.onnx"]
    assert (tmp_path / "out/model/model.onnx").read_bytes() == b"abc"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (("/etc/passwd", b"x", "file"), "absolute path"),
        (("../../evil.sh", b"x", "file"), "escapes the archive"),
        (("model/../../evil", b"x", "file"), "escapes the archive"),
        (("link", None, "symlink:/etc/passwd"), "is a link or device"),
        (("hard", None, "hardlink:/etc/shadow"), "is a link or device"),
    ],
)
def test_tar_attacks_are_refused(tmp_path: Path, entry, message):
    archive = make_tar(tmp_path / "evil.tar.gz", [entry])
    with pytest.raises(ArchiveError, match=message):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.sh").exists()


def test_zip_slip_and_zip_bomb_are_refused(tmp_path: Path):
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("../outside.txt", "x")
    with pytest.raises(ArchiveError, match="escapes the archive"):
        extract(slip, tmp_path / "out")
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (4 * 1024 * 1024))
    assert bomb.stat().st_size < 64 * 1024
    with pytest.raises(ArchiveError, match="unpacks to more than 1048576 bytes"):
        extract(bomb, tmp_path / "out2", Limits(max_bytes=1024 * 1024))


def test_too_many_files(tmp_path: Path):
    archive = make_tar(tmp_path / "many.tar.gz", [(f"f{i}", b"x", "file") for i in range(5)])
    with pytest.raises(ArchiveError, match="more than 3 files"):
        extract(archive, tmp_path / "out", Limits(max_files=3))


def test_not_an_archive(tmp_path: Path):
    fake = tmp_path / "m.tar.gz"
    fake.write_bytes(b"not a tar")
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        extract(fake, tmp_path / "out")
    assert is_archive("model.TGZ") and is_archive("a.zip") and not is_archive("model.onnx")
