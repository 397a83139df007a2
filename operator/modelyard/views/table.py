"""`get` output: a table with the CRDs' printer columns, or a v1 List as JSON/YAML."""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime, timezone
from typing import Any

import yaml

from modelyard.api import KINDS


_FILTER = re.compile(r'^(\w+)\[\?\(@\.(\w+)=="([^"]*)"\)\]$')


@functools.lru_cache(maxsize=1024)
def _steps(path: str) -> tuple[tuple[str, tuple[str, str] | None], ...]:
    """A path's steps, parsed once: (field, None) or (list field, (key, wanted)) for a filter."""
    steps = []
    for part in re.findall(r'\w+\[\?\(@\.\w+=="[^"]*"\)\]|[^.]+', path.strip(".")):
        filtered = _FILTER.match(part)
        steps.append((part, None) if filtered is None else (filtered[1], (filtered[2], filtered[3])))
    return tuple(steps)


def lookup(body: Any, path: str) -> Any:
    """The value at a printer column's JSONPath, or None: fields (`.status.results.accuracy`)
    and the list filter the columns use (`.status.conditions[?(@.type=="Ready")].reason`)."""
    value = body
    for field, condition in _steps(path):
        if not isinstance(value, dict):
            return None
        if condition is None:
            value = value.get(field)
            continue
        key, wanted = condition
        value = next((item for item in value.get(field) or [] if isinstance(item, dict) and item.get(key) == wanted), None)
    return value


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """kubectl's short age: 42s, 7m, 3h, 2d."""
    if not timestamp:
        return "<unknown>"
    then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _cell(value: Any, type_: str) -> str:
    if value is None:
        return ""
    if type_ == "number" and isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rows(kind: str, bodies: list[dict[str, Any]], wide: bool = False, now: datetime | None = None) -> list[list[str]]:
    """Header and one row per object, columns as `kubectl get` shows them for the CRD."""
    columns = [c for c in KINDS[kind].info.columns if wide or c.priority == 0]
    header = ["NAME"] + [c.name.upper() for c in columns]
    table = [header]
    for body in bodies:
        row = [body["metadata"]["name"]]
        for column in columns:
            value = lookup(body, column.json_path)
            row.append(age(value, now) if column.type == "date" else _cell(value, column.type))
        table.append(row)
    return table


def format_table(table: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table)


def as_list(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": bodies, "metadata": {"resourceVersion": ""}}


def render(kind: str, bodies: list[dict[str, Any]], output: str = "table", single: bool = False) -> str:
    """`-o table|wide|json|yaml`; a single named object prints as itself, not as a List."""
    if output in ("json", "yaml"):
        document: Any = bodies[0] if single and bodies else as_list(bodies)
        if output == "json":
            return json.dumps(document, indent=4, sort_keys=False)
        return yaml.safe_dump(document, sort_keys=False).rstrip()
    if not bodies:
        return "No resources found."
    return format_table(rows(kind, bodies, wide=output == "wide"))
