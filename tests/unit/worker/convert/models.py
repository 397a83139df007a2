"""Tiny real torch models and writers that publish them as Ready source versions in a store.

Every model is seeded; the signatures declare a dynamic batch."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from modelyard.api.conversionjob import ConversionJobSpec
from modelyard.api.modelversion import ModelVersion
from modelyard.api.validation import parse_object
from modelyard.storage.base import Store
from modelyard.storage.layout import Manifest, VersionWriter, version_prefix
from modelyard.worker.convert import ConvertJob
from tests.support import builders

NAMESPACE = "team"
MODEL = "net"
SOURCE = "net-1-0-0"
VOCAB = 50
MAX_TOKENS = 128
TEXT = {"inputs": [{"name": "tokens", "dtype": "int64", "shape": [-1, -1]}],
        "outputs": [{"name": "embedding", "dtype": "float32", "shape": [-1, 8]}]}


def _tensor(name: str, *shape: int, dtype: str = "float32") -> dict[str, Any]:
    return {"name": name, "dtype": dtype, "shape": [-1, *shape]}


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class CNN(nn.Module):
    """Convolutions with BatchNorm (running statistics made non-trivial)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4),
        )
        for module in self.body:
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.body(image)


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Linear(8, 3)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.stem(image))
        h = torch.relu(h + self.conv2(torch.relu(self.bn(self.conv1(h)))))
        return self.head(h.mean(dim=(2, 3)))


class Recurrent(nn.Module):
    """LSTM over a sequence; returns the per-step features (a non-classifier output)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 12, batch_first=True)
        self.proj = nn.Linear(12, 6)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(sequence)
        return self.proj(out)


class TwoByTwo(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 16)
        self.b = nn.Linear(6, 16)
        self.scores = nn.Linear(16, 3)
        self.value = nn.Linear(16, 2)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.a(left) + self.b(right))
        return self.scores(h), torch.tanh(self.value(h))


class Svd(nn.Module):
    """Uses an operator that neither ONNX exporter supports (aten::linalg_svd)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.svdvals(x.reshape(-1, 2, 2)).reshape(-1, 2)


class TextEncoder(nn.Module):
    """Token ids [batch, sequence] -> one embedding per text: token and position embeddings, one
    self-attention layer, mean pooling. The position table bounds the sequence (MAX_TOKENS)."""

    def __init__(self, vocab: int = VOCAB, dim: int = 16) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, dim)
        self.positions = nn.Embedding(MAX_TOKENS, dim)
        self.attention = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.out = nn.Linear(dim, 8)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.tokens(tokens) + self.positions(torch.arange(tokens.shape[1]))
        h, _ = self.attention(h, h, h, need_weights=False)
        return self.out(h.mean(dim=1))


MODELS: dict[str, tuple[Callable[[], nn.Module], dict[str, Any]]] = {
    "mlp": (MLP, {"inputs": [_tensor("x", 8)], "outputs": [_tensor("logits", 5)]}),
    "cnn": (CNN, {"inputs": [_tensor("image", 3, 16, 16)], "outputs": [_tensor("logits", 4)]}),
    "residual": (Residual, {"inputs": [_tensor("image", 3, 8, 8)], "outputs": [_tensor("logits", 3)]}),
    "lstm": (Recurrent, {"inputs": [_tensor("sequence", 7, 4)], "outputs": [_tensor("features", 7, 6)]}),
    "two": (TwoByTwo, {"inputs": [_tensor("left", 4), _tensor("right", 6)],
                       "outputs": [_tensor("scores", 3), _tensor("value", 2)]}),
    "svd": (Svd, {"inputs": [_tensor("x", 4)], "outputs": [_tensor("values", 2)]}),
    "text": (TextEncoder, TEXT),
}


def build(kind: str) -> tuple[nn.Module, dict[str, Any]]:
    torch.manual_seed(0)
    factory, signature = MODELS[kind]
    return factory().eval(), signature


EXAMPLE_TOKENS = 6
"""The sequence length examples are traced at (not a size the converter uses)."""


def example(signature: dict[str, Any], batch: int = 2) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(1)
    tensors = []
    for t in signature["inputs"]:
        shape = (batch, *(EXAMPLE_TOKENS if d == -1 else d for d in t["shape"][1:]))
        if t["dtype"] == "int64":
            tensors.append(torch.randint(0, VOCAB, shape, generator=generator))
        else:
            tensors.append(torch.randn(*shape, generator=generator))
    return tuple(tensors)


def dynamic_shapes(signature: dict[str, Any]) -> tuple[dict[int, Any], ...]:
    """torch.export Dims for every -1 axis: the batch, and a bounded sequence."""
    batch = torch.export.Dim("batch", min=1)
    sequence = torch.export.Dim("sequence", min=2, max=MAX_TOKENS)
    return tuple({axis: batch if axis == 0 else sequence for axis, d in enumerate(t["shape"]) if d == -1}
                 for t in signature["inputs"])


