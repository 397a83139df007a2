"""Walking ONNX graphs with their subgraphs (If branches, Loop and Scan bodies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def subgraphs(node: Any) -> list[Any]:
    """The graphs a node holds in its attributes (none for most operators)."""
    import onnx

    found = []
    for attribute in node.attribute:
        if attribute.type == onnx.AttributeProto.GRAPH:
            found.append(attribute.g)
        elif attribute.type == onnx.AttributeProto.GRAPHS:
            found.extend(attribute.graphs)
    return found


def all_nodes(graph: Any) -> Iterator[Any]:
    """Every node of `graph`, those of its subgraphs included."""
    for node in graph.node:
        yield node
        for sub in subgraphs(node):
            yield from all_nodes(sub)


def with_shapes(model: Any) -> Any:
    """`model` with onnx's inferred shapes, or as it is where inference fails (ai.onnx.ml
    operators it has no rule for)."""
    import onnx

    try:
        return onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - what the file declares is then all that is known
        return model


def outer_names(graph: Any) -> list[str]:
    """Names a subgraph reads from the scopes around it (not its inputs, initializers or outputs
    of its own nodes), in first-use order."""
    local = {v.name for v in graph.input} | {i.name for i in graph.initializer} | {""}
    found: list[str] = []
    for node in graph.node:
        reads = list(node.input)
        for sub in subgraphs(node):
            reads += outer_names(sub)
        found += [name for name in reads if name not in local and name not in found]
        local.update(node.output)
    found += [o.name for o in graph.output if o.name not in local and o.name not in found]
    return found


def sort_topologically(graph: Any, outer: set[str] | None = None) -> None:
    """Order nodes so every input is produced before use, in `graph` and every subgraph (the
    quantizer and the fp16 converter append nodes out of order; onnx.checker refuses that)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""} | (outer or set())
    pending = list(graph.node)
    ordered = []
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)
                 and all(name in available for sub in subgraphs(n) for name in outer_names(sub))]
        if not ready:  # a cycle or a name from further out: keep the remaining order
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
    scope = available | {o for n in graph.node for o in n.output}
    for node in graph.node:
        for sub in subgraphs(node):
            sort_topologically(sub, scope)
