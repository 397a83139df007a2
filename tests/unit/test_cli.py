"""The `modelyard` command line."""

from __future__ import annotations

from pathlib import Path

import yaml

from modelyard.api import KINDS
from modelyard.cli import main
from tests.support import builders

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_validate_accepts_the_examples(capsys):
    assert main(["validate", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "valid    " in out and ", 0 invalid" in out


def test_validate_reports_every_invalid_document_with_the_field(tmp_path: Path, capsys):
    good = builders.model()
    bad = builders.model_version(version="1.0")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}}
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all([good, bad, secret]))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"invalid  {path}#1: The ModelVersion \"classifier-1-0-0\" is invalid: spec.version:" in out
    assert "skipped" in out and "Secret is not a modelyard.dev kind" in out
    assert "3 documents, 1 invalid" in out


def test_validate_missing_file_is_an_error_not_a_trace(tmp_path: Path, capsys):
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 1
    assert "no such file or directory" in capsys.readouterr().err


def test_the_command_ends_with_mains_code_and_all_of_its_output(tmp_path: Path):
    """`entry` ends the process without the interpreter's teardown: nothing printed is lost."""
    import subprocess
    import sys

    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all([builders.model()] * 200 + [builders.model_version(version="1.0")]))
    done = subprocess.run([sys.executable, "-m", "modelyard", "validate", str(path)], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stdout.count("valid    ") == 200 and done.stdout.rstrip().endswith("201 documents, 1 invalid")


def test_crds_write_then_check(tmp_path: Path, capsys):
    assert main(["crds", "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.yaml"))) == len(KINDS)
    assert main(["crds", "--check", "--out", str(tmp_path)]) == 0
    victim = next(tmp_path.glob("*.yaml"))
    victim.write_text(victim.read_text() + "# edited by hand\n")
    assert main(["crds", "--check", "--out", str(tmp_path)]) == 1
    assert victim.name in capsys.readouterr().err
