"""Field errors worded the way the Kubernetes API server words them.

A manifest rejected in local mode gets the message `kubectl apply` would print on a cluster:
the field path, what was wrong and what was expected. Pydantic's errors are translated here;
the test suite's API-server emulator uses the same wording for the schema and CEL checks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from pydantic import ValidationError

from modelyard.api.base import DUPLICATE_ERROR
from modelyard.api.rules import RULE_ERROR

Path = Sequence[str | int]


def field_path(path: Path) -> str:
    """`("spec", "signature", "inputs", 0)` -> `spec.signature.inputs[0]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def render(value: Any) -> str:
    """A value as the API server shows it in `Invalid value: ...`."""
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return json.dumps(value)


def type_name(value: Any) -> str:
    """The JSON type of a decoded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


@dataclass(frozen=True)
class FieldError:
    """One rejected field."""

    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}" if self.path else self.detail


def required(path: Path) -> FieldError:
    return FieldError(field_path(path), "Required value")


def unsupported(path: Path, value: Any, allowed: Iterable[Any]) -> FieldError:
    choices = ", ".join(json.dumps(a) for a in allowed)
    return FieldError(field_path(path), f"Unsupported value: {render(value)}: supported values: {choices}")


def invalid(path: Path, value: Any, reason: str) -> FieldError:
    where = field_path(path)
    return FieldError(where, f"Invalid value: {render(value)}: {where} in body {reason}")


def wrong_type(path: Path, value: Any, expected: str) -> FieldError:
    actual = type_name(value)
    where = field_path(path)
    return FieldError(
        where, f'Invalid value: "{actual}": {where} in body must be of type {expected}: "{actual}"'
    )


def _number(value: float) -> str:
    """Numbers as Go prints them: 1.0 -> 1, 0.5 -> 0.5."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def at_least(path: Path, value: Any, limit: float) -> FieldError:
    return invalid(path, value, f"should be greater than or equal to {_number(limit)}")


def at_most(path: Path, value: Any, limit: float) -> FieldError:
    return invalid(path, value, f"should be less than or equal to {_number(limit)}")


def too_long(path: Path, limit: int) -> FieldError:
    return FieldError(field_path(path), f"Too long: may not be more than {limit} bytes")


def too_many(path: Path, actual: int, limit: int) -> FieldError:
    return FieldError(field_path(path), f"Too many: {actual}: must have at most {limit} items")


def rule_failed(path: Path, value: Any, message: str) -> FieldError:
    # As kube-apiserver 1.37 reports a failed x-kubernetes-validations rule: the value itself
    # for a scalar, none for an object or a list (older servers printed the type name).
    if isinstance(value, (dict, list)):
        return FieldError(field_path(path), f"Invalid value: {message}")
    return FieldError(field_path(path), f"Invalid value: {json.dumps(value)}: {message}")


def duplicate(path: Path, value: Any) -> FieldError:
    shown = json.dumps(value, separators=(",", ":"))
    return FieldError(field_path(path), f"Duplicate value: {shown}")


def unknown_field(path: Path) -> FieldError:
    return FieldError("", f'unknown field "{field_path(path)}"')


_PY_TO_JSON_TYPE = {
    "int_type": "integer",
    "int_parsing": "integer",
    "int_from_float": "integer",
    "float_type": "number",
    "float_parsing": "number",
    "string_type": "string",
    "bool_type": "boolean",
    "bool_parsing": "boolean",
    "list_type": "array",
    "dict_type": "object",
    "model_type": "object",
    "model_attributes_type": "object",
}


def from_pydantic(error: ValidationError, prefix: Path = ()) -> list[FieldError]:
    """Translate a pydantic ValidationError into API-server-worded field errors."""
    return [_translate(e, tuple(prefix) + tuple(e["loc"])) for e in error.errors()]


def _translate(e: dict[str, Any], loc: tuple[Any, ...]) -> FieldError:
    kind, value, ctx = e["type"], e.get("input"), e.get("ctx") or {}
    if kind == "missing":
        return required(loc)
    if kind == "extra_forbidden":
        return unknown_field(loc)
    if kind in ("literal_error", "enum"):
        return unsupported(loc, value, re.findall(r"'((?:[^'\\]|\\.)*)'", ctx["expected"]))
    if kind == "string_pattern_mismatch":
        return invalid(loc, value, f"should match '{ctx['pattern']}'")
    if kind == "greater_than_equal":
        return at_least(loc, value, ctx["ge"])
    if kind == "less_than_equal":
        return at_most(loc, value, ctx["le"])
    if kind == "string_too_long":
        return too_long(loc, ctx["max_length"])
    if kind == "string_too_short":
        return invalid(loc, value, f"should be at least {ctx['min_length']} chars long")
    if kind == "too_long":
        return too_many(loc, ctx["actual_length"], ctx["max_length"])
    if kind == RULE_ERROR:
        return rule_failed(loc, value, e["msg"])
    if kind == DUPLICATE_ERROR:
        return duplicate((*loc, ctx["field"], ctx["index"]), ctx["value"])
    if kind in _PY_TO_JSON_TYPE:
        return wrong_type(loc, value, _PY_TO_JSON_TYPE[kind])
    return FieldError(field_path(loc), f"Invalid value: {render(value)}: {e['msg']}")
