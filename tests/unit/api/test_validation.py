"""Validation parity: the CRDs (as an API server runs them) and pydantic reject the same
manifests with the same message, and accept the same examples."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from modelyard.api import KINDS
from modelyard.api.validation import ManifestError, parse_manifest
from modelyard.manifests import load
from tests.support import apiserver, builders

DATA = Path(__file__).resolve().parents[2] / "data" / "invalid"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
CASES = sorted(DATA.glob("*.yaml"))


def pydantic_errors(obj, old=None) -> list[str]:
    try:
        parse_manifest(obj, old=old)
    except ManifestError as error:
        return [str(e) for e in error.errors]
    return []


def test_corpus_is_large_enough():
    kinds = {yaml.safe_load(p.read_text())["object"]["kind"] for p in CASES}
    updates = [p for p in CASES if "old" in yaml.safe_load(p.read_text())]
    assert len(CASES) >= 40
    assert kinds == set(KINDS)
    assert len(updates) >= 3


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_invalid_manifest_rejected_by_crd_and_pydantic_alike(path: Path):
    case = yaml.safe_load(path.read_text())
    old = case.get("old")
    if old is not None:
        assert apiserver.admit(old) == [], "the old object of an update case must be valid"
        assert pydantic_errors(old) == []
    crd_errors = apiserver.admit(case["object"], old=old)
    model_errors = pydantic_errors(case["object"], old=old)
    assert case["expect"] in crd_errors
    assert case["expect"] in model_errors
    assert set(model_errors) <= set(crd_errors), "pydantic reports something the CRD does not"


def _example_docs():
    return [d for d in load([EXAMPLES]) if d.is_modelyard]


@pytest.mark.parametrize("doc", _example_docs(), ids=lambda d: d.where.split("examples/")[-1])
def test_example_accepted_by_crd_and_pydantic(doc):
    assert apiserver.admit(doc.body) == []
    resource = parse_manifest(doc.body)
    assert resource.name == doc.body["metadata"]["name"]


def test_examples_cover_every_kind():
    assert {d.body["kind"] for d in _example_docs()} == set(KINDS)


def test_unchanged_reapply_is_accepted_by_both():
    obj = builders.model_version()
    assert apiserver.admit(obj, old=obj) == []
    assert pydantic_errors(obj, old=obj) == []


def test_model_spec_stays_mutable():
    old = builders.model()
    new = builders.with_spec(old, retention="Delete", description="now deleted with versions")
    assert apiserver.admit(new, old=old) == []
    assert pydantic_errors(new, old=old) == []


def test_defaults_match_between_crd_and_pydantic():
    obj = builders.conversion_job(verify={})
    defaulted = copy.deepcopy(obj)
    apiserver.apply_defaults(defaulted, apiserver.schema_of("ConversionJob"))
    parsed = parse_manifest(obj).spec.to_dict()
    assert defaulted["spec"]["target"]["hardware"] == parsed["target"]["hardware"] == "cpu"
    assert defaulted["spec"]["verify"] == parsed["verify"] == {"enabled": True, "samples": 16}


def test_status_in_a_manifest_is_ignored():
    obj = builders.model_version()
    obj["status"] = {"phase": "Ready", "bogus": True}
    assert parse_manifest(obj).status is None


def test_error_message_names_kind_object_and_field():
    obj = builders.model_version(version="1.0")
    with pytest.raises(ManifestError) as caught:
        parse_manifest(obj)
    assert str(caught.value).startswith('The ModelVersion "classifier-1-0-0" is invalid: spec.version:')


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, "apiVersion: Unsupported value"),
        (
            {"apiVersion": "modelyard.dev/v1alpha1", "kind": "Dataset", "metadata": {"name": "x"}},
            'kind: Unsupported value: "Dataset"',
        ),
        (["not", "an", "object"], "a manifest must be a YAML/JSON object"),
    ],
)
def test_not_a_modelyard_object(obj, expected):
    with pytest.raises(ManifestError, match=expected.replace(".", r"\.")):
        parse_manifest(obj)


def test_metadata_name_must_be_a_dns_subdomain():
    obj = builders.model(name="My_Model")
    with pytest.raises(ManifestError, match="metadata.name"):
        parse_manifest(obj)
