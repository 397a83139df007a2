"""Local mode's progress display: transitions as lines, a worker's current step live.

On a terminal the running job's latest step rewrites one status line; elsewhere (CI logs, a
pipe) every step is a plain line, so nothing is lost and nothing is garbled."""

from __future__ import annotations

import json
import re
import sys
import time
from typing import TextIO

from modelyard.core.decision import Event
from modelyard.local.engine import Reporter
from modelyard.worker.train.sdk import PROGRESS_PREFIX

_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (?P<level>[A-Z]+) (?P<text>.*)$")
_BATCH = re.compile(r"batch (?P<done>\d+)/(?P<total>\d+)")


def worker_step(line: str) -> tuple[str, str]:
    """(level, text) of a worker log line; lines of other shapes (tracebacks) are ('', line)."""
    match = _LOG_PREFIX.match(line)
    return (match["level"], match["text"]) if match else ("", line)


def training_progress(text: str) -> tuple[str, int, int] | None:
    """A training worker's progress line as a bar with its metrics: (text, step, total)."""
    if not text.startswith(PROGRESS_PREFIX):
        return None
    try:
        body = json.loads(text[len(PROGRESS_PREFIX):])
    except json.JSONDecodeError:
        return None
    step, total = int(body.get("step") or 0), int(body.get("total") or 0)
    metrics = " ".join(f"{k}={v:.4g}" for k, v in sorted((body.get("metrics") or {}).items()) if isinstance(v, (int, float)))
    if total:
        filled = min(20, step * 20 // total)
        eta = f" ETA {body['etaSeconds']:.0f}s" if body.get("etaSeconds") is not None else ""
        return f"training [{'#' * filled}{'-' * (20 - filled)}] {step}/{total}{eta} {metrics}", step, total
    return f"training step {step} {metrics}", step, 0


def _worth_a_line(text: str) -> bool:
    """Without a live line, batch and training progress is shown in quarters, not step by step."""
    progress = training_progress(text)
    match = _BATCH.search(text)
    if progress is not None:
        done, total = progress[1], progress[2]
    elif match:
        done, total = int(match["done"]), int(match["total"])
    else:
        return True
    return total <= 0 or done == 1 or done == total or done * 4 // total != (done - 1) * 4 // total


class ConsoleReporter(Reporter):
    def __init__(self, stream: TextIO | None = None, live: bool | None = None, verbose: bool = False):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.verbose = verbose
        self._started = 0.0
        self._status = False

    def _clear(self) -> None:
        if self._status:
            self.stream.write("\r\x1b[K")
            self._status = False

    def _line(self, text: str) -> None:
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def event(self, kind: str, name: str, event: Event) -> None:
        mark = "!" if event.type == "Warning" else "·"
        self._line(f"{mark} {kind}/{name}: {event.reason}: {event.message}")

    def job_started(self, job: str, command: str) -> None:
        self._started = time.monotonic()
        self._line(f"▶ {command} ({job})")

    def job_line(self, job: str, line: str) -> None:
        level, text = worker_step(line)
        if not text.strip():
            return
        if level in ("WARNING", "ERROR") or (not level and self.verbose):
            self._line(f"    {level.lower() + ': ' if level else ''}{text}")
        elif level == "INFO" and self.live:
            text = (training_progress(text) or (text,))[0]
            elapsed = time.monotonic() - self._started
            self._clear()
            self.stream.write(f"    {job}: {text[:160]}  [{elapsed:5.1f}s]")
            self.stream.flush()
            self._status = True
        elif level == "INFO" and _worth_a_line(text):
            self._line(f"    {job}: {(training_progress(text) or (text,))[0]}")

    def note(self, text: str) -> None:
        self._line(f"note: {text}")

    def job_finished(self, job: str, ok: bool) -> None:
        elapsed = time.monotonic() - self._started
        self._line(f"{'✔' if ok else '✘'} {job} {'finished' if ok else 'failed'} in {elapsed:.1f}s")
