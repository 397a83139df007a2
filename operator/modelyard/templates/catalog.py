"""The template catalog: files shipped in `catalog/`, extended or overridden by a folder (the
chart mounts a ConfigMap there; `MODELYARD_TEMPLATE_DIR`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from modelyard.api.common import Signature
from modelyard.templates.architectures import ARCHITECTURES

BUILTIN = Path(__file__).parent / "catalog"


class TemplateError(ValueError):
    """A template that cannot be used, or a wrong parameter; the message says which."""


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Parameter(_Camel):
    default: str
    """Value used when the ModelVersion does not set it."""
    description: str = ""


class Architecture(_Camel):
    name: str
    """A name from modelyard.templates.architectures.ARCHITECTURES."""
    arguments: dict[str, str] = {}
    """Constructor argument -> template parameter that supplies it (an integer)."""


class ResolvedTemplate(BaseModel):
    """A template with its parameters filled in."""

    name: str
    task: str
    signature: Signature
    preprocessing: dict[str, Any]
    metrics: list[str]
    architecture: Architecture | None
    parameters: dict[str, str]

    def build_module(self) -> Any:
        """The torch module that a state dict of this template loads into."""
        if self.architecture is None:
            raise TemplateError(f"template {self.name} has no architecture to load weights into")
        arguments = {arg: int(self.parameters[param]) for arg, param in self.architecture.arguments.items()}
        return ARCHITECTURES[self.architecture.name](**arguments)


def _fill(value: Any, parameters: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return int(parameters[value[1:-1]])
    if isinstance(value, str):
        return value.format(**parameters)
    if isinstance(value, list):
        return [_fill(v, parameters) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, parameters) for k, v in value.items()}
    return value


class Template(_Camel):
    """A catalog entry: what a model of this kind looks like and how to evaluate it."""

    name: str
    description: str = ""
    task: str
    formats: list[str] = []
    parameters: dict[str, Parameter] = {}
    signature: dict[str, Any]
    preprocessing: dict[str, Any] = {}
    metrics: list[str] = []
    architecture: Architecture | None = None

    def resolve(self, given: dict[str, str]) -> ResolvedTemplate:
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            raise TemplateError(
                f"template {self.name}: unknown parameter(s) {', '.join(unknown)}; "
                f"it takes {', '.join(sorted(self.parameters)) or 'none'}"
            )
        values = {name: given.get(name, p.default) for name, p in self.parameters.items()}
        for name, value in values.items():
            if not value.isdigit() or int(value) < 1:
                raise TemplateError(f"template {self.name}: parameter {name} must be a positive integer, got {value!r}")
        return ResolvedTemplate(
            name=self.name,
            task=self.task,
            signature=Signature.model_validate(_fill(self.signature, values)),
            preprocessing=_fill(self.preprocessing, values),
            metrics=self.metrics,
            architecture=self.architecture,
            parameters=values,
        )


class Catalog:
    """Templates by name."""

    def __init__(self, templates: dict[str, Template]):
        self.templates = templates

    def get(self, name: str) -> Template:
        if name not in self.templates:
            raise TemplateError(f"no template named {name!r}; available: {', '.join(sorted(self.templates))}")
        return self.templates[name]


def _load(path: Path) -> Template:
    try:
        template = Template.model_validate(yaml.safe_load(path.read_text()))
    except (ValidationError, yaml.YAMLError) as error:
        raise TemplateError(f"template file {path}: {error}") from None
    if template.architecture is not None and template.architecture.name not in ARCHITECTURES:
        raise TemplateError(
            f"template file {path}: architecture {template.architecture.name!r} is not built in; "
            f"choose one of {', '.join(sorted(ARCHITECTURES))}"
        )
    return template


def load_catalog(extra_dir: Path | None = None) -> Catalog:
    """Built-in templates, then those in `extra_dir` (or $MODELYARD_TEMPLATE_DIR) over them."""
    folders = [BUILTIN]
    extra = extra_dir or (Path(os.environ["MODELYARD_TEMPLATE_DIR"]) if os.environ.get("MODELYARD_TEMPLATE_DIR") else None)
    if extra is not None and extra.is_dir():
        folders.append(extra)
    templates: dict[str, Template] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")):
            template = _load(path)
            templates[template.name] = template
    return Catalog(templates)
