"""Classifiers exported by skl2onnx end, by default, in a ZipMap (ai.onnx.ml): the class
probabilities leave the graph as a sequence of {label: probability} maps, one per row.

A signature holds tensors, so such an output is described, run and compared as the tensor the
ZipMap is given: one row per sample, one column per class in the ZipMap's label order. The
source file is kept as it is (a version is immutable); runners turn its maps into that tensor
by the labels the graph names, and a conversion ends the graph at the tensor instead, which
every runtime and server can return (OpenVINO, TensorRT and KServe's v2 protocol have no maps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.worker.convert.graphs import with_shapes

SHAPE_KEEPING = frozenset({"Normalizer", "Identity", "Cast", "Softmax", "Sigmoid", "Abs", "Relu"})
"""Operators whose output has their input's shape: where shape inference leaves the ZipMap's
input unknown (onnx has none for Normalizer), its shape is found before them."""


@dataclass(frozen=True)
class ZipMap:
    output: str
    """The graph output the ZipMap makes."""
    tensor: str
    """The tensor it is given."""
    labels: list[Any]
    """Its class labels: the order of the tensor's columns."""
    elem_type: int
    """The tensor's ONNX element type (the maps' value type)."""


def zipmaps(model: Any) -> dict[str, ZipMap]:
    """The graph outputs a ZipMap makes, by name."""
    from onnx import helper

    outputs = {o.name: o for o in model.graph.output}
    found: dict[str, ZipMap] = {}
    for node in model.graph.node:
        if node.op_type != "ZipMap" or node.domain != "ai.onnx.ml" or node.output[0] not in outputs:
            continue
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        labels = list(attributes.get("classlabels_int64s") or [])
        labels = labels or [s.decode() for s in attributes.get("classlabels_strings") or []]
        value = outputs[node.output[0]].type.sequence_type.elem_type.map_type.value_type
        found[node.output[0]] = ZipMap(node.output[0], node.input[0], labels, value.tensor_type.elem_type or 1)
    return found


def tensor_shape(model: Any, zipmap: ZipMap) -> list[int | str | None]:
    """The shape of the tensor a ZipMap is given: [rows, classes], rows a number, a symbol, or
    None where nothing in the graph says."""
    inferred = with_shapes(model)
    known = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
             if v.type.HasField("tensor_type") and v.type.tensor_type.HasField("shape")}
    producers = {out: node for node in model.graph.node for out in node.output}
    name = zipmap.tensor
    while name not in known and name in producers and producers[name].op_type in SHAPE_KEEPING:
        name = producers[name].input[0]
    rows: int | str | None = None
    if name in known and known[name].type.tensor_type.shape.dim:
        first = known[name].type.tensor_type.shape.dim[0]
        rows = first.dim_value if first.HasField("dim_value") else (first.dim_param or None)
    return [rows, len(zipmap.labels)]


def strip(model: Any) -> list[str]:
    """End the graph at the tensors its ZipMaps are given, under the outputs' own names; returns
    what was changed, for lineage."""
    from onnx import helper

    found = zipmaps(model)
    steps = []
    for zipmap in found.values():
        node = next(n for n in model.graph.node if n.op_type == "ZipMap" and n.output[0] == zipmap.output)
        index = list(model.graph.node).index(node)
        model.graph.node.remove(node)
        model.graph.node.insert(index, helper.make_node("Identity", [zipmap.tensor], [zipmap.output],
                                                        name=f"{node.name or zipmap.output}_tensor"))
        output = next(o for o in model.graph.output if o.name == zipmap.output)
        output.CopyFrom(helper.make_tensor_value_info(zipmap.output, zipmap.elem_type, tensor_shape(model, zipmap)))
        shown = ", ".join(map(str, zipmap.labels[:10])) + (", ..." if len(zipmap.labels) > 10 else "")
        steps.append(f"ZipMap removed: output {zipmap.output} is the tensor of its values, one column per "
                     f"class in label order ({shown})")
    return steps


def as_tensor(maps: list[dict[Any, Any]], zipmap: ZipMap) -> np.ndarray:
    """What onnxruntime returns for a ZipMap'd output (a list of maps) as the tensor a stripped
    graph returns."""
    dtype = {1: np.float32, 11: np.float64}.get(zipmap.elem_type, np.float32)
    return np.array([[row[label] for label in zipmap.labels] for row in maps], dtype=dtype).reshape(
        len(maps), len(zipmap.labels))
