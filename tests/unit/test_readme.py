"""README's commands are the ones CI and users actually run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", README, flags=re.S)


def test_readme_has_the_two_commands():
    setup_and_run, setup_and_test = _commands()[:2]
    assert setup_and_run.startswith("python3 -m venv .venv")
    assert "modelyard " in setup_and_run
    assert setup_and_test.startswith("python3 -m venv .venv")
    assert "pytest" in setup_and_test


def test_ci_runs_exactly_the_readme_test_command():
    test_command = _commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci


def test_readme_links_resolve():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" not in target:
            assert (ROOT / target).exists(), target
