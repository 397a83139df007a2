"""FP16: weights and arithmetic in half precision, inputs and outputs kept as they were (a Cast
at each end), so the signature and every client stay unchanged.

Control flow (If, Loop, Scan) runs as an fp32 island: onnxruntime's converter walks into the
branches but puts the Casts of the nodes it keeps in fp32 in the outer graph (a model it makes
then refers to names its branch does not have), and types a branch's outputs apart from its
sibling's (`If ... Tensor element type mismatch. 10 != 1`). So each control-flow node is kept in
fp32 with its subgraphs untouched: what it reads from the outer graph, explicitly or by name
from inside a branch, is cast back to fp32 at its door, and its outputs to fp16 after it. What
stayed fp32 is listed; a model whose every weight sits in such an island is refused (it would be
the fp32 model under an fp16 name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.worker.convert.errors import NOTHING_CONVERTED, ConversionError
from modelyard.worker.convert.graphs import outer_names, sort_topologically, subgraphs

OP_BLOCK_LIST_EXTRA = ["LSTM", "GRU", "RNN"]
"""Operators kept in fp32 in addition to onnxruntime's defaults: onnxruntime 1.32 has no fp16
recurrent kernels, and creating a session on an fp16 LSTM crashed the process (SIGSEGV)."""
CONTROL_FLOW = ("If", "Loop", "Scan")
QUANTIZED = ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "ConvInteger", "MatMulInteger",
             "QLinearConv", "QLinearMatMul", "DynamicQuantizeLSTM", "MatMulIntegerToFloat")
"""Operators of a model quantized already: they take fp32 (their scales are fp32), so they stay."""


@dataclass
class Fp16:
    step: str
    kept: list[str] = field(default_factory=list)
    """Nodes kept in fp32 (`If_0 (control flow)`, `LSTM_3`), for the status."""
    converted_fraction: float = 1.0
    """Share of the float weights (by element count) now stored in fp16."""


def to_fp16(source: Path, target: Path) -> Fp16:
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = onnx.load(str(source))
    # The dynamo exporter's value_info (duplicated entries included) misleads the converter into
    # leaving a blocked node's fp16 weights unconverted; the shapes are inferred again instead
    # (the outputs of control flow need their types for the Casts after them).
    del model.graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model)
    total = _float_elements(model.graph)
    islands = _detach_control_flow(model.graph)
    blocked = set(DEFAULT_OP_BLOCK_LIST) | set(OP_BLOCK_LIST_EXTRA) | set(QUANTIZED)
    neighbours = _neighbours(model.graph, OP_BLOCK_LIST_EXTRA)
    converted = convert_float_to_float16(
        model, keep_io_types=True, disable_shape_infer=True, op_block_list=sorted(blocked),
        node_block_list=sorted(set(neighbours) | set(islands)),
    )
    _reattach(converted.graph, islands)
    sort_topologically(converted.graph)
    onnx.save(converted, str(target))
    kept = [f"{name} ({node_type}, control flow: its branches stay fp32)" for name, (node_type, *_rest) in islands.items()]
    kept += [n.name for n in converted.graph.node if n.op_type in OP_BLOCK_LIST_EXTRA]
    in_fp16 = _float_elements(converted.graph, half=True)
    fraction = in_fp16 / total if total else 1.0
    if total and in_fp16 == 0:
        raise ConversionError(
            NOTHING_CONVERTED,
            f"no weight of the model could be stored in fp16: all {total} float weights are inside control flow or "
            f"operators that must stay fp32 ({'; '.join(kept)[:600]}); the output would be the fp32 model under an fp16 "
            "name: convert to onnx instead",
        )
    return Fp16("onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True), control flow kept as "
                "fp32 islands: fp16 inside, I/O types unchanged", kept, round(fraction, 4))


def _float_elements(graph: Any, half: bool = False) -> int:
    """Float (or, with `half`, float16) weight elements in `graph` and its subgraphs."""
    import math

    import onnx

    wanted = onnx.TensorProto.FLOAT16 if half else onnx.TensorProto.FLOAT
    count = sum(math.prod(i.dims) for i in graph.initializer if i.data_type == wanted)
    for node in graph.node:
        for sub in subgraphs(node):
            count += _float_elements(sub, half)
    return count


def _detach_control_flow(graph: Any) -> dict[str, tuple[str, int, list[Any], list[str]]]:
    """Take the subgraphs off each top-level control-flow node, and let it read what its
    branches read from outside as extra inputs: the converter then casts those to fp32 at its
    door as it does for any node it keeps in fp32. name -> (op, inputs, attributes, outer names)."""
    islands = {}
    for index, node in enumerate(graph.node):
        if node.op_type not in CONTROL_FLOW:
            continue
        if not node.name:
            node.name = f"{node.op_type}_island_{index}"
        outer = [name for sub in subgraphs(node) for name in outer_names(sub)]
        outer = [name for i, name in enumerate(outer) if name not in outer[:i]]
        attributes = [a for a in node.attribute]
        kept = [a for a in attributes if not _is_graph(a)]
        del node.attribute[:]
        node.attribute.extend(kept)
        islands[node.name] = (node.op_type, len(node.input), [a for a in attributes if _is_graph(a)], outer)
        node.input.extend(outer)
    return islands


def _is_graph(attribute: Any) -> bool:
    import onnx

    return attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)


def _reattach(graph: Any, islands: dict[str, tuple[str, int, list[Any], list[str]]]) -> None:
    for node in graph.node:
        if node.name not in islands:
            continue
        _, count, attributes, outer = islands[node.name]
        renamed = dict(zip(outer, list(node.input[count:]), strict=True))
        del node.input[count:]
        for attribute in attributes:
            for sub in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
                _rename_outer(sub, {k: v for k, v in renamed.items() if k != v})
        node.attribute.extend(attributes)


def _rename_outer(graph: Any, renamed: dict[str, str]) -> None:
    """Point a subgraph's reads of outer names at their fp32 copies (shadowed names are left)."""
    if not renamed:
        return
    local = {v.name for v in graph.input} | {i.name for i in graph.initializer}
    renamed = {k: v for k, v in renamed.items() if k not in local}
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
        for sub in subgraphs(node):
            _rename_outer(sub, renamed)
        renamed = {k: v for k, v in renamed.items() if k not in node.output}
    for output in graph.output:
        if output.name in renamed:  # a branch passing an outer value through (outputs bind by position)
            output.name = renamed[output.name]


def _neighbours(graph: Any, op_types: list[str], depth: int = 2) -> list[str]:
    """Nodes within `depth` edges of the given operators: kept in fp32 with them (onnxruntime
    1.32 crashed on an exported LSTM whose surrounding Reshape/Transpose nodes were fp16)."""
    near = {n.name for n in graph.node if n.op_type in op_types}
    for _ in range(depth):
        values = {v for n in graph.node if n.name in near for v in list(n.input) + list(n.output)}
        near |= {n.name for n in graph.node if values.intersection(list(n.input) + list(n.output))}
    return sorted(n for n in near if n)
