"""`report NAME`: fetch an EvaluationJob's or a TrainingJob's report from the store and
summarise it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelyard.storage.config import S3Settings
from modelyard.views.table import lookup

FILES = ("report.json", "report.html", "confusion-matrix.png", "latency-histogram.png", "per-class.png",
         "curves.svg", "metrics.jsonl")


class ReportMissing(LookupError):
    """No report to fetch; `store_error` is the store's refusal when that is why."""

    def __init__(self, message: str, store_error: Exception | None = None):
        super().__init__(message)
        self.store_error = store_error


def fetch_report(evaluation: dict[str, Any], dest: Path, settings: S3Settings | None = None,
                 session: Any = None) -> Path:
    """Download the report's files into `dest` (checked: report.json must be there); returns
    the local report.html, or the report folder itself when it is already local. `session`:
    the boto3 Session whose credentials read the store (boto3's chain when None)."""
    from modelyard.storage import open_store
    from modelyard.storage.base import StoreError

    name = evaluation["metadata"]["name"]
    uri = lookup(evaluation, ".status.reportUri")
    if not uri:
        phase = lookup(evaluation, ".status.phase") or "Pending"
        raise ReportMissing(f"{evaluation.get('kind', 'EvaluationJob')} {name} has no report yet (phase {phase})")
    if uri.startswith("file://"):
        folder = Path(uri.removeprefix("file://"))
        if not (folder / "report.json").is_file():
            raise ReportMissing(f"{uri}report.json does not exist")
        return folder / "report.html"
    store = open_store(uri.rstrip("/"), settings, session)
    dest.mkdir(parents=True, exist_ok=True)
    for file in FILES:
        try:
            data = store.get_bytes(file)
        except StoreError as error:
            if file == "report.json":
                raise ReportMissing(str(error), error) from None
            continue
        (dest / file).write_bytes(data)
    return dest / "report.html"


def summary(report_html: Path) -> str:
    """A few lines from report.json: verdict, gates, headline metrics, worst classes."""
    report = json.loads((report_html.parent / "report.json").read_text())
    if "job" in report:
        return _training_summary(report, report_html)
    result = report.get("result") or report
    lines = [f"{'PASSED' if result.get('passed') else 'FAILED'}: {result.get('message', '')}"]
    for gate in result.get("gates") or []:
        mark = "ok  " if gate.get("passed") else "FAIL"
        lines.append(f"  {mark} {gate.get('metric')} {gate.get('op')} {gate.get('value')} (actual {_number(gate.get('actual'))})")
    metrics = result.get("metrics") or {}
    shown = [f"{k} {metrics[k]:.4g}" for k in ("accuracy", "f1", "latencyP50Ms", "latencyP95Ms", "throughput") if k in metrics]
    if shown:
        lines.append("  " + ", ".join(shown))
    worst = (report.get("diagnosis") or {}).get("worstClasses") or []
    if worst:
        lines.append("  worst classes: " + ", ".join(f"{w.get('name', w.get('class'))} (f1 {w.get('f1', 0):.3f})" for w in worst[:3]))
    lines.append(f"report: {report_html}")
    return "\n".join(lines)


def _training_summary(report: dict[str, Any], report_html: Path) -> str:
    lines = [f"TrainingJob {report['job']}: {report['algorithm']} on {report['hardware']} -> {report['model']} {report['version']}"]
    for name, value in sorted((report.get("metrics") or {}).items()):
        lines.append(f"  {name}: final {_number(value.get('final'))}, best {_number(value.get('best'))} at step {value.get('bestStep')}")
    lines.append(f"report: {report_html}")
    return "\n".join(lines)


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
