"""What the Kubernetes API server does to a custom resource on create and update, offline.

No kube-apiserver runs here, so the generated CRDs are exercised by this emulator instead:
strict field validation (unknown fields), structural defaulting, OpenAPI v3 schema validation
(openapi-schema-validator), list-type uniqueness and CEL rules (cel-python), with `oldSelf`
for transition rules on updates. Errors use the wording of `modelyard.api.errors`, which is
the API server's; the corpus tests then compare them with what pydantic reports.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import celpy
import yaml
from openapi_schema_validator import OAS30Validator

from modelyard.api import errors as E

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "crds"

_MISSING = object()
CEL_SKIPPED = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


@lru_cache(maxsize=None)
def crds() -> dict[str, dict[str, Any]]:
    """Checked-in CRDs by kind."""
    found = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        found[crd["spec"]["names"]["kind"]] = crd
    return found


def schema_of(kind: str) -> dict[str, Any]:
    return crds()[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def admit(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """Validate `obj` (a create, or an update of `old`) and return the error messages."""
    schema = schema_of(obj["kind"])
    obj = copy.deepcopy(obj)
    obj.pop("status", None)  # the status subresource ignores status on the main resource
    errors: list[E.FieldError] = []
    _unknown_fields(obj, schema, (), errors)
    apply_defaults(obj, schema)
    old_obj = None
    if old is not None:
        old_obj = copy.deepcopy(old)
        old_obj.pop("status", None)
        apply_defaults(old_obj, schema)
    for error in OAS30Validator(schema).iter_errors(obj):
        errors.extend(_schema_error(error))
    _unique_lists(obj, schema, (), errors)
    if any("must be of type" in e.detail for e in errors):
        # The API server runs no CEL on an object with type errors (hasBlockingErr).
        errors.append(E.FieldError("", CEL_SKIPPED))
    else:
        _cel(obj, _MISSING if old_obj is None else old_obj, schema, (), errors)
    return [str(e) for e in errors]


def apply_defaults(value: Any, schema: dict[str, Any]) -> None:
    """Fill defaults the way structural defaulting does (only inside objects that exist)."""
    if isinstance(value, dict):
        for name, prop in schema.get("properties", {}).items():
            if name not in value and "default" in prop:
                value[name] = copy.deepcopy(prop["default"])
            if name in value:
                apply_defaults(value[name], prop)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for item in value.values():
                apply_defaults(item, extra)
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            apply_defaults(item, schema["items"])


def _unknown_fields(value: Any, schema: dict[str, Any], path: tuple, errors: list) -> None:
    if isinstance(value, dict) and "properties" in schema:
        for name, item in value.items():
            if name not in schema["properties"]:
                errors.append(E.unknown_field((*path, name)))
            else:
                _unknown_fields(item, schema["properties"][name], (*path, name), errors)
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for name, item in value.items():
            _unknown_fields(item, schema["additionalProperties"], (*path, name), errors)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _unknown_fields(item, schema["items"], (*path, index), errors)


def _schema_error(error: Any) -> list[E.FieldError]:
    path = tuple(error.absolute_path)
    rule, limit, value = error.validator, error.validator_value, error.instance
    if rule == "required":
        return [E.required((*path, name)) for name in limit if name not in value]
    if rule == "enum":
        return [E.unsupported(path, value, limit)]
    if rule == "pattern":
        return [E.invalid(path, value, f"should match '{limit}'")]
    if rule == "minimum":
        return [E.at_least(path, value, limit)]
    if rule == "maximum":
        return [E.at_most(path, value, limit)]
    if rule == "maxLength":
        return [E.too_long(path, limit)]
    if rule == "minLength":
        return [E.invalid(path, value, f"should be at least {limit} chars long")]
    if rule in ("maxItems", "maxProperties"):
        return [E.too_many(path, len(value), limit)]
    if rule == "type":
        return [E.wrong_type(path, value, limit)]
    return [E.FieldError(E.field_path(path), f"Invalid value: {E.render(value)}: {error.message}")]


def _children(value: Any, schema: dict[str, Any], path: tuple):
    if isinstance(value, dict):
        for name, prop in schema.get("properties", {}).items():
            if name in value:
                yield value[name], prop, (*path, name)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name, item in value.items():
                yield item, extra, (*path, name)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield item, schema["items"], (*path, index)


def _unique_lists(value: Any, schema: dict[str, Any], path: tuple, errors: list) -> None:
    list_type = schema.get("x-kubernetes-list-type")
    if isinstance(value, list) and list_type in ("set", "map"):
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen = []
        for index, item in enumerate(value):
            key = {k: item.get(k) for k in keys} if list_type == "map" else item
            if key in seen:
                errors.append(E.duplicate((*path, index), key))
            seen.append(key)
    for child, child_schema, child_path in _children(value, schema, path):
        _unique_lists(child, child_schema, child_path, errors)


@lru_cache(maxsize=None)
def _program(expression: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(expression))


def evaluate(expression: str, self_value: Any, old_value: Any = _MISSING) -> bool:
    """Run one CEL rule with cel-python."""
    activation = {"self": celpy.json_to_cel(self_value)}
    if old_value is not _MISSING:
        activation["oldSelf"] = celpy.json_to_cel(old_value)
    result = _program(expression).evaluate(activation)
    if isinstance(result, Exception):
        raise result
    return bool(result)


def _cel(value: Any, old: Any, schema: dict[str, Any], path: tuple, errors: list) -> None:
    for rule in schema.get("x-kubernetes-validations", []):
        transition = "oldSelf" in rule["rule"]
        if transition and old is _MISSING:
            continue
        try:
            ok = evaluate(rule["rule"], value, *((old,) if transition else ()))
        except celpy.CELEvalError as error:
            # e.g. a rule reading a required field that is missing (reported by the schema)
            errors.append(E.rule_failed(path, value, f"rule evaluation error: {error.args[0]}"))
            continue
        if not ok:
            errors.append(E.rule_failed(path, value, rule["message"]))
    for child, child_schema, child_path in _children(value, schema, path):
        # Transition rules correlate only through object properties (not list items) here.
        old_child = _MISSING
        if isinstance(old, dict) and isinstance(value, dict) and child_path[-1] in old:
            old_child = old[child_path[-1]]
        _cel(child, old_child, child_schema, child_path, errors)
