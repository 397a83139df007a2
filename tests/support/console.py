"""Running `modelyard console` (or `modelyard local console`) as a process for a test."""

from __future__ import annotations

import contextlib
import subprocess
from typing import Callable, Iterator


@contextlib.contextmanager
def serve(argv: list[str], env: dict[str, str] | None = None,
          check: Callable[[str], None] | None = None) -> Iterator[str]:
    """The console started with `argv` (its port 0: any free one), yielding its base URL; once
    stopped, its stderr holds no traceback and passes `check`."""
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = server.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("console: "), line + server.stderr.read()  # type: ignore[union-attr]
        yield line.split("console: ", 1)[1].strip().rstrip("/")
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
        assert "Traceback" not in errors, errors
        if check is not None:
            check(errors)
