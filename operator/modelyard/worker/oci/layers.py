"""What a manifest holds and which of its bytes are the model.

Three shapes, told apart by the config's media type and the layers' annotations:

- an **image** (an OCI or Docker image config): filesystem layers (tar, tar+gzip), applied in
  order: a later layer's file wins, `.wh.NAME` deletes NAME below it, `.wh..wh..opq` empties a
  folder below it. The model is a path in the resulting filesystem (default `/models`, where a
  KServe modelcar keeps it). Layers are read from the top down, so every file is written once
  and lower layers are not fetched once the path is settled.
- a **KitOps ModelKit** (config `application/vnd.kitops.modelkit.config.v1+json`, the Kitfile as
  JSON): `application/vnd.kitops.modelkit.<model|modelpart|dataset|code|docs>.v1.tar[+gzip]`
  layers in the Kitfile's order; the model (and its parts) by default. CNCF ModelPack manifests
  (`application/vnd.cncf.model.*`, `org.cncf.model.filepath`) read the same way.
- an **ORAS artifact**: layers named by `org.opencontainers.image.title` (a file, or a folder
  packed as tar+gzip with `io.deis.oras.content.unpack`); every file by default.

Entries are checked as archive entries are (worker/archive.py): no absolute paths or `..`, no
links out of the selection, no devices, bounded size and count.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, ContextManager

from modelyard.worker.archive import Limits
from modelyard.worker.oci.client import Descriptor
from modelyard.worker.oci.errors import OciError

TITLE = "org.opencontainers.image.title"
FILEPATH = "org.cncf.model.filepath"
ORAS_UNPACK = "io.deis.oras.content.unpack"
KITOPS_CONFIG = "application/vnd.kitops.modelkit.config.v1+json"
MODELPACK_CONFIG = "application/vnd.cncf.model.config.v1+json"
IMAGE_CONFIGS = ("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json")
_KITOPS_LAYER = re.compile(r"^application/vnd\.kitops\.modelkit\.(\w+)\.v1\.(tar|raw)(?:\+(\w+))?$")
_MODELPACK_LAYER = re.compile(r"^application/vnd\.cncf\.model\.([\w.]+)\.v1\.(tar|raw)(?:\+(\w+))?$")
_IMAGE_LAYERS = {
    "application/vnd.oci.image.layer.v1.tar": None,
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
}
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
MODEL_ROLES = ("model", "modelpart", "weight", "weight.config")
IMAGE_DEFAULT_PATH = "/models"
DEFAULT_LIMITS = Limits()

OpenLayer = Callable[[Descriptor], ContextManager[Any]]
"""Opens a layer's blob as a stream that checks its digest and size (client.BlobReader)."""


def normal(path: str) -> str:
    """A path inside an artifact as `a/b` (no leading `/` or `./`); '' for the root."""
    cleaned = posixpath.normpath("/" + path.strip()).lstrip("/")
    return "" if cleaned == "." else cleaned


@dataclass(frozen=True)
class Layer:
    """How to read one layer: packed as a tar or one raw file, its compression, and where its
    entries sit in the artifact (`prefix`: a folder for tar entries, the file's path when raw)."""

    descriptor: Descriptor
    packing: str
    compression: str | None
    prefix: str
    role: str
    where: str = ""
    """The path the layer stands for (a Kitfile entry's), when known: it selects layers."""


@dataclass
class Plan:
    """The layers to read and the path of the model in them."""

    kind: str
    layers: list[Layer]
    root: str
    """The selected path ('' = every file of the selected layers)."""
    explicit: bool
    """Whether the user named the path (else the shape's default)."""
    filesystem: bool = False
    """Image semantics: layers overlay each other (whiteouts, later wins)."""
    notes: dict[str, Any] = field(default_factory=dict)


def _compression(value: str | None, descriptor: Descriptor, what: str) -> str | None:
    if value in (None, "", "none"):
        return None
    if value in ("gzip", "gzip-fastest"):
        return "gzip"
    raise OciError("UnsupportedArtifact", f"{what}: layer {descriptor.digest} is {descriptor.media_type}; "
                   "Modelyard reads uncompressed and gzip layers (zstd is not supported yet)")


