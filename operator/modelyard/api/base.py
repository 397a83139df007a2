"""The base class of every API object: camelCase aliases, strict types, documented fields.

Strictness mirrors the API server: `"32"` is not an integer, unknown fields are rejected (as
`kubectl apply` does with strict field validation), and attribute docstrings become the
descriptions that `kubectl explain` shows (attached when a schema is generated: api/docstrings.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError, core_schema

from modelyard.api.rules import RULE_ERROR, Rule

DUPLICATE_ERROR = "duplicate_value"


class ApiModel(BaseModel):
    """Base of all spec and status objects."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        strict=True,
        extra="forbid",
        validate_default=False,
        defer_build=True,
    )

    rules: ClassVar[tuple[Rule, ...]] = ()
    """Cross-field rules of this object (CEL in the CRD, Python here)."""

    immutable: ClassVar[Rule | None] = None
    """The transition rule that freezes this object after creation, when it has one."""

    @model_validator(mode="after")
    def _enforce_rules(self) -> "ApiModel":
        for rule in type(self).rules:
            if not rule.check(self):
                raise PydanticCustomError(RULE_ERROR, rule.message)
        _check_unique_lists(self)
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        validations = [rule.as_crd() for rule in cls.rules]
        if cls.immutable is not None:
            validations.append(cls.immutable.as_crd())
        if validations:
            target["x-kubernetes-validations"] = validations
        return json_schema

    def to_dict(self) -> dict[str, Any]:
        """The object as it appears in a manifest: camelCase, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


_UNIQUE_LISTS: dict[type, list[tuple[str, str | None, str, list[str]]]] = {}


def _unique_lists(cls: type[ApiModel]) -> list[tuple[str, str | None, str, list[str]]]:
    """(name, alias, list type, map keys) of the fields with unique items, once per class
    (every object of a list is parsed: this runs for each)."""
    found = _UNIQUE_LISTS.get(cls)
    if found is None:
        found = []
        for name, field in cls.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            list_type = extra.get("x-kubernetes-list-type")
            if list_type in ("set", "map"):
                found.append((name, field.alias, list_type, list(extra.get("x-kubernetes-list-map-keys", []))))
        _UNIQUE_LISTS[cls] = found
    return found


def _check_unique_lists(obj: ApiModel) -> None:
    """Enforce `x-kubernetes-list-type` set/map uniqueness the way the API server does."""
    for name, alias, list_type, keys in _unique_lists(type(obj)):
        items = getattr(obj, name)
        if not items:
            continue
        seen: set[Any] = set()
        for index, item in enumerate(items):
            key = tuple(getattr(item, k) for k in keys) if list_type == "map" else item
            if key in seen:
                raise PydanticCustomError(
                    DUPLICATE_ERROR,
                    "Duplicate value",
                    {
                        "field": alias or name,
                        "index": index,
                        "value": dict(zip(keys, key, strict=True)) if list_type == "map" else item,
                    },
                )
            seen.add(key)