def serialise(module: nn.Module, signature: dict[str, Any], format: str) -> tuple[str, bytes]:
    """(file name, bytes) of the model in `format`."""
    buffer = io.BytesIO()
    if format == "torchscript":
        torch.jit.save(torch.jit.trace(module, example(signature)), buffer)
        return "model.pt", buffer.getvalue()
    if format == "pytorch-exportedprogram":
        program = torch.export.export(module, example(signature), dynamic_shapes=dynamic_shapes(signature))
        torch.export.save(program, buffer)
        return "model.pt2", buffer.getvalue()
    if format == "pytorch-state-dict":
        torch.save(module.state_dict(), buffer)
        return "model.pt", buffer.getvalue()
    if format == "onnx":
        names = [t["name"] for t in signature["inputs"]]
        outputs = [t["name"] for t in signature["outputs"]]
        torch.onnx.export(module, example(signature), buffer, dynamo=False, opset_version=17, input_names=names,
                          output_names=outputs, dynamic_axes={
                              t["name"]: {a: "batch" if a == 0 else f"{t['name']}_{a}" for a, d in enumerate(t["shape"]) if d == -1}
                              for t in signature["inputs"] + signature["outputs"]})
        return "model.onnx", buffer.getvalue()
    raise ValueError(format)


def publish(store: Store, kind: str = "mlp", format: str = "pytorch-exportedprogram", *, version: str = "1.0.0",
            data: tuple[str, bytes] | None = None, signature: dict[str, Any] | None = None,
            template: dict[str, Any] | None = None) -> ModelVersion:
    """Store a complete source version and return its Ready ModelVersion."""
    module, own_signature = build(kind) if kind in MODELS else (None, None)
    signature = signature or own_signature
    filename, body = data or serialise(module, signature, format)
    prefix = version_prefix(NAMESPACE, MODEL, version)
    writer = VersionWriter(store, prefix)
    entry = writer.put_file(filename, io.BytesIO(body))
    writer.commit(Manifest(namespace=NAMESPACE, model=MODEL, name=SOURCE, version=version, format=format, files=[entry],
                           signature=signature or {}))
    source: dict[str, Any] = {"uri": f"s3://models/{filename}"}
    if template:
        source = {"template": template}
    obj = builders.model_version(SOURCE, modelRef={"name": MODEL}, version=version, format=format, source=source)
    obj["metadata"]["namespace"] = NAMESPACE
    if signature:
        obj["spec"]["signature"] = signature
    obj["status"] = {"phase": "Ready"}
    return parse_object(obj)


def spec(format: str = "onnx", verify: dict[str, Any] | None = None, **target: Any) -> ConversionJobSpec:
    obj = builders.conversion_job(sourceRef={"name": SOURCE}, target={"format": format, **target})
    if verify is not None:
        obj["spec"]["verify"] = verify
    return ConversionJobSpec.model_validate(obj["spec"])


def job(store: Store, workdir: Path, source: ModelVersion, conversion: ConversionJobSpec, name: str = "net-convert",
        progress: Callable[[str], None] | None = None) -> ConvertJob:
    workdir.mkdir(parents=True, exist_ok=True)
    return ConvertJob(namespace=NAMESPACE, name=name, spec=conversion, source=source, store=store, workdir=workdir,
                      progress=progress)


def old_onnx() -> bytes:
    """A CNN saved as the ONNX model zoo's classic models are: IR version 3, opset 9, every
    initializer also a graph input, names with `/` (gpu_0/data_0). Fixed batch of 1."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name) for name, shape in
               (("conv1_w_0", (4, 3, 3, 3)), ("conv1_b_0", (4,)), ("fc_w_0", (5, 4)), ("fc_b_0", (5,)))]
    nodes = [
        helper.make_node("Conv", ["gpu_0/data_0", "conv1_w_0", "conv1_b_0"], ["conv1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv1"], ["relu1"]),
        helper.make_node("GlobalAveragePool", ["relu1"], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "fc_w_0", "fc_b_0"], ["fc"], transB=1),
        helper.make_node("Softmax", ["fc"], ["gpu_0/softmax_1"], axis=1),
    ]
    inputs = [helper.make_tensor_value_info("gpu_0/data_0", TensorProto.FLOAT, [1, 3, 16, 16])]
    inputs += [helper.make_tensor_value_info(w.name, TensorProto.FLOAT, list(w.dims)) for w in weights]
    outputs = [helper.make_tensor_value_info("gpu_0/softmax_1", TensorProto.FLOAT, [1, 5])]
    model = helper.make_model(helper.make_graph(nodes, "zoo", inputs, outputs, weights),
                              opset_imports=[helper.make_opsetid("", 9)])
    model.ir_version = 3
    onnx.checker.check_model(model)
    return model.SerializeToString()
