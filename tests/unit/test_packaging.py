"""The control plane installs and imports without torch or an inference runtime."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "onnx", "onnxruntime", "onnxscript", "tritonclient", "numpy")

# Runs in a fresh interpreter with the heavy packages made unimportable, as in a base install.
PROBE = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {HEAVY!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import modelyard, modelyard.api, modelyard.api.crd, modelyard.api.validation, modelyard.cli
import modelyard.main, modelyard.handlers.register, modelyard.handlers.resync, modelyard.core.conversion
from modelyard.cli import main
assert main(['validate', {str(ROOT / 'examples')!r}]) == 0
loaded = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})
assert not loaded, loaded
"""


def test_control_plane_and_operator_import_without_heavy_packages():
    """The operator never runs models: torch, onnx and onnxruntime are never imported by it."""
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_base_dependencies_exclude_heavy_packages_and_keep_the_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = project["dependencies"]
    names = [d.split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip() for d in base]
    assert not set(names) & set(HEAVY)
    assert "kubernetes>=30,<37" in base
    assert "boto3>=1.40" in base
    assert "torch==2.13.0" in project["optional-dependencies"]["worker"]


def test_operator_folder_is_not_a_package():
    """The standard library owns `operator`; ours must never shadow it."""
    assert not (ROOT / "operator" / "__init__.py").exists()
    import operator

    assert hasattr(operator, "itemgetter")


def test_console_script_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"modelyard": "modelyard.cli:entry"}
