"""Small SVG charts of the console (no plotting library, as the lineage picture and the training
curves of worker/train/chart.py): a metric across a model's versions, and a confusion matrix as a
heatmap. Every text is escaped; a point or a cell may carry a link."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH = 760
PLOT_H = 220
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 34, 96
LABELS_AT_MOST = 30
"""Version names under the axis: at most this many, evenly spaced (a thousand would overlap)."""


@dataclass(frozen=True)
class Point:
    """One version's value of the metric (None: not measured, drawn as a gap)."""

    label: str
    value: float | None
    href: str | None = None


def _span(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.05 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.08
    return low - pad, high + pad


def metric_svg(metric: str, points: list[Point], title: str) -> str:
    """`metric` of each version, in the order given (oldest first), as dots on a line; a
    version without the metric leaves a gap. Each dot links to its `href`."""
    finite = [p.value for p in points if p.value is not None and math.isfinite(p.value)]
    height = TOP + PLOT_H + BOTTOM
    width = WIDTH - LEFT - RIGHT
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
           'font-family="sans-serif" font-size="11" class="chart">',
           f"<title>{escape(title)}</title>",
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>',
           f'<rect x="{LEFT}" y="{TOP}" width="{width}" height="{PLOT_H}" fill="none" stroke="#999"/>']
    if not finite:
        out.append(f'<text x="{WIDTH / 2}" y="{TOP + PLOT_H / 2}" text-anchor="middle">no version has {escape(metric)}</text>')
        return "\n".join(out + ["</svg>"]) + "\n"
    low, high = _span(finite)
    count = len(points)

    def x(index: int) -> float:
        return LEFT + (width / 2 if count == 1 else index * width / (count - 1))

    def y(value: float) -> float:
        return TOP + PLOT_H - (value - low) / (high - low) * PLOT_H

    for tick in range(5):
        value = low + (high - low) * tick / 4
        out.append(f'<line x1="{LEFT}" x2="{LEFT + width}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#eee"/>'
                   f'<text x="{LEFT - 4}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.4g}</text>')
    runs: list[list[str]] = [[]]
    for index, point in enumerate(points):
        if point.value is None or not math.isfinite(point.value):
            runs.append([])
            continue
        runs[-1].append(f"{x(index):.1f},{y(point.value):.1f}")
    for run in runs:
        if len(run) > 1:
            out.append(f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{" ".join(run)}"/>')
    radius = 3 if count <= 200 else 1.5
    for index, point in enumerate(points):
        if point.value is None or not math.isfinite(point.value):
            continue
        dot = (f'<circle cx="{x(index):.1f}" cy="{y(point.value):.1f}" r="{radius}" fill="#1f77b4">'
               f"<title>{escape(point.label)}: {point.value:.6g}</title></circle>")
        out.append(f'<a href="{escape(point.href)}">{dot}</a>' if point.href else dot)
    every = max(1, math.ceil(count / LABELS_AT_MOST))
    base = TOP + PLOT_H + 10
    for index in range(0, count, every):
        label = points[index].label
        shown = label if len(label) <= 22 else label[:21] + "…"
        out.append(f'<text x="{x(index):.1f}" y="{base}" text-anchor="end" '
                   f'transform="rotate(-40 {x(index):.1f} {base})">{escape(shown)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


CELL = 34
"""Side of one heatmap cell, in pixels."""


def heatmap_svg(matrix: list[list[int]], labels: list[str], title: str) -> str:
    """A confusion matrix: rows are the true class, columns the predicted one; the shade is the
    share of the row (so a rare class reads as clearly as a common one), the count is written in
    each cell, and off-diagonal mistakes are drawn in red."""
    size = len(matrix)
    names = [str(label) for label in labels] if len(labels) == size else [str(i) for i in range(size)]
    left, top = 90, 60
    width, height = left + size * CELL + 20, top + size * CELL + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           'font-family="sans-serif" font-size="11" class="chart">',
           f"<title>{escape(title)}</title>",
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="18" font-size="13">{escape(title)}</text>',
           f'<text x="{left + size * CELL / 2}" y="{top - 24}" text-anchor="middle">predicted</text>',
           f'<text x="14" y="{top + size * CELL / 2}" text-anchor="middle" '
           f'transform="rotate(-90 14 {top + size * CELL / 2})">true class</text>']
    for index, name in enumerate(names):
        short = escape(name if len(name) <= 10 else name[:9] + "…")
        out.append(f'<text x="{left + index * CELL + CELL / 2}" y="{top - 6}" text-anchor="middle">{short}</text>')
        out.append(f'<text x="{left - 6}" y="{top + index * CELL + CELL / 2 + 4}" text-anchor="end">{short}</text>')
    for row, counts in enumerate(matrix):
        total = sum(counts) or 1
        for column, count in enumerate(counts):
            share = count / total
            hue = (31, 119, 180) if row == column else (214, 39, 40)
            fill = "#ffffff" if count == 0 else "#%02x%02x%02x" % tuple(round(255 - (255 - c) * (0.15 + 0.85 * share)) for c in hue)
            ink = "white" if share > 0.55 else "black"
            cx, cy = left + column * CELL, top + row * CELL
            out.append(f'<rect x="{cx}" y="{cy}" width="{CELL}" height="{CELL}" fill="{fill}" stroke="#ddd">'
                       f"<title>true {escape(names[row])}, predicted {escape(names[column])}: {count}</title></rect>")
            if count:
                out.append(f'<text x="{cx + CELL / 2}" y="{cy + CELL / 2 + 4}" text-anchor="middle" fill="{ink}">{count}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