def plan(manifest: dict[str, Any], read_config: Callable[[Descriptor], bytes], path: str | None, what: str) -> Plan:
    """Decide how to read `manifest` for the model at `path` (None: the shape's default)."""
    config = Descriptor.parse(manifest.get("config") or {}, f"{what} config") if manifest.get("config") else None
    raw_layers = manifest.get("layers")
    if not isinstance(raw_layers, list):
        raise OciError("ManifestInvalid", f"{what}: the manifest has no layers list")
    layers = [Descriptor.parse(d, f"{what} layer {i + 1}") for i, d in enumerate(raw_layers)]
    config_type = config.media_type if config else ""
    if config_type == KITOPS_CONFIG:
        assert config is not None
        return _modelkit(layers, _kitfile(read_config(config), what), path, what)
    if config_type == MODELPACK_CONFIG or (layers and all(_MODELPACK_LAYER.match(d.media_type) for d in layers)):
        return _modelpack(layers, path, what)
    if config_type in IMAGE_CONFIGS or (config_type == "" and all(d.media_type in _IMAGE_LAYERS for d in layers)):
        return _image(layers, path, what)
    if layers and all(d.annotations.get(TITLE) for d in layers):
        return _oras(layers, path, what)
    kinds = sorted({d.media_type or "(none)" for d in layers}) or ["no layers"]
    raise OciError("UnsupportedArtifact", f"{what}: an artifact Modelyard does not know how to read (config "
                   f"{config_type or '(none)'}, layers {', '.join(kinds)}); it reads images, KitOps ModelKits, "
                   "ModelPacks and ORAS artifacts whose layers carry org.opencontainers.image.title")


def _kitfile(data: bytes, what: str) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except ValueError:
        raise OciError("ManifestInvalid", f"{what}: the ModelKit's config (its Kitfile) is not JSON") from None
    if not isinstance(body, dict):
        raise OciError("ManifestInvalid", f"{what}: the ModelKit's config (its Kitfile) is not an object")
    return body


def _modelkit(layers: list[Descriptor], kitfile: dict[str, Any], path: str | None, what: str) -> Plan:
    model = kitfile.get("model") or {}
    entries: dict[str, list[dict[str, Any]]] = {
        "model": [model] if model else [], "modelpart": list(model.get("parts") or []),
        "code": list(kitfile.get("code") or []), "dataset": list(kitfile.get("datasets") or []),
        "docs": list(kitfile.get("docs") or []), "prompt": list(kitfile.get("prompts") or []),
    }
    used = {k: 0 for k in entries}
    planned = []
    for descriptor in layers:
        match = _KITOPS_LAYER.match(descriptor.media_type)
        if match is None:
            continue  # kit skips what it does not know, and so do we
        role, packing, compression = match.groups()
        if role == "code" and descriptor.annotations.get("ml.kitops.modelkit.layer.subtype") == "prompt":
            role = "prompt"
        queue = entries.get(role)
        if queue is None or used[role] >= len(queue):
            raise OciError("ManifestInvalid", f"{what}: {descriptor.media_type} layer {descriptor.digest} has no entry in the Kitfile")
        entry = queue[used[role]]
        used[role] += 1
        entry_path = normal(str(entry.get("path") or ""))
        # Current kit records the layer's digest in the Kitfile and stores full paths in the
        # tar; older ModelKits stored entries relative to the path's folder.
        prefix = entry_path if packing == "raw" else ("" if entry.get("digest") else posixpath.dirname(entry_path))
        planned.append(Layer(descriptor, packing, _compression(compression, descriptor, what), prefix, role, entry_path))
    model_path = normal(str(model.get("path") or ""))
    if path is None and model_path and ":" in str(model.get("path")):
        raise OciError("UnsupportedArtifact", f"{what}: the ModelKit's model is a reference to another ModelKit "
                       f"({model.get('path')}); import that one")
    if path is not None:
        root = normal(path)
        selected = [layer for layer in planned if _related(layer, root)]
    else:
        root = model_path
        selected = [layer for layer in planned if layer.role in MODEL_ROLES]
    if not selected:
        raise OciError("PathNotFound", f"{what} is a ModelKit without {'a layer at ' + (path or '') if path else 'a model layer'} "
                       f"(its Kitfile lists: {', '.join(_kit_paths(entries)) or 'nothing'})")
    return Plan("ModelKit", selected, root, path is not None, notes={"kitfile": kitfile})


