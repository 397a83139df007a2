"""Local mode's engine: what it costs to start."""

from __future__ import annotations

import subprocess
import sys


def test_local_mode_never_loads_the_kubernetes_client():
    """Its import was half a second of every `modelyard local` command on two cores; the
    reconcile functions recognise API errors without it (handlers/apierrors.py)."""
    code = "import sys, modelyard.cli_local, modelyard.local.engine; print('kubernetes' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
