"""The quickstart for tests and benchmarks: train into a folder of the caller's, and copies of
the manifests that point there instead of /tmp/modelyard-quickstart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
DEFAULT_OUT = "file:///tmp/modelyard-quickstart"


def train(out: Path) -> Path:
    """Run the quickstart's data preparation into `out` (the TrainingJob trains from it)."""
    subprocess.run([sys.executable, str(QUICKSTART / "prepare.py"), "--out", str(out)], check=True,
                   capture_output=True, text=True)
    return out


def prepare(source: Path, dest: Path, trained: Path, only: tuple[str, ...] | None = None) -> Path:
    """Copy the manifests in `source` into `dest`, their file URIs pointing at `trained`."""
    dest.mkdir(parents=True, exist_ok=True)
    for manifest in sorted(source.glob("*.yaml")):
        if only is None or manifest.name in only:
            (dest / manifest.name).write_text(manifest.read_text().replace(DEFAULT_OUT, trained.resolve().as_uri()))
    return dest
