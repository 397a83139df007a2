"""The generated CRDs: in sync with the models, structural, bounded, documented."""

from __future__ import annotations

import re

from pathlib import Path
from typing import Any, Iterator

import celpy
import pytest
from openapi_schema_validator import OAS30Validator

from modelyard.api import KINDS
from modelyard.api.crd import crd, crd_files
from tests.support import apiserver

CRD_DIR = Path(__file__).resolve().parents[3] / "crds"

# The fields of apiextensions.k8s.io/v1 JSONSchemaProps that our schemas may use.
ALLOWED_KEYS = {
    "description", "type", "format", "enum", "default", "properties", "required", "items",
    "additionalProperties", "minimum", "maximum", "minLength", "maxLength", "minItems",
    "maxItems", "maxProperties", "pattern", "anyOf", "x-kubernetes-validations",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
}


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, prop in schema.get("properties", {}).items():
        yield from nodes(prop, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}[*]")
    if "items" in schema:
        yield from nodes(schema["items"], f"{path}[]")


SCHEMAS = {kind: apiserver.schema_of(kind) for kind in KINDS}


def test_checked_in_crds_match_the_models():
    generated = crd_files()
    on_disk = {p.name: p.read_text() for p in CRD_DIR.glob("*.yaml")}
    assert sorted(on_disk) == sorted(generated), "run `modelyard crds --out crds/`"
    for name, text in generated.items():
        assert on_disk[name] == text, f"{name} drifted from api/: run `modelyard crds --out crds/`"


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_structural(kind):
    for path, node in nodes(SCHEMAS[kind]):
        assert set(node) <= ALLOWED_KEYS, f"{kind}{path}: unexpected keys {set(node) - ALLOWED_KEYS}"
        if node.get("x-kubernetes-int-or-string"):
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}]
            continue
        if node.get("x-kubernetes-preserve-unknown-fields"):
            # scalars of any type (a parameter default, hyperparameter values): no properties
            assert "properties" not in node and "additionalProperties" not in node, f"{kind}{path}"
            continue
        assert "type" in node, f"{kind}{path} has no type"
        assert "anyOf" not in node, f"{kind}{path}: unions are not structural"
        assert not ("properties" in node and "additionalProperties" in node), f"{kind}{path}"
    metadata = SCHEMAS[kind]["properties"]["metadata"]
    assert metadata == {"type": "object"}


@pytest.mark.parametrize("kind", KINDS)
def test_defaults_validate_against_their_own_schema(kind):
    for path, node in nodes(SCHEMAS[kind]):
        if "default" in node:
            errors = list(OAS30Validator(node).iter_errors(node["default"]))
            assert not errors, f"{kind}{path}: default {node['default']!r} is invalid"


@pytest.mark.parametrize("kind", KINDS)
def test_everything_cel_can_see_is_bounded(kind):
    """The API server rejects CRDs whose CEL cost is unbounded; the whole-spec
    `self == oldSelf` sees every field of the spec."""
    for path, node in nodes(SCHEMAS[kind]["properties"]["spec"], ".spec"):
        kind_of = node.get("type")
        if kind_of == "string":
            assert "maxLength" in node or "enum" in node, f"{kind}{path}: unbounded string"
        if kind_of == "array":
            assert "maxItems" in node, f"{kind}{path}: unbounded list"
        if kind_of == "object" and "additionalProperties" in node:
            assert "maxProperties" in node, f"{kind}{path}: unbounded map"


@pytest.mark.parametrize("kind", KINDS)
def test_every_field_is_documented(kind):
    for section in ("spec", "status"):
        schema = SCHEMAS[kind]["properties"][section]
        for path, node in nodes(schema, f".{section}"):
            if path.endswith("[]") or path.endswith("[*]"):
                continue
            if node.get("type") in ("object", "array", "string", "number", "integer", "boolean"):
                assert node.get("description"), f"{kind}{path} has no description"


@pytest.mark.parametrize("kind", KINDS)
def test_cel_rules_compile(kind):
    env = celpy.Environment()
    rules = [r for _, n in nodes(SCHEMAS[kind]) for r in n.get("x-kubernetes-validations", [])]
    assert rules
    for rule in rules:
        env.compile(rule["rule"])
        assert rule["message"]


@pytest.mark.parametrize("kind", ["ModelVersion", "ConversionJob", "EvaluationJob"])
def test_spec_is_immutable(kind):
    rules = SCHEMAS[kind]["properties"]["spec"]["x-kubernetes-validations"]
    assert {"rule": "self == oldSelf", "message": rules[-1]["message"]} in rules


def test_model_spec_is_mutable():
    rules = SCHEMAS["Model"]["properties"]["spec"].get("x-kubernetes-validations", [])
    assert all("oldSelf" not in r["rule"] for r in rules)


def _resolves(schema: dict[str, Any], json_path: str) -> bool:
    """Whether a column's JSONPath names a field of the schema (a filter `[?(...)]` selects
    items of a list, whose fields the filter must name too)."""
    node = schema
    for filtered in re.findall(r"\[\?\(@\.(\w+)==", json_path):
        if not _resolves(schema, re.sub(r"\[\?\(.*", "", json_path) + f".[].{filtered}"):
            return False
    for part in re.sub(r"\[\?\(.*?\)\]", ".[]", json_path).strip(".").split("."):
        props = node.get("properties", {})
        if part == "[]" and "items" in node:
            node = node["items"]
        elif part in props:
            node = props[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return False
    return True


@pytest.mark.parametrize("kind", KINDS)
def test_crd_names_columns_and_subresources(kind):
    definition = crd(KINDS[kind])
    names = definition["spec"]["names"]
    version = definition["spec"]["versions"][0]
    assert names["categories"] == ["modelyard"]
    assert names["shortNames"] == [{"Model": "mdl", "ModelVersion": "mv", "ConversionJob": "cvj", "EvaluationJob": "evj", "Algorithm": "algo",
                                  "ClusterAlgorithm": "calgo", "TrainingTemplate": "ttpl", "TrainingJob": "trj",
                                  "ModelDeployment": "mdep"}[kind]]
    assert version["subresources"] == {"status": {}}
    columns = version["additionalPrinterColumns"]
    assert columns[-1]["name"] == "Age"
    for column in columns[:-1]:
        assert _resolves(SCHEMAS[kind], column["jsonPath"]), column


def test_printer_columns_answer_the_first_questions():
    def names(kind):
        return [c["name"] for c in crd(KINDS[kind])["spec"]["versions"][0]["additionalPrinterColumns"] if not c.get("priority")]

    assert names("ModelVersion") == ["Model", "Version", "Format", "Phase", "Reason", "Digest", "Age"]
    assert names("ConversionJob") == ["Source", "Target", "Hardware", "Phase", "Reason", "Output", "Age"]
    assert names("EvaluationJob") == ["Version", "Phase", "Reason", "Passed", "Accuracy", "Age"]

