"""The API reference (docs/api-reference.md), generated from the same schemas as the CRDs."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterator

from modelyard.api import API_VERSION, KINDS
from modelyard.api.conditions import TYPES
from modelyard.api.crd import crd

HEADER = """# Modelyard API reference ({api_version})

Generated from `operator/modelyard/api` by `python -m modelyard.api.reference`; do not edit.
Every rule listed here is enforced by the API server (schema and CEL in the CRDs) and, with the
same message, by local mode and the operator. Examples of each kind live in `examples/`.

"""


def _type(node: dict[str, Any]) -> str:
    if node.get("x-kubernetes-int-or-string"):
        return "int or string"
    kind = node.get("type", "")
    if kind == "array":
        return f"[]{_type(node['items'])}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map[string]{_type(node['additionalProperties'])}"
    return kind


def _constraints(node: dict[str, Any]) -> str:
    parts = []
    if "enum" in node:
        parts.append("one of " + ", ".join(f"`{v}`" for v in node["enum"]))
    if "default" in node:
        parts.append(f"default `{json.dumps(node['default'])}`")
    for key, label in (("minimum", ">="), ("maximum", "<="), ("maxLength", "max length"),
                       ("maxItems", "max items"), ("maxProperties", "max entries")):
        if key in node:
            parts.append(f"{label} {node[key]}")
    if node.get("x-kubernetes-list-type") in ("set", "map"):
        keys = node.get("x-kubernetes-list-map-keys")
        parts.append("unique" + (f" by `{', '.join(keys)}`" if keys else ""))
    parts.extend(r["message"] for r in node.get("x-kubernetes-validations", []))
    return "; ".join(parts)


def _rows(node: dict[str, Any], path: str, required: bool) -> Iterator[str]:
    if path:
        description = node.get("description", "").replace("|", "\\|")
        flag = "yes" if required else ""
        constraints = _constraints(node).replace("|", "\\|")
        yield f"| `{path}` | {_type(node)} | {flag} | {description} | {constraints} |"
    child = node["items"] if node.get("type") == "array" and "items" in node else node
    prefix = f"{path}[]" if child is not node else path
    needed = set(child.get("required", []))
    for name, prop in child.get("properties", {}).items():
        yield from _rows(prop, f"{prefix}.{name}" if prefix else name, name in needed)


def _section(kind: str) -> str:
    definition = crd(KINDS[kind])
    names = definition["spec"]["names"]
    version = definition["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    lines = [
        f"## {kind}",
        "",
        schema["description"],
        "",
        f"`kubectl get {names['plural']}` (short name `{names['shortNames'][0]}`, "
        f"category `modelyard`) shows: "
        + ", ".join(c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority"))
        + ".",
        "",
    ]
    for section in ("spec", "status"):
        part = schema["properties"][section]
        lines += [f"### {kind}.{section}", "", part["description"], ""]
        rules = part.get("x-kubernetes-validations", [])
        lines += [f"- Rule: {r['message']}" for r in rules] + ([""] if rules else [])
        lines += ["| Field | Type | Required | Description | Constraints |", "|---|---|---|---|---|"]
        lines += list(_rows(part, "", False))
        lines.append("")
    return "\n".join(lines)


def markdown() -> str:
    """The whole reference page."""
    conditions = ["## Conditions", "", "| Type | Meaning |", "|---|---|"]
    conditions += [f"| `{name}` | {meaning} |" for name, meaning in TYPES.items()]
    body = "\n".join(_section(kind) for kind in KINDS)
    return HEADER.format(api_version=API_VERSION) + body + "\n" + "\n".join(conditions) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
