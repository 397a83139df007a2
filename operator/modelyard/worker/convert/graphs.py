"""Walking ONNX graphs with their subgraphs (If branches, Loop and Scan bodies)."""

from __future__ import annotations

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
