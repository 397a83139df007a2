"""The console is a control-plane process: serving every page, the training curves included
(drawn by worker/train/chart.py), imports no torch, onnx or numpy; and the CLI imports Flask only
when a console is started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("torch", "onnx", "onnxruntime", "onnxscript", "tritonclient", "numpy", "matplotlib")

PROBE = f"""
import importlib.abc, sys
sys.path.insert(0, {str(ROOT)!r})
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {HEAVY!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import tempfile
from pathlib import Path
from modelyard.cli import build_parser
build_parser()
assert 'flask' not in sys.modules, 'the CLI imports Flask before a console is asked for'
from modelyard.console.app import create_app
from tests.unit.console.world import Memory, world, write_curves, write_report
folder = Path(tempfile.mkdtemp())
objects = world(report_uri=write_report(folder / 'report'), curves_uri=write_curves(folder / 'metrics.jsonl'))
app = create_app(Memory(objects)).test_client()
for url in ['/models', '/models/ml/digits', '/models/ml/digits/compare', '/versions/ml/digits-int8',
            '/evaluations/ml/digits-int8-eval', '/trainings/ml/digits-train', '/jobs']:
    reply = app.get(url)
    assert reply.status_code == 200, (url, reply.status_code)
assert b'<svg' in app.get('/trainings/ml/digits-train').data
loaded = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})
assert not loaded, loaded
"""


def test_the_console_serves_every_page_without_heavy_packages():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
