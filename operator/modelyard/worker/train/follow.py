"""Run the training code and follow it: its metrics file and log while it runs, stopping it when
a metric turns NaN (diverged) or `maxRuntimeSeconds` passes, and reporting progress."""

from __future__ import annotations

import json
import math
import re
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

POLL_SECONDS = 0.5
"""How often the metrics file is read while the code runs (a wait on the process, not a sleep)."""
LOG_TAIL = 40


@dataclass
class Run:
    """How the training code ended."""

    exit_code: int
    records: list[dict[str, Any]] = field(default_factory=list)
    """Metric lines: from the metrics file, and from log regexes (`source: log`)."""
    log_tail: list[str] = field(default_factory=list)
    stopped: str | None = None
    """`Diverged` or `DeadlineExceeded` when the worker stopped it."""
    detail: str = ""


class _MetricsFile:
    """Reads the lines appended since the last read; a partial last line waits for its end."""

    def __init__(self, path: Path):
        self.path, self.offset, self.partial = path, 0, ""

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open() as stream:
            stream.seek(self.offset)
            text = stream.read()
            self.offset = stream.tell()
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        found = []
        for line in lines:
            try:
                body = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(body, dict) and isinstance(body.get("step"), int):
                found.append(body)
        return found


def _not_finite(record: dict[str, Any]) -> str | None:
    for key, value in record.items():
        if isinstance(value, float) and not math.isfinite(value):
            return key
    return None


def run_code(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    metrics_file: Path,
    log_metrics: list[dict[str, Any]],
    deadline_s: float | None,
    on_line: Callable[[str], None],
    on_record: Callable[[dict[str, Any]], None],
    on_poll: Callable[[], None] = lambda: None,
    on_spawn: Callable[[subprocess.Popen[str]], None] = lambda process: None,
) -> Run:
    """Run `argv` to the end (or until stopped) and collect what it reported."""
    patterns = [(m["name"], re.compile(m["regex"])) for m in log_metrics]
    counts = {name: 0 for name, _ in patterns}
    log_records: list[dict[str, Any]] = []
    tail: deque[str] = deque(maxlen=LOG_TAIL)
    lock = threading.Lock()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               bufsize=1)
    assert process.stdout is not None
    on_spawn(process)

    def pump() -> None:
        for raw in process.stdout:  # type: ignore[union-attr]
            line = raw.rstrip("\n")
            tail.append(line)
            on_line(line)
            for name, pattern in patterns:
                match = pattern.search(line)
                if match:
                    try:
                        value = float(match.group(1))
                    except (IndexError, ValueError):
                        continue
                    counts[name] += 1
                    with lock:
                        log_records.append({"step": counts[name], name: value})

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    metrics = _MetricsFile(metrics_file)
    records: list[dict[str, Any]] = []
    started = time.monotonic()
    stopped, detail = None, ""
    while True:
        try:
            code = process.wait(timeout=POLL_SECONDS)
            finished = True
        except subprocess.TimeoutExpired:
            code, finished = None, False
        with lock:
            fresh = metrics.read() + log_records[:]
            log_records.clear()
        for record in fresh:
            records.append(record)
            on_record(record)
            bad = _not_finite(record)
            if bad and stopped is None:
                stopped, detail = "Diverged", f"{bad} became {record[bad]} at step {record['step']}"
        on_poll()
        if finished:
            break
        if stopped is None and deadline_s is not None and time.monotonic() - started > deadline_s:
            stopped, detail = "DeadlineExceeded", f"training ran past spec.maxRuntimeSeconds ({deadline_s:g} s)"
        if stopped is not None:
            process.kill()
    reader.join(timeout=10)
    return Run(exit_code=code if code is not None else -9, records=records, log_tail=list(tail),
               stopped=stopped, detail=detail)
