"""Attribute docstrings as field descriptions, attached when a schema is generated (the CRDs,
the API reference) rather than when the API is imported: pydantic's use_attribute_docstrings
parses each model's whole module source once per class, a third of `import modelyard.api`
(~0.15 s) paid by every CLI, worker and operator start that never shows a description."""

from __future__ import annotations

import ast
import functools
import inspect
import sys
from itertools import pairwise

from pydantic import BaseModel


@functools.cache
def _module_tree(module: str) -> ast.Module:
    return ast.parse(inspect.getsource(sys.modules[module]))


def _class_node(cls: type) -> ast.ClassDef | None:
    body: list[ast.stmt] = _module_tree(cls.__module__).body
    node = None
    for part in cls.__qualname__.split("."):
        node = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == part), None)
        if node is None:
            return None
        body = node.body
    return node


def attribute_docstrings(cls: type) -> dict[str, str]:
    """Field name -> the string literal that follows its annotation in `cls`'s own body."""
    node = _class_node(cls)
    if node is None:
        return {}
    found = {}
    for statement, following in pairwise(node.body):
        if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            found[statement.target.id] = inspect.cleandoc(following.value.value)
    return found


def _subclasses(root: type[BaseModel]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = [root]
    pending = [root]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                pending.append(sub)
    return seen


_documented: set[type] = set()


def document(root: type[BaseModel]) -> None:
    """Give every field of `root` and its subclasses the description its docstring holds (an explicit
    Field(description=...) stands), as pydantic's use_attribute_docstrings would, then rebuild
    their schemas. A field inherited from a base takes the base's docstring."""
    classes = [c for c in _subclasses(root) if c not in _documented]
    if not classes:
        return
    for cls in classes:
        docs: dict[str, str] = {}
        for base in reversed(cls.__mro__):
            if isinstance(base, type) and issubclass(base, BaseModel) and base is not BaseModel:
                docs.update(attribute_docstrings(base))
        for name, field in cls.model_fields.items():
            if field.description is None and name in docs:
                field.description = docs[name]
    for cls in classes:
        cls.model_rebuild(force=True)
    _documented.update(classes)
