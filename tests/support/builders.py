"""Builders of valid objects for tests: start from these and change one thing."""

from __future__ import annotations

import copy
from typing import Any

from modelyard.api import API_VERSION


def _obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}


def model(name: str = "classifier", **spec: Any) -> dict[str, Any]:
    return _obj("Model", name, {"task": "image-classification", **spec})


def model_version(name: str = "classifier-1-0-0", **spec: Any) -> dict[str, Any]:
    base = {
        "modelRef": {"name": "classifier"},
        "version": "1.0.0",
        "format": "onnx",
        "source": {"uri": "s3://models/classifier/model.onnx"},
    }
    return _obj("ModelVersion", name, {**base, **spec})


def conversion_job(name: str = "classifier-onnx", **spec: Any) -> dict[str, Any]:
    base = {"sourceRef": {"name": "classifier-1-0-0"}, "target": {"format": "onnx"}}
    return _obj("ConversionJob", name, {**base, **spec})


def evaluation_job(name: str = "classifier-eval", **spec: Any) -> dict[str, Any]:
    base = {
        "modelVersionRef": {"name": "classifier-1-0-0"},
        "dataset": {"uri": "s3://datasets/holdout.npz", "format": "npz"},
    }
    return _obj("EvaluationJob", name, {**base, **spec})


def with_spec(obj: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A copy of `obj` with spec fields replaced."""
    changed = copy.deepcopy(obj)
    changed["spec"].update(spec)
    return changed
