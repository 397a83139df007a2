"""What the version's template (if it came from one) says about evaluating it: task and
image preprocessing. Versions without a template get the task from the model's output shape
(`[batch, classes]` -> classification, `[batch]`/`[batch, 1]` floats -> regression) and the
default preprocessing of datasets/preprocessing.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelyard.api.modelversion import ModelVersion


@dataclass(frozen=True)
class ModelFacts:
    task: str = ""
    """`classification`, `regression`, or '' (decided from the output)."""
    preprocessing: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def _task(name: str) -> str:
    if name == "regression":
        return "regression"
    return "classification" if name.endswith("classification") else ""


def model_facts(version: ModelVersion) -> ModelFacts:
    # A converted version takes its source's template (task, preprocessing) from its lineage.
    lineage = version.spec.lineage
    template = version.spec.source.template or (lineage.template if lineage is not None else None)
    if template is None:
        return ModelFacts()
    try:
        from modelyard.templates import load_catalog

        resolved = load_catalog().get(template.name).resolve(template.parameters or {})
    except (ImportError, ValueError) as error:  # TemplateError is a ValueError
        return ModelFacts(note=f"template {template.name} not usable here ({error}); default preprocessing used")
    return ModelFacts(_task(resolved.task), dict(resolved.preprocessing))
