"""FP16: weights and arithmetic in half precision, inputs and outputs kept as they were (a Cast
at each end), so the signature and every client stay unchanged."""

from __future__ import annotations

from pathlib import Path

OP_BLOCK_LIST_EXTRA = ["LSTM", "GRU", "RNN"]
"""Operators kept in fp32 in addition to onnxruntime's defaults: onnxruntime 1.32 has no fp16
recurrent kernels, and creating a session on an fp16 LSTM crashed the process (SIGSEGV)."""


def to_fp16(source: Path, target: Path) -> str:
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = onnx.load(str(source))
    # The dynamo exporter's value_info (duplicated entries included) misleads the converter into
    # leaving a blocked node's fp16 weights unconverted; it infers the shapes again itself.
    del model.graph.value_info[:]
    blocked = set(DEFAULT_OP_BLOCK_LIST) | set(OP_BLOCK_LIST_EXTRA)
    converted = convert_float_to_float16(
        model, keep_io_types=True, op_block_list=sorted(blocked), node_block_list=_neighbours(model.graph, OP_BLOCK_LIST_EXTRA)
    )
    _topological(converted.graph)
    onnx.save(converted, str(target))
    return "onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True): fp16 inside, I/O types unchanged"


def _neighbours(graph, op_types: list[str], depth: int = 2) -> list[str]:
    """Nodes within `depth` edges of the given operators: kept in fp32 with them (onnxruntime
    1.32 crashed on an exported LSTM whose surrounding Reshape/Transpose nodes were fp16)."""
    near = {n.name for n in graph.node if n.op_type in op_types}
    for _ in range(depth):
        values = {v for n in graph.node if n.name in near for v in list(n.input) + list(n.output)}
        near |= {n.name for n in graph.node if values.intersection(list(n.input) + list(n.output))}
    return sorted(n for n in near if n)


def _topological(graph) -> None:
    """Order nodes so every input is produced before use (the converter appends the input Casts
    at the end, which onnx.checker rejects)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)]
        if not ready:  # a cycle or a name from an outer scope: keep the remaining order
            ordered += pending
            break
        for node in ready:
            ordered.append(node)
            available.update(node.output)
        pending = [n for n in pending if n not in ready]
    copies = [type(n)() for n in ordered]
    for copy, node in zip(copies, ordered, strict=True):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)
