"""The progress display: steps live on a terminal, plain and throttled elsewhere."""

from __future__ import annotations

import io

from modelyard.core.decision import Event
from modelyard.local.console import ConsoleReporter, worker_step


def test_worker_log_lines_are_split_into_level_and_text():
    assert worker_step("2026-11-24 08:17:44,964 INFO fetching dataset") == ("INFO", "fetching dataset")
    assert worker_step("Traceback (most recent call last):") == ("", "Traceback (most recent call last):")


def test_plain_output_shows_batches_in_quarters_and_every_warning():
    out = io.StringIO()
    reporter = ConsoleReporter(out, live=False)
    reporter.job_started("evaluate-x", "evaluate")
    for i in range(1, 101):
        reporter.job_line("evaluate-x", f"2026-11-24 08:17:44,964 INFO batch {i}/100")
    reporter.job_line("evaluate-x", "2026-11-24 08:17:44,964 WARNING disk almost full")
    reporter.job_finished("evaluate-x", True)
    text = out.getvalue()
    assert [line.split("batch ")[1] for line in text.splitlines() if "batch" in line] == ["1/100", "25/100", "50/100", "75/100", "100/100"]
    assert "warning: disk almost full" in text and "\r" not in text
    assert "✔ evaluate-x finished" in text


def test_live_output_rewrites_one_status_line():
    out = io.StringIO()
    reporter = ConsoleReporter(out, live=True)
    reporter.job_started("convert-x", "convert")
    reporter.job_line("convert-x", "2026-11-24 08:17:44,964 INFO export")
    reporter.job_line("convert-x", "2026-11-24 08:17:44,964 INFO verify")
    reporter.event("ConversionJob", "x", Event("Normal", "Converted", "done"))
    text = out.getvalue()
    assert "\r\x1b[K" in text and "convert-x: verify" in text
    assert text.endswith("· ConversionJob/x: Converted: done\n")


def test_notes_are_lines_of_their_own():
    out = io.StringIO()
    ConsoleReporter(out, live=False).note("hardware gpu runs on this machine")
    assert out.getvalue() == "note: hardware gpu runs on this machine\n"
