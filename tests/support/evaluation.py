"""Builders for evaluation tests: a digits classifier trained here (scikit-learn's bundled
digits, no download), exported to ONNX (built from the weights with onnx.helper), TorchScript
and ExportedProgram; versions published into a store; datasets written as npz, csv and
imagefolder; EvaluationJob specs."""

from __future__ import annotations

import csv
import io
import tarfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.api.evaluationjob import EvaluationJobSpec
from modelyard.api.modelversion import ModelVersion
from modelyard.api.validation import parse_object
from modelyard.storage.base import Store
from modelyard.storage.layout import Manifest, VersionWriter, version_prefix
from modelyard.worker.evaluate import EvaluateJob
from tests.support import builders

NAMESPACE = "team"
MODEL = "digits"
CLASSES = 10


@dataclass(frozen=True)
class Digits:
    """The digits split: float32 features in [0, 1] (pixels / 16) and int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@lru_cache(maxsize=1)
def digits() -> Digits:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, data.target.astype(np.int64), test_size=0.2,
                                                        random_state=0, stratify=data.target)
    return Digits(x_train, y_train, x_test, y_test)


@lru_cache(maxsize=2)
def classifier(hidden: int = 32, steps: int = 150) -> Any:
    """A small MLP (64 -> hidden -> 10) trained on the digits training split; deterministic."""
    import torch

    torch.manual_seed(0)
    data = digits()
    module = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, CLASSES))
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    optimizer = torch.optim.Adam(module.parameters(), lr=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(module(x), y).backward()
        optimizer.step()
    return module.eval()


def logits(module: Any, x: np.ndarray) -> np.ndarray:
    """The module's outputs computed by torch (the independent reference)."""
    import torch

    with torch.inference_mode():
        return module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()


def mlp_onnx(module: Any, path: Path, image: bool = False, input_name: str = "input") -> Path:
    """The MLP as ONNX (Gemm-Relu-Gemm); `image` takes [N, 1, 8, 8] and flattens it first."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    first, last = module[0], module[2]
    weights = [numpy_helper.from_array(t.detach().numpy().astype(np.float32), name) for name, t in
               (("w1", first.weight), ("b1", first.bias), ("w2", last.weight), ("b2", last.bias))]
    nodes = []
    source = input_name
    if image:
        nodes.append(helper.make_node("Flatten", [input_name], ["flat"], axis=1))
        source = "flat"
    nodes += [helper.make_node("Gemm", [source, "w1", "b1"], ["h"], transB=1),
              helper.make_node("Relu", ["h"], ["r"]),
              helper.make_node("Gemm", ["r", "w2", "b2"], ["logits"], transB=1)]
    shape = ["batch", 1, 8, 8] if image else ["batch", 64]
    graph = helper.make_graph(nodes, "digits", [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def linear_onnx(coef: np.ndarray, intercept: float, path: Path) -> Path:
    """A linear regression [N, F] -> [N, 1] as ONNX."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(coef.reshape(-1, 1).astype(np.float32), "w")
    b = numpy_helper.from_array(np.array([intercept], dtype=np.float32), "b")
    graph = helper.make_graph([helper.make_node("Gemm", ["features", "w", "b"], ["value"])], "linear",
                              [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", coef.size])],
                              [helper.make_tensor_value_info("value", TensorProto.FLOAT, ["batch", 1])], [w, b])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), str(path))
    return path


def torchscript(module: Any, path: Path) -> Path:
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.trace(module, torch.zeros(2, 64)).save(str(path))
    return path


def exported_program(module: Any, path: Path) -> Path:
    import torch

    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(module, (torch.zeros(2, 64),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))
    return path


MLP_SIGNATURE = {"inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 64]}],
                 "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, CLASSES]}]}


def publish(store: Store, file: Path, version: str, format: str = "onnx", model: str = MODEL,
            signature: dict[str, Any] | None = None, **spec: Any) -> ModelVersion:
    """Store `file` as a complete version and return its ModelVersion (as the operator passes it)."""
    prefix = version_prefix(NAMESPACE, model, version)
    writer = VersionWriter(store, prefix)
    with file.open("rb") as stream:
        writer.put_file(file.name, stream)
    writer.commit(Manifest(namespace=NAMESPACE, model=model, name=f"{model}-{version.replace('.', '-')}",
                           version=version, format=format, files=writer.written))
    body = builders.model_version(f"{model}-{version.replace('.', '-')}", modelRef={"name": model}, version=version,
                                  format=format, source={"uri": f"file://{file}"}, **spec)
    if signature:
        body["spec"]["signature"] = signature
    body["metadata"]["namespace"] = NAMESPACE
    return parse_object(body)  # type: ignore[return-value]


def spec(uri: str, format: str = "npz", **fields: Any) -> EvaluationJobSpec:
    dataset = {"uri": uri, "format": format}
    for key in ("sha256", "labelColumn", "textColumn"):
        if key in fields:
            dataset[key] = fields.pop(key)
    return parse_object(builders.evaluation_job("digits-eval", dataset=dataset, **fields)).spec  # type: ignore[attr-defined]


def job(store: Store, workdir: Path, version: ModelVersion, eval_spec: EvaluationJobSpec,
        baseline: ModelVersion | None = None, name: str = "digits-eval", stages: list[str] | None = None) -> EvaluateJob:
    workdir.mkdir(parents=True, exist_ok=True)
    return EvaluateJob(namespace=NAMESPACE, name=name, spec=eval_spec, version=version, baseline=baseline,
                       store=store, workdir=workdir, progress=stages.append if stages is not None else None)


# --- datasets ---------------------------------------------------------------------------------


def write_npz(path: Path, compressed: bool = False, **arrays: np.ndarray) -> Path:
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def write_csv(path: Path, x: np.ndarray, y: np.ndarray | list, label: str = "label") -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow([f"f{i}" for i in range(x.shape[1])] + [label])
        for row, target in zip(x, y, strict=True):
            writer.writerow([repr(float(v)) for v in row] + [target])
    return path


def digit_pixels(x: np.ndarray) -> np.ndarray:
    """Features in [0, 1] as 8x8 uint8 images (what an imagefolder holds)."""
    return np.round(x.reshape(-1, 8, 8) * 255).astype(np.uint8)


def write_imagefolder(path: Path, pixels: np.ndarray, labels: np.ndarray) -> Path:
    """One folder per class (`0`..`9`) of PNGs, as a folder or (by suffix) .tar.gz / .zip.
    Returns the order an imagefolder reader sees the samples in: by class, then file name."""
    from PIL import Image

    files: list[tuple[str, bytes]] = []
    for i, (image, label) in enumerate(zip(pixels, labels, strict=True)):
        buffer = io.BytesIO()
        Image.fromarray(image, mode="L").save(buffer, format="PNG")
        files.append((f"digits/{label}/{i:05d}.png", buffer.getvalue()))
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in files:
                archive.writestr(name, data)
    elif path.name.endswith((".tar.gz", ".tar")):
        with tarfile.open(path, "w:gz" if path.name.endswith(".gz") else "w") as archive:
            for name, data in files:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    else:
        for name, data in files:
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return path


def imagefolder_order(labels: np.ndarray) -> np.ndarray:
    """Indices of the samples in the order an imagefolder reader yields them."""
    return np.array(sorted(range(len(labels)), key=lambda i: (str(labels[i]), i)))
