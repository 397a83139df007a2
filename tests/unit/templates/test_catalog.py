"""The template catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.templates import TemplateError, load_catalog


def test_builtin_templates():
    catalog = load_catalog()
    assert {"image-classification-cnn", "text-classification", "tabular-mlp"} <= set(catalog.templates)
    resolved = catalog.get("image-classification-cnn").resolve({"numClasses": "5", "channels": "1", "inputSize": "28"})
    assert resolved.signature.inputs[0].shape == [-1, 1, 28, 28]
    assert resolved.signature.outputs[0].shape == [-1, 5]
    assert resolved.preprocessing["resize"] == 28
    assert "accuracy" in resolved.metrics and resolved.task == "image-classification"


def test_every_builtin_architecture_builds_with_defaults():
    import torch

    catalog = load_catalog()
    for name in catalog.templates:
        resolved = catalog.get(name).resolve({})
        module = resolved.build_module().eval()
        examples = []
        for spec in resolved.signature.inputs:
            shape = [2 if d == -1 else d for d in spec.shape]
            examples.append(torch.ones(shape, dtype=torch.int64) if spec.dtype == "int64" else torch.randn(shape))
        assert list(module(*examples).shape) == [2, resolved.signature.outputs[0].shape[1]], name


def test_unknown_template_lists_the_available_ones():
    with pytest.raises(TemplateError, match="no template named 'resnet'; available: image-classification-cnn"):
        load_catalog().get("resnet")


@pytest.mark.parametrize(("given", "message"), [
    ({"numClasses": "ten"}, "parameter numClasses must be a positive integer, got 'ten'"),
    ({"classes": "10"}, "unknown parameter\\(s\\) classes; it takes"),
])
def test_bad_parameters_are_named(given, message):
    with pytest.raises(TemplateError, match=message):
        load_catalog().get("tabular-mlp").resolve(given)


def test_a_folder_extends_and_overrides_the_catalog(tmp_path: Path, monkeypatch):
    (tmp_path / "mine.yaml").write_text(
        "name: tabular-mlp\ntask: regression\nparameters: {numFeatures: {default: '3'}, numClasses: {default: '1'}, hidden: {default: '4'}}\n"
        "signature: {inputs: [{name: f, shape: [-1, '{numFeatures}']}], outputs: [{name: y, shape: [-1, 1]}]}\n"
        "architecture: {name: MLP, arguments: {num_features: numFeatures, hidden: hidden, num_classes: numClasses}}\n"
    )
    monkeypatch.setenv("MODELYARD_TEMPLATE_DIR", str(tmp_path))
    catalog = load_catalog()
    assert catalog.get("tabular-mlp").task == "regression"
    assert "image-classification-cnn" in catalog.templates


def test_templates_cannot_name_arbitrary_code(tmp_path: Path):
    (tmp_path / "evil.yaml").write_text(
        "name: evil\ntask: other\nsignature: {inputs: [], outputs: []}\narchitecture: {name: os.system}\n")
    with pytest.raises(TemplateError, match="architecture 'os.system' is not built in"):
        load_catalog(tmp_path)
