"""How large an integer input may be: the rows of the embedding table it indexes.

Generated integer inputs used to be 0s and 1s, which for a token-id model is nearly all padding:
verification then compares two models on inputs no user sends. Where the graph shows that an
input indexes a table (ONNX Gather, torch.export's aten.embedding, an eager module's
nn.Embedding called with the input itself), ids are drawn over the whole
table; elsewhere they stay 0/1 and the verification says that is weak evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PASS_THROUGH = ("Cast", "Unsqueeze", "Reshape", "Flatten", "Identity", "Squeeze")
"""Ops between a graph input and the Gather that indexes with it."""
WEIGHT_OPS = ("Cast", "Mul", "DequantizeLinear", "Identity")
"""Ops between a stored table and the Gather (weights stored quantized are dequantized first)."""


def onnx_sizes(path: Path) -> dict[str, int]:
    """Input name -> the fewest rows of any table it indexes."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    producers = {out: node for node in graph.node for out in node.output}
    tables = {i.name: list(i.dims) for i in graph.initializer}
    inputs = {v.name for v in graph.input} - set(tables)

    def source_input(name: str) -> str | None:
        for _ in range(8):
            if name in inputs:
                return name
            node = producers.get(name)
            if node is None or node.op_type not in PASS_THROUGH:
                return None
            name = node.input[0]
        return None

    def rows(name: str) -> int | None:
        for _ in range(8):
            if name in tables:
                dims = tables[name]
                return int(dims[0]) if len(dims) == 2 else None
            node = producers.get(name)
            if node is None or node.op_type not in WEIGHT_OPS:
                return None
            name = node.input[0]
        return None

    sizes: dict[str, int] = {}
    for node in graph.node:
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if node.op_type != "Gather" or axis != 0 or len(node.input) < 2:
            continue
        indexed, count = source_input(node.input[1]), rows(node.input[0])
        if indexed is not None and count:
            sizes[indexed] = min(count, sizes.get(indexed, count))
    return sizes


def exported_sizes(program: Any) -> dict[str, int]:
    """The same for a torch.export ExportedProgram: aten.embedding(weight, indices)."""
    import torch

    users = set(program.graph_signature.user_inputs)
    sizes: dict[str, int] = {}
    for node in program.graph.nodes:
        if node.op != "call_function" or node.target is not torch.ops.aten.embedding.default:
            continue
        weight, indices = node.args[0], node.args[1]
        shape = getattr(weight.meta.get("val"), "shape", None)
        if getattr(indices, "op", None) == "placeholder" and indices.name in users and shape is not None and len(shape) == 2:
            count = int(shape[0])
            sizes[indices.name] = min(count, sizes.get(indices.name, count))
    return sizes


def module_sizes(module: Any, arrays: list[Any], names: list[str]) -> dict[str, int]:
    """The same for an eager torch module: run once on `arrays` (its inputs, in order), noting
    every nn.Embedding called with one of those very tensors (identity, not equal values)."""
    import torch

    tensors = [torch.from_numpy(a) for a in arrays]
    sizes: dict[str, int] = {}

    def seen(embedding: Any, args: tuple[Any, ...]) -> None:
        for name, tensor in zip(names, tensors, strict=True):
            if args and args[0] is tensor:
                sizes[name] = min(embedding.num_embeddings, sizes.get(name, embedding.num_embeddings))

    hooks = [m.register_forward_pre_hook(seen) for m in module.modules() if isinstance(m, torch.nn.Embedding)]
    try:
        with torch.no_grad():
            module(*tensors)
    finally:
        for hook in hooks:
            hook.remove()
    return sizes
