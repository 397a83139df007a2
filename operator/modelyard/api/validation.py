"""Admit manifests the way the API server would: parse, default, validate, check updates."""

from __future__ import annotations

from typing import Any, Iterable

from pydantic import ValidationError

from modelyard.api import API_VERSION, KINDS
from modelyard.api.errors import FieldError, from_pydantic, rule_failed, unsupported
from modelyard.api.resource import Resource


class ManifestError(ValueError):
    """A manifest that the API server would reject, with every field error."""

    def __init__(self, kind: str, name: str, errors: list[FieldError]):
        self.kind = kind
        self.name = name
        self.errors = errors
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f'The {self.kind or "object"} "{self.name}" is invalid: '
        if len(self.errors) == 1:
            return head + str(self.errors[0])
        return head + "\n" + "\n".join(f"* {e}" for e in self.errors)


def _identify(obj: Any) -> tuple[str, str]:
    if not isinstance(obj, dict):
        raise ManifestError("", "", [FieldError("", "a manifest must be a YAML/JSON object")])
    metadata = obj.get("metadata")
    name = metadata.get("name", "") if isinstance(metadata, dict) else ""
    kind = obj.get("kind", "")
    if obj.get("apiVersion") != API_VERSION:
        raise ManifestError(kind, name, [unsupported(("apiVersion",), obj.get("apiVersion"), [API_VERSION])])
    if kind not in KINDS:
        raise ManifestError(kind, name, [unsupported(("kind",), kind, KINDS)])
    return kind, str(name)


def parse_object(obj: Any) -> Resource:
    """Parse an object as stored (spec and status), raising ManifestError on invalid input."""
    kind, name = _identify(obj)
    try:
        return KINDS[kind].model_validate(obj)
    except ValidationError as error:
        raise ManifestError(kind, name, from_pydantic(error)) from None


def parse_valid(bodies: Iterable[Any]) -> list[Resource]:
    """The stored objects that parse; one that does not is skipped here (its own reconcile
    reports it with a condition)."""
    parsed = []
    for body in bodies:
        try:
            parsed.append(parse_object(body))
        except ManifestError:
            continue
    return parsed


def parse_manifest(obj: Any, old: Any = None) -> Resource:
    """Admit a user's manifest: validate it, and when `old` (the stored object) is given, apply
    the update rules. `status` in a manifest is ignored, as the status subresource does."""
    if isinstance(obj, dict):
        obj = {k: v for k, v in obj.items() if k != "status"}
    resource = parse_object(obj)
    if old is not None:
        previous = old if isinstance(old, Resource) else parse_object(old)
        validate_update(previous, resource)
    return resource


def validate_update(old: Resource, new: Resource) -> None:
    """Reject an update that a transition rule (`self == oldSelf`) forbids."""
    rule = type(new.spec).immutable
    if rule is not None and not rule.check((old.spec.to_dict(), new.spec.to_dict())):
        error = rule_failed(("spec",), new.spec.to_dict(), rule.message)
        raise ManifestError(new.kind, new.name, [error])
