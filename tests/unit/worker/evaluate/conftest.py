"""Shared fixtures: the digits classifier exported once per session, a fresh store per test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelyard.storage.fs import FileStore
from tests.support import evaluation as ev


@dataclass(frozen=True)
class Artifacts:
    module: Any
    onnx: Path
    image_onnx: Path
    torchscript: Path
    exported: Path
    digits: ev.Digits


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    folder = tmp_path_factory.mktemp("models")
    module = ev.classifier()
    return Artifacts(
        module=module,
        onnx=ev.mlp_onnx(module, folder / "model.onnx"),
        image_onnx=ev.mlp_onnx(module, folder / "image.onnx", image=True),
        torchscript=ev.torchscript(module, folder / "model.pt"),
        exported=ev.exported_program(module, folder / "model.pt2"),
        digits=ev.digits(),
    )


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "store")


@pytest.fixture
def test_npz(tmp_path: Path, artifacts: Artifacts) -> Path:
    return ev.write_npz(tmp_path / "test.npz", x=artifacts.digits.x_test, y=artifacts.digits.y_test)
