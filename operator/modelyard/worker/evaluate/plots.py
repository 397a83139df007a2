"""The report's PNG plots, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

# Many class labels on an axis become unreadable; beyond this, ticks are left out.
MAX_TICKS = 40


def new_figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def to_png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def confusion_matrix_png(confusion: list[list[int]], names: list[str]) -> bytes:
    matrix = np.asarray(confusion)
    figure = new_figure(7, 6)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues", interpolation="nearest")
    figure.colorbar(image, ax=axes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("label")
    axes.set_title("Confusion matrix")
    if len(names) <= MAX_TICKS:
        axes.set_xticks(range(len(names)), names, rotation=90)
        axes.set_yticks(range(len(names)), names)
        if len(names) <= 15:
            for (i, j), count in np.ndenumerate(matrix):
                if count:
                    axes.text(j, i, str(count), ha="center", va="center", fontsize=7,
                              color="white" if count > matrix.max() / 2 else "black")
    return to_png(figure)


def latency_histogram_png(per_batch_ms: np.ndarray, percentiles: dict[str, float]) -> bytes:
    figure = new_figure(7, 4)
    axes = figure.add_subplot()
    axes.hist(per_batch_ms, bins=min(50, max(5, len(per_batch_ms) // 2)), color="#4878a8")
    for key, style in (("latencyP50Ms", "-"), ("latencyP95Ms", "--"), ("latencyP99Ms", ":")):
        if key in percentiles:
            axes.axvline(percentiles[key], color="#c44", linestyle=style, label=f"{key[7:10].lower()} {percentiles[key]:.2f} ms")
    axes.set_xlabel("latency per batch (ms)")
    axes.set_ylabel("batches")
    axes.set_title("Latency")
    axes.legend()
    return to_png(figure)


def per_class_png(per_class: list[dict[str, Any]]) -> bytes:
    names = [row["name"] for row in per_class]
    x = np.arange(len(names))
    figure = new_figure(max(7, min(20, len(names) * 0.4)), 4)
    axes = figure.add_subplot()
    for offset, key in ((-0.27, "precision"), (0.0, "recall"), (0.27, "f1")):
        axes.bar(x + offset, [row[key] for row in per_class], width=0.27, label=key)
    if len(names) <= MAX_TICKS:
        axes.set_xticks(x, names, rotation=90)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("score")
    axes.set_title("Per class")
    axes.legend(loc="lower right")
    return to_png(figure)
