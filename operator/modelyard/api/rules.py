"""Validation rules declared once and enforced twice: by the API server and by pydantic.

A `Rule` carries a CEL expression (it becomes an `x-kubernetes-validations` entry in the
generated CRD, where the API server runs it) and the same predicate in Python (pydantic runs it,
so local mode and the operator reject exactly what a cluster would, with the same message).
The corpus in tests/data/invalid proves that both sides agree case by case.

A rule is used in two places:
- as `Annotated[str, ..., Rule(...)]` metadata on a field: `self` is the field's value;
- in an `ApiModel.rules` tuple: `self` is the object, and the predicate gets the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

RULE_ERROR = "cel_rule"


@dataclass(frozen=True)
class Rule:
    """A CEL rule for the CRD and its Python twin for pydantic."""

    cel: str
    message: str
    check: Callable[[Any], bool]

    def as_crd(self) -> dict[str, str]:
        return {"rule": self.cel, "message": self.message}

    def enforce(self, value: Any) -> Any:
        if not self.check(value):
            raise PydanticCustomError(RULE_ERROR, self.message)
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.enforce, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        target.setdefault("x-kubernetes-validations", []).append(self.as_crd())
        return json_schema


def matches(pattern: str, message: str) -> Rule:
    """A rule that a string fully matches `pattern` (RE2 and Python `re` compatible).

    Backslashes and quotes are not allowed in the pattern so that the same text is a valid CEL
    string literal and a valid regular expression on both sides; use `[.]` and `[0-9]`.
    """
    if "\\" in pattern or "'" in pattern:
        raise ValueError(f"pattern must not contain backslashes or quotes: {pattern}")
    anchored = f"^(?:{pattern})$"
    compiled = re.compile(anchored)
    return Rule(
        cel=f"self.matches('{anchored}')",
        message=message,
        check=lambda value: compiled.search(value) is not None,
    )


def immutable(message: str) -> Rule:
    """The transition rule that freezes an object once created (`self == oldSelf`).

    It only runs on updates; `check` receives `(old, new)` and is used by
    `modelyard.api.validation.validate_update`.
    """
    return Rule(cel="self == oldSelf", message=message, check=lambda pair: pair[0] == pair[1])
