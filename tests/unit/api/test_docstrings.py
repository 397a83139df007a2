"""Field descriptions from attribute docstrings, attached when schemas are generated."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from modelyard.api.base import ApiModel
from modelyard.api.docstrings import attribute_docstrings, document


class Base(ApiModel):
    kept: int = 0
    """Inherited by subclasses.

    Second paragraph, dedented."""
    explicit: Annotated[int, Field(description="from Field")] = 0
    """Not this one."""


class Derived(Base):
    own: str = ""
    """Its own field."""
    undocumented: int = 0


def test_docstrings_follow_their_annotations():
    assert attribute_docstrings(Derived) == {"own": "Its own field."}
    assert attribute_docstrings(Base)["kept"] == "Inherited by subclasses.\n\nSecond paragraph, dedented."


def test_document_sets_descriptions_an_explicit_one_stands_and_schemas_show_them():
    document(Base)
    schema = Derived.model_json_schema()["properties"]
    assert schema["own"]["description"] == "Its own field."
    assert schema["kept"]["description"].startswith("Inherited by subclasses.")
    assert schema["explicit"]["description"] == "from Field"
    assert "description" not in schema["undocumented"]


def test_importing_the_api_parses_no_source():
    """The descriptions cost nothing until a schema is asked for (see api/docstrings.py)."""
    import subprocess
    import sys

    code = ("import ast; parsed = []; real = ast.parse; ast.parse = lambda *a, **k: parsed.append(1) or real(*a, **k); "
            "import modelyard.api, modelyard.api.validation; print(len(parsed))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0"
