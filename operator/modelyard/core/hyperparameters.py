"""Check a job's hyperparameters against an algorithm's typed parameters, before anything runs.

Values arrive as YAML typed them (`epochs: 10`) or as strings (`epochs: "10"`, as GitOps tools
and `--set` often write them); both are accepted when they mean a value of the parameter's type.
Every problem is reported at once, each naming `spec.hyperparameters.<name>` and what was
expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from modelyard.api.algorithm import ParameterSpec

FIELD = "spec.hyperparameters"


@dataclass
class Checked:
    """Every parameter's value as used (defaults filled in), or what is wrong."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _bounds(p: ParameterSpec) -> str:
    def show(x: float) -> str:
        return str(int(x)) if p.type == "int" and float(x).is_integer() else repr(float(x))

    if p.min is not None and p.max is not None:
        return f" in [{show(p.min)}, {show(p.max)}]"
    if p.min is not None:
        return f" >= {show(p.min)}"
    if p.max is not None:
        return f" <= {show(p.max)}"
    return ""


def _expected(p: ParameterSpec) -> str:
    if p.type == "enum":
        return "one of " + ", ".join(p.allowed)
    noun = {"int": "an integer", "float": "a number", "bool": "true or false", "string": "a string"}[p.type]
    return noun + _bounds(p)


def convert(p: ParameterSpec, value: Any) -> Any:
    """The value as the parameter's type; ValueError when it is not one."""
    if p.type == "int":
        number = _number(value)
        if number is None or not math.isfinite(number) or not number.is_integer():
            raise ValueError
        if isinstance(value, float) or (isinstance(value, str) and not value.strip().lstrip("+-").isdigit()):
            raise ValueError  # 2.0 and "2.5" are not integers a user meant
        converted: Any = int(number)
    elif p.type == "float":
        number = _number(value)
        if number is None or not math.isfinite(number):
            raise ValueError
        converted = number
    elif p.type == "bool":
        if isinstance(value, bool):
            converted = value
        elif isinstance(value, str) and value.strip().lower() in ("true", "false"):
            converted = value.strip().lower() == "true"
        else:
            raise ValueError
    elif p.type == "enum":
        text = value if isinstance(value, str) else None if isinstance(value, bool) else str(value)
        if text not in p.allowed:
            raise ValueError
        converted = text
    else:
        if not isinstance(value, str):
            raise ValueError
        converted = value
    if p.type in ("int", "float"):
        if (p.min is not None and converted < p.min) or (p.max is not None and converted > p.max):
            raise ValueError
    return converted


def check_hyperparameters(parameters: list[ParameterSpec], given: dict[str, Any], algorithm: str) -> Checked:
    """Typed values for every parameter, or one error per problem."""
    checked = Checked()
    known = {p.name: p for p in parameters}
    for name in sorted(set(given) - set(known)):
        names = ", ".join(sorted(known)) or "none"
        checked.errors.append(f"{FIELD}.{name}: unknown parameter; {algorithm} takes: {names}")
    for p in parameters:
        if p.name not in given:
            if p.default is not None:
                checked.values[p.name] = p.default
            elif p.required:
                checked.errors.append(f"{FIELD}.{p.name}: Required value: {algorithm} needs {_expected(p)}")
            continue
        value = given[p.name]
        try:
            checked.values[p.name] = convert(p, value)
        except ValueError:
            checked.errors.append(f"{FIELD}.{p.name}: Invalid value: {value!r}: expected {_expected(p)}")
    return checked