def _kit_paths(entries: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [f"{role} {e.get('path')}" for role, items in entries.items() for e in items][:20]


def _related(layer: Layer, root: str) -> bool:
    """Whether a layer can hold files at or under `root` (its prefix is on the same branch)."""
    where = layer.where or (layer.prefix if layer.packing == "raw" else "")
    if not where:
        return True  # full paths inside: only reading tells
    return not root or where == root or where.startswith(root + "/") or root.startswith(where + "/")


def _modelpack(layers: list[Descriptor], path: str | None, what: str) -> Plan:
    planned = []
    for descriptor in layers:
        match = _MODELPACK_LAYER.match(descriptor.media_type)
        if match is None:
            continue
        role, packing, compression = match.groups()
        where = normal(descriptor.annotations.get(FILEPATH) or descriptor.annotations.get(TITLE) or "")
        if packing == "raw" and not where:
            raise OciError("ManifestInvalid", f"{what}: raw layer {descriptor.digest} has no {FILEPATH} annotation")
        planned.append(Layer(descriptor, packing, _compression(compression, descriptor, what), where if packing == "raw" else "",
                             role, where))
    root = normal(path) if path is not None else ""
    selected = [layer for layer in planned if (layer.role in MODEL_ROLES if path is None else _related(layer, root))]
    if not selected:
        raise OciError("PathNotFound", f"{what} is a ModelPack without {'a layer at ' + str(path) if path else 'model weights'}")
    return Plan("ModelPack", selected, root, path is not None)


def _oras(layers: list[Descriptor], path: str | None, what: str) -> Plan:
    planned = []
    for descriptor in layers:
        title = normal(descriptor.annotations[TITLE])
        if descriptor.annotations.get(ORAS_UNPACK) == "true":
            # oras packs a folder as tar+gzip whose entries start with the folder's name
            planned.append(Layer(descriptor, "tar", "gzip", posixpath.dirname(title), "file", title))
        else:
            planned.append(Layer(descriptor, "raw", None, title, "file", title))
    root = normal(path) if path is not None else ""
    selected = [layer for layer in planned if _related(layer, root)]
    if not selected:
        titles = ", ".join(normal(d.annotations[TITLE]) for d in layers[:20])
        raise OciError("PathNotFound", f"{what} is an ORAS artifact without {path} (its files: {titles})")
    return Plan("ORAS artifact", selected, root, path is not None)


def _image(layers: list[Descriptor], path: str | None, what: str) -> Plan:
    planned = []
    for descriptor in layers:
        if descriptor.media_type not in _IMAGE_LAYERS:
            raise OciError("UnsupportedArtifact", f"{what}: image layer {descriptor.digest} is {descriptor.media_type or '(no media type)'}, "
                           "not a tar filesystem layer")
        compression = _compression(_IMAGE_LAYERS[descriptor.media_type], descriptor, what)
        planned.append(Layer(descriptor, "tar", compression, "", "filesystem"))
    root = normal(path if path is not None else IMAGE_DEFAULT_PATH)
    if not root:
        raise OciError("PathNotFound", f"{what}: path / would import the whole image; name the model's file or folder")
    return Plan("image", planned, root, path is not None, filesystem=True)


# --- reading ------------------------------------------------------------------------------------


class _Overlay:
    """What upper image layers decided, for the layers below them."""

    def __init__(self) -> None:
        self.masked: set[str] = set()  # a non-folder or a whiteout: the path and all below it
        self.dirs: set[str] = set()  # folders: they replace a lower non-folder, merge with a lower folder
        self.opaque: set[str] = set()  # folders emptied of everything below them

    def hidden(self, path: str, is_dir: bool) -> bool:
        if path in self.masked or (not is_dir and path in self.dirs):
            return True
        parts = path.split("/")
        for i in range(1, len(parts)):
            ancestor = "/".join(parts[:i])
            if ancestor in self.masked or ancestor in self.opaque:
                return True
        return False

    def settled(self, root: str) -> bool:
        """Whether no lower layer can add anything at `root`."""
        return root in self.masked or root in self.opaque or self.hidden(root, True)

    def merge(self, other: "_Overlay") -> None:
        self.masked |= other.masked
        self.dirs |= other.dirs
        self.opaque |= other.opaque


@dataclass
class Extracted:
    """The files written (artifact path -> file) and what was seen on the way, for messages."""

    files: dict[str, Path] = field(default_factory=dict)
    total: int = 0
    links: dict[str, str] = field(default_factory=dict)
    top: set[str] = field(default_factory=set)
    layers_read: int = 0


class _Reader:
    def __init__(self, plan: Plan, dest: Path, what: str, limits: Limits):
        self.plan, self.dest, self.what, self.limits = plan, dest, what, limits
        self.out = Extracted()

    def wanted(self, path: str) -> bool:
        root = self.plan.root
        return not root or path == root or path.startswith(root + "/")

    def _write(self, path: str, source: BinaryIO, size_hint: int) -> None:
        if path in self.out.files and not self.plan.filesystem:
            raise OciError("ManifestInvalid", f"{self.what}: two layers hold {path}")
        if len(self.out.files) + 1 > self.limits.max_files:
            raise OciError("UnsafeLayer", f"{self.what}: more than {self.limits.max_files} files at {self.plan.root or '/'}")
        target = self.dest.joinpath(*path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            while chunk := source.read(1024 * 1024):
                self.out.total += len(chunk)
                if self.out.total > self.limits.max_bytes:
                    raise OciError("UnsafeLayer", f"{self.what}: more than {self.limits.max_bytes} bytes at {self.plan.root or '/'}")
                out.write(chunk)
        self.out.files[path] = target

    def raw(self, layer: Layer, blob: Any) -> None:
        path = layer.prefix
        self.out.top.add(path.split("/")[0])
        if self.wanted(path):
            self._write(path, blob, layer.descriptor.size)
        blob.drain()

    def tar(self, layer: Layer, blob: Any, overlay: _Overlay | None) -> _Overlay:
        mine = _Overlay()
        mode = "r|gz" if layer.compression == "gzip" else "r|"
        try:
            with tarfile.open(fileobj=blob, mode=mode) as archive:
                for member in archive:
                    self._member(layer, archive, member, overlay, mine)
        except tarfile.TarError as error:
            raise OciError("UnsafeLayer", f"{self.what}: layer {layer.descriptor.digest} is not a readable tar ({error})") from None
        blob.drain()
        return mine

    def _member(self, layer: Layer, archive: tarfile.TarFile, member: tarfile.TarInfo,
                overlay: _Overlay | None, mine: _Overlay) -> None:
        name = member.name
        if ".." in name.split("/"):
            raise OciError("UnsafeLayer", f"{self.what}: layer {layer.descriptor.digest} has an entry that escapes with '..': {name!r}")
        path = normal(posixpath.join(layer.prefix, name))
        if not path:
            return
        folder, base = posixpath.split(path)
        self.out.top.add(path.split("/")[0])
        if self.plan.filesystem and base.startswith(WHITEOUT):
            if base == OPAQUE:
                mine.opaque.add(folder)
            else:
                mine.masked.add(posixpath.join(folder, base[len(WHITEOUT):]))
            return
        if member.isdir():
            mine.dirs.add(path)
            return
        mine.masked.add(path)
        if overlay is not None and overlay.hidden(path, False):
            return
        if member.issym() and (path == self.plan.root or self.plan.root.startswith(path + "/")):
            self.out.links[path] = member.linkname  # the path goes through a link: pull.py follows it
            return
        if not self.wanted(path):
            return
        if member.isfile():
            source = archive.extractfile(member)
            assert source is not None
            self._write(path, source, member.size)
        elif member.islnk():
            target = normal(posixpath.join(layer.prefix, member.linkname))
            if target not in self.out.files:
                raise OciError("UnsafeLayer", f"{self.what}: {path} is a hard link to {target}, outside the selected path")
            self.dest.joinpath(*path.split("/")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.out.files[target], self.dest.joinpath(*path.split("/")))
            self.out.files[path] = self.dest.joinpath(*path.split("/"))
        elif member.issym():
            raise OciError("UnsafeLayer", f"{self.what}: /{path} is a symbolic link to {member.linkname}; name the file it points to")
        else:
            raise OciError("UnsafeLayer", f"{self.what}: /{path} is a device or pipe, not a file")


def extract(plan: Plan, open_layer: OpenLayer, dest: Path, what: str, limits: Limits = DEFAULT_LIMITS) -> Extracted:
    """Write the selected files under `dest` at their paths in the artifact."""
    reader = _Reader(plan, dest, what, limits)
    if plan.filesystem:
        overlay = _Overlay()
        for layer in reversed(plan.layers):
            with open_layer(layer.descriptor) as blob:
                overlay.merge(reader.tar(layer, blob, overlay))
            reader.out.layers_read += 1
            if overlay.settled(plan.root):
                break
        return reader.out
    for layer in plan.layers:
        with open_layer(layer.descriptor) as blob:
            if layer.packing == "raw":
                reader.raw(layer, blob)
            else:
                reader.tar(layer, blob, None)
        reader.out.layers_read += 1
    return reader.out


def model_root(plan: Plan, files: list[str]) -> str:
    """The folder the version's files are named from: the path itself when it is a folder, else
    its parent (a single file keeps its name); with no path, the files' deepest common folder."""
    root = plan.root
    if root and any(f.startswith(root + "/") for f in files):
        return root
    if root and root in files:
        parent = posixpath.dirname(root)
        if all(f == root or f.startswith(parent + "/" if parent else "") for f in files):
            return parent
    common = posixpath.commonpath(files) if files else ""
    return common if common not in files else posixpath.dirname(common)
