"""report.html: one self-contained page (plots embedded as base64 PNG, no external assets)."""

from __future__ import annotations

import base64
from html import escape
from typing import Any


def table(rows: list[list[Any]], header: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "passed" if value else "FAILED"
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def render(report: dict[str, Any], images: dict[str, bytes]) -> str:
    result = report["result"]
    parts = [
        f"<h1>Evaluation {escape(report['evaluation'])}</h1>",
        f"<p>Version <b>{escape(report['version'])}</b> on {escape(report['dataset']['uri'])} "
        f"({report['dataset']['samples']} samples) with {escape(report['backend'])}.</p>",
        f"<p class='{'ok' if result['passed'] else 'bad'}'><b>{'PASSED' if result['passed'] else 'NOT PASSED'}</b>: "
        f"{escape(result['message'])}</p>",
        "<h2>Gates</h2>",
        table([[g["metric"], g["op"], g["value"], g["actual"], g["passed"]] for g in result["gates"]],
               ["metric", "op", "threshold", "actual", "outcome"]) if result["gates"] else "<p>No gates.</p>",
        "<h2>Metrics</h2>",
        table([[k, v] for k, v in sorted(result["metrics"].items())], ["metric", "value"]),
    ]
    if report.get("baseline"):
        parts += ["<h2>Baseline</h2>", f"<p>{escape(report['baseline']['version'])}</p>",
                  table([[k, v] for k, v in sorted(report["baseline"]["metrics"].items())], ["metric", "value"])]
    diagnosis = report.get("diagnosis")
    if diagnosis:
        parts += [
            "<h2>Worst classes</h2>",
            table([[r["name"], r["f1"], r["recall"], r["precision"], r["support"]] for r in diagnosis["worstClasses"]],
                   ["class", "f1", "recall", "precision", "support"]),
            "<h2>Most confused pairs</h2>",
            table([[p["labelName"], p["predictedName"], p["count"]] for p in diagnosis["confusedPairs"]],
                   ["label", "predicted as", "samples"]),
            "<h2>Misclassified samples (first few)</h2>",
            table([[m["index"], m["labelName"], m["predictedName"]] for m in diagnosis["misclassified"]],
                   ["sample", "label", "predicted"]),
        ]
    return page(f"Evaluation {report['evaluation']}", parts, images)


def page(title: str, parts: list[str], images: dict[str, bytes]) -> str:
    """A self-contained HTML page: `parts` (already escaped HTML), then every image inline."""
    parts = list(parts)
    for name, data in images.items():
        encoded = base64.b64encode(data).decode()
        kind = "image/svg+xml" if name.endswith(".svg") else "image/png"
        parts.append(f"<h2>{escape(name)}</h2><img alt='{escape(name)}' src='data:{kind};base64,{encoded}'>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}.ok{color:#161}.bad{color:#a11}"
             "img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>\n")
