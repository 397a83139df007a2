"""Metric curves as an SVG line chart, one panel per metric, written without a plotting
library: the training report is drawn after the code ends, so whatever it costs is added to
every job, and matplotlib's import and PNG rendering were 0.8 s of it on two cores."""

from __future__ import annotations

import math
from html import escape

WIDTH = 720
PANEL = 150
"""Height of one metric's plot area."""
LEFT, RIGHT, TOP, GAP, BOTTOM = 72, 16, 34, 40, 34
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
MARKERS_BELOW = 60
"""Points are marked when there are fewer than this many."""


def _span(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.05 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.05
    # a loss or an accuracy that never goes below zero keeps zero as its floor
    return (max(low - pad, 0.0) if low >= 0 else low - pad), high + pad


def _label(value: float) -> str:
    return f"{value:.4g}"


def _segments(points: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    """Runs of finite values: a NaN or infinity breaks the line rather than bending it."""
    runs: list[list[tuple[int, float]]] = [[]]
    for step, value in points:
        if math.isfinite(value):
            runs[-1].append((step, value))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def curves_svg(series: dict[str, list[tuple[int, float]]], title: str,
               best: dict[str, tuple[int, float]] | None = None) -> str:
    """`series`: metric name -> [(step, value)]; `best`: metric name -> (step, value) of its best
    point (report.summarise's, by the metric's goal), labelled and ringed. A panel with nothing
    finite says so."""
    best = best or {}
    names = sorted(series)
    height = TOP + max(1, len(names)) * (PANEL + GAP) - GAP + BOTTOM
    steps = [step for points in series.values() for step, _ in points]
    first, last = (min(steps), max(steps)) if steps else (0, 1)
    if first == last:
        first, last = first - 1, last + 1
    plot_width = WIDTH - LEFT - RIGHT

    def x(step: float) -> float:
        return LEFT + (step - first) / (last - first) * plot_width

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height}' viewBox='0 0 {WIDTH} {height}' "
           f"font-family='sans-serif' font-size='11'>",
           f"<title>{escape(title)}</title><rect width='100%' height='100%' fill='white'/>",
           f"<text x='{WIDTH / 2}' y='16' text-anchor='middle' font-size='13'>{escape(title)}</text>"]
    if not names:
        out.append(f"<text x='{WIDTH / 2}' y='{TOP + 20}' text-anchor='middle'>no metrics were reported</text>")
    for index, name in enumerate(names):
        top = TOP + index * (PANEL + GAP)
        finite = [v for _, v in series[name] if math.isfinite(v)]
        out.append(f"<rect x='{LEFT}' y='{top}' width='{plot_width}' height='{PANEL}' fill='none' stroke='#999'/>")
        if not finite:
            out.append(f"<text x='{LEFT + 6}' y='{top - 6}'>{escape(name)}: no finite value</text>")
            continue
        low, high = _span(finite)

        def y(value: float, top: int = top, low: float = low, high: float = high) -> float:
            return top + PANEL - (value - low) / (high - low) * PANEL

        for tick in range(5):
            value = low + (high - low) * tick / 4
            out.append(f"<line x1='{LEFT}' x2='{LEFT + plot_width}' y1='{y(value):.1f}' y2='{y(value):.1f}' stroke='#eee'/>"
                       f"<text x='{LEFT - 4}' y='{y(value) + 4:.1f}' text-anchor='end'>{_label(value)}</text>")
        label = f"{escape(name)}: last {_label(series[name][-1][1])}"
        if name in best:
            best_step, best_value = best[name]
            label = f"{escape(name)}: best {_label(best_value)} at step {best_step}, last {_label(series[name][-1][1])}"
            out.append(f"<circle cx='{x(best_step):.1f}' cy='{y(best_value):.1f}' r='5' fill='none' stroke='black'/>")
        out.append(f"<text x='{LEFT + 6}' y='{top - 6}'>{label}</text>")
        colour = COLOURS[index % len(COLOURS)]
        for run in _segments(series[name]):
            path = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in run)
            out.append(f"<polyline fill='none' stroke='{colour}' stroke-width='1.5' points='{path}'/>")
            if len(series[name]) < MARKERS_BELOW:
                out.extend(f"<circle cx='{x(s):.1f}' cy='{y(v):.1f}' r='2' fill='{colour}'/>" for s, v in run)
    axis = TOP + max(1, len(names)) * (PANEL + GAP) - GAP
    for step in sorted({round(first + (last - first) * tick / 4) for tick in range(5)}):
        out.append(f"<text x='{x(step):.1f}' y='{axis + 14}' text-anchor='middle'>{step}</text>")
    out.append(f"<text x='{LEFT + plot_width / 2}' y='{axis + 30}' text-anchor='middle'>step</text></svg>")
    return "\n".join(out) + "\n"
