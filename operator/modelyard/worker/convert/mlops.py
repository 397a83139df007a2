"""ai.onnx.ml operators expressed in ai.onnx, for converters that have no rule for them.

onnxruntime runs scikit-learn's operators natively; OpenVINO has no LinearClassifier, so a
logistic regression exported by skl2onnx cannot be converted as it is. Its arithmetic is a
matrix product, an offset and the post-transform, all standard operators. What is rewritten
here is then verified against the source like any conversion: the rewrite has to compute
what onnxruntime computes (the coefficients read as onnxruntime reads them), or the version
is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modelyard.worker.convert.graphs import with_shapes
from modelyard.worker.convert.optimise import MIN_OPSET

POST_TRANSFORMS = {"NONE": None, "LOGISTIC": "Sigmoid", "SOFTMAX": "Softmax"}
"""LinearClassifier's post-transforms that have an ai.onnx operator of the same arithmetic."""


def lower(model: Any) -> tuple[list[str], list[str]]:
    """Rewrite in place the ai.onnx.ml operators that can be; returns what was rewritten (for
    lineage) and why the others could not be."""
    done: list[str] = []
    kept: list[str] = []
    known = _matrices(model)
    for node in [n for n in model.graph.node if n.domain == "ai.onnx.ml" and n.op_type == "LinearClassifier"]:
        why = _linear_classifier(model, node, *known.get(node.input[0], (0, None)))
        (kept if why else done).append(why or f"LinearClassifier {node.name or node.output[0]} as MatMul, Add, "
                                               f"{_attributes(node).get('post_transform', 'NONE')}, ArgMax and Gather")
    if done and not any(o.domain in ("", "ai.onnx") for o in model.opset_import):
        from onnx import helper

        model.opset_import.append(helper.make_opsetid("", MIN_OPSET))
    return done, kept


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    values = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in values.items()}


def _matrices(model: Any) -> dict[str, tuple[int, int]]:
    """Tensor name -> (element type, columns) of the matrices whose column count is known."""
    inferred = with_shapes(model)
    counts = {}
    for value in [*inferred.graph.input, *inferred.graph.value_info]:
        dims = value.type.tensor_type.shape.dim if value.type.HasField("tensor_type") else []
        if len(dims) == 2 and dims[1].HasField("dim_value"):
            counts[value.name] = (value.type.tensor_type.elem_type, dims[1].dim_value)
    return counts


def _linear_classifier(model: Any, node: Any, elem_type: int, features: int | None) -> str | None:
    """Replace `node` by standard operators; the reason it was not, or None."""
    from onnx import TensorProto, helper, numpy_helper

    attributes = _attributes(node)
    name = node.name or node.output[0]
    labels = attributes.get("classlabels_ints")
    intercepts = np.asarray(attributes.get("intercepts") or [], np.float32)
    coefficients = np.asarray(attributes.get("coefficients") or [], np.float32)
    post = attributes.get("post_transform", "NONE")
    classes = len(intercepts)
    if not labels:
        return f"LinearClassifier {name}: string class labels (OpenVINO has no string tensors)"
    if classes < 2 or classes != len(labels):
        return f"LinearClassifier {name}: {classes} score column(s) for {len(labels)} labels (a binary classifier's one column)"
    if post not in POST_TRANSFORMS:
        return f"LinearClassifier {name}: post_transform {post}"
    if features is None or features * classes > len(coefficients):
        return f"LinearClassifier {name}: its input's feature count is not known from the graph"
    # onnxruntime reads the first classes x features coefficients, row by row.
    weights = coefficients[:classes * features].reshape(classes, features).T.copy()
    prefix = f"{name}_lowered"
    constants = {
        f"{prefix}_weights": weights, f"{prefix}_intercepts": intercepts,
        f"{prefix}_labels": np.asarray(labels, np.int64),
    }
    model.graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
    x = node.input[0]
    nodes = []
    if elem_type != TensorProto.FLOAT:  # it takes doubles and integers too
        nodes.append(helper.make_node("Cast", [x], [f"{prefix}_x"], to=TensorProto.FLOAT))
        x = f"{prefix}_x"
    nodes += [helper.make_node("MatMul", [x, f"{prefix}_weights"], [f"{prefix}_product"]),
             helper.make_node("Add", [f"{prefix}_product", f"{prefix}_intercepts"], [f"{prefix}_scores"])]
    label, scores = (list(node.output) + ["", ""])[:2]
    if scores:
        transform = POST_TRANSFORMS[post]
        nodes.append(helper.make_node(transform or "Identity", [f"{prefix}_scores"], [scores],
                                      **({"axis": -1} if transform == "Softmax" else {})))
    if label:
        nodes += [helper.make_node("ArgMax", [f"{prefix}_scores"], [f"{prefix}_index"], axis=1, keepdims=0),
                  helper.make_node("Gather", [f"{prefix}_labels", f"{prefix}_index"], [label], axis=0)]
    index = list(model.graph.node).index(node)
    model.graph.node.remove(node)
    for offset, new in enumerate(nodes):
        model.graph.node.insert(index + offset, new)
    return None


def standard_copy(path: Path, target: Path) -> tuple[Path, list[str]]:
    """`path`, or a copy at `target` with its ai.onnx.ml operators rewritten where they can be;
    with the steps for lineage."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    if not any(n.domain == "ai.onnx.ml" and n.op_type == "LinearClassifier" for n in model.graph.node):
        return path, []
    done, kept = lower(model)
    if not done:
        return path, [f"kept as ai.onnx.ml: {why}" for why in kept]
    onnx.save(model, str(target))
    return target, [f"rewritten in ai.onnx for the converter: {what}" for what in done] + [f"kept as ai.onnx.ml: {why}" for why in kept]
