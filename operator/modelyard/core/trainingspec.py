"""A TrainingJob's resolved spec: its TrainingTemplate's parameters with the job's overrides.

The resolved spec is what runs and what `modelyard template save` stores, so a job started
from a saved template resolves to the same spec as the job it was saved from.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from modelyard.api import API_VERSION
from modelyard.api.errors import from_pydantic
from modelyard.api.trainingjob import OVERRIDABLE, TrainingFields, TrainingJob, TrainingTemplate

JOB_ONLY = ("templateRef", "basedOn", "suspend")
"""Fields of a job that a template does not hold."""
TEMPLATE_ONLY = ("allowOverrides", "description")
ALGORITHM = ("algorithmRef", "code")


def _by_name(items: list[dict[str, Any]], over: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = {i["name"]: i for i in items}
    merged.update({i["name"]: i for i in over})
    return list(merged.values())


def resolve_spec(job: TrainingJob, template: TrainingTemplate | None) -> tuple[dict[str, Any], list[str]]:
    """(resolved fields in camelCase, errors). Hyperparameters and inputs merge by name; any
    other field set by the job replaces the template's, when the template allows it."""
    # Empty lists and maps are "not set": the CRD does not persist them as defaults either.
    own = {k: v for k, v in job.spec.to_dict().items() if k not in JOB_ONLY and v not in ([], {})}
    if template is None:
        return _checked(own)
    base = {k: v for k, v in template.spec.to_dict().items() if k not in TEMPLATE_ONLY and v not in ([], {})}
    allowed = set(template.spec.allow_overrides)
    errors: list[str] = []
    resolved = dict(base)
    for key, value in own.items():
        if key in ALGORITHM:
            if any(k in base for k in ALGORITHM):
                errors.append(f"spec.{key}: TrainingTemplate {template.name!r} sets the algorithm; "
                              "a job based on it cannot change it (create another template)")
            else:
                resolved[key] = value
            continue
        if key == "output" and "output" not in allowed:
            # The version (and so the registered version's name) is always the job's own.
            if value.get("modelRef", base.get("output", {}).get("modelRef")) != base.get("output", {}).get("modelRef"):
                errors.append(_forbidden(template, "output.modelRef", allowed))
            resolved["output"] = {**base.get("output", {}), **value}
            continue
        if key in OVERRIDABLE and key not in allowed and value != base.get(key):
            errors.append(_forbidden(template, key, allowed))
            continue
        if key == "hyperparameters":
            resolved[key] = {**base.get(key, {}), **value}
        elif key == "inputs":
            resolved[key] = _by_name(base.get(key, []), value)
        elif key == "output":
            resolved[key] = {**base.get(key, {}), **value}
        else:
            resolved[key] = value
    if errors:
        return resolved, errors
    return _checked(resolved)


def _forbidden(template: TrainingTemplate, key: str, allowed: set[str]) -> str:
    names = ", ".join(sorted(allowed)) or "nothing"
    return f"spec.{key}: TrainingTemplate {template.name!r} does not allow overriding {key.split('.')[0]} (it allows: {names})"


def _checked(resolved: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    errors = []
    if not any(k in resolved for k in ALGORITHM):
        errors.append("spec.algorithmRef: Required value: set algorithmRef or code (in the job or its template)")
    if "modelRef" not in (resolved.get("output") or {}):
        errors.append("spec.output.modelRef: Required value: the Model the trained version goes to (in the job or its template)")
    try:
        TrainingFields.model_validate(resolved)
    except ValidationError as error:
        errors += [f"spec.{e}" if not str(e).startswith("spec") else str(e) for e in from_pydantic(error)]
    return resolved, errors


def template_from_job(job: TrainingJob, resolved: dict[str, Any], name: str) -> dict[str, Any]:
    """A TrainingTemplate holding the job's resolved parameters. The output version stays the
    job's own (each job registers its own version)."""
    spec = {k: v for k, v in resolved.items()}
    if "output" in spec:
        spec["output"] = {k: v for k, v in spec["output"].items() if k not in ("version", "name")}
    return {
        "apiVersion": API_VERSION,
        "kind": "TrainingTemplate",
        "metadata": {"name": name, "namespace": job.namespace,
                     "annotations": {"modelyard.dev/saved-from": f"trainingjob/{job.name}"}},
        "spec": spec,
    }
