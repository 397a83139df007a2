"""Versions side by side: each version's facts (what it is, how it was converted and verified,
how it evaluated, how it was trained) as rows, with what differs between them and each number's
change against the first version. Pure functions over object bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from modelyard.views.table import lookup

Value = str | int | float | bool | None
SECTIONS = ("version", "signature", "conversion", "evaluation", "training")
"""The order of the rows' sections, whichever version has them."""
Better = Literal["higher", "lower"] | None

_LOWER = ("latency", "size", "diff", "loss", "error", "mse", "mae", "perplexity")
_HIGHER = ("accuracy", "f1", "precision", "recall", "top", "throughput", "speedup", "agreement", "cosine", "auc",
           "similarity")


def better_of(name: str) -> Better:
    """Which way a metric improves, from its name (latency, size and losses go down; accuracy,
    throughput and agreement go up); None when the name does not say (a sample count)."""
    lowered = name.lower()
    if any(word in lowered for word in _LOWER):
        return "lower"
    if any(word in lowered for word in _HIGHER):
        return "higher"
    return None


@dataclass(frozen=True)
class Fact:
    section: str
    name: str
    value: Value
    better: Better = None


def _shapes(tensors: list[dict[str, Any]] | None) -> str:
    return ", ".join(f"{t.get('name')} {t.get('dtype', '')}[{','.join('?' if d == -1 else str(d) for d in t.get('shape') or [])}]"
                     for t in tensors or [])


def version_facts(version: dict[str, Any], conversion: dict[str, Any] | None = None,
                  evaluation: dict[str, Any] | None = None, training: dict[str, Any] | None = None) -> list[Fact]:
    """What there is to compare about one version, in display order. A fact that is not known
    (no conversion, status not written yet) is None."""
    signature = lookup(version, ".status.signature") or lookup(version, ".spec.signature") or {}
    facts = [
        Fact("version", "semver", lookup(version, ".spec.version")),
        Fact("version", "format", lookup(version, ".spec.format")),
        Fact("version", "hardware", lookup(version, ".status.hardware") or lookup(conversion, ".spec.target.hardware")),
        Fact("version", "phase", lookup(version, ".status.phase") or "Pending"),
        Fact("version", "parent", lookup(version, ".spec.lineage.parentVersion")),
        Fact("version", "digest", lookup(version, ".status.artifact.digest")),
        Fact("version", "sizeBytes", lookup(version, ".status.artifact.sizeBytes"), "lower"),
        Fact("version", "parameters", lookup(version, ".status.inspection.parameterCount")),
        Fact("version", "opset", lookup(version, ".status.inspection.opset")),
        Fact("signature", "inputs", _shapes(signature.get("inputs")) or None),
        Fact("signature", "outputs", _shapes(signature.get("outputs")) or None),
    ]
    if conversion is not None:
        facts += [
            Fact("conversion", "job", conversion["metadata"]["name"]),
            Fact("conversion", "target", lookup(conversion, ".spec.target.format")),
            Fact("conversion", "verified", lookup(conversion, ".status.verification.passed")),
            Fact("conversion", "maxAbsDiff", lookup(conversion, ".status.verification.maxAbsDiff"), "lower"),
            Fact("conversion", "maxRelDiff", lookup(conversion, ".status.verification.maxRelDiff"), "lower"),
            Fact("conversion", "top1Agreement", lookup(conversion, ".status.verification.top1Agreement"), "higher"),
            Fact("conversion", "speedupBatch1", lookup(conversion, ".status.benchmark.speedupBatch1"), "higher"),
            Fact("conversion", "speedupBatchN", lookup(conversion, ".status.benchmark.speedupBatchN"), "higher"),
            Fact("conversion", "latencyP50MsBatch1", lookup(conversion, ".status.benchmark.output.latencyP50MsBatch1"), "lower"),
            Fact("conversion", "sizeRatio", lookup(conversion, ".status.benchmark.sizeRatio"), "lower"),
            Fact("conversion", "measuredOn", lookup(conversion, ".status.benchmark.measuredOn")),
        ]
    if evaluation is not None:
        facts += [
            Fact("evaluation", "job", evaluation["metadata"]["name"]),
            Fact("evaluation", "gates", {True: "passed", False: "failed"}.get(lookup(evaluation, ".status.passed"),
                                                                               lookup(evaluation, ".status.phase") or "Pending")),
            Fact("evaluation", "hardware", lookup(evaluation, ".spec.hardware") or "cpu"),
        ]
        results = lookup(evaluation, ".status.results") or {}
        facts += [Fact("evaluation", name, results[name], better_of(name)) for name in sorted(results)]
    if training is not None:
        facts += [Fact("training", "job", training["metadata"]["name"]),
                  Fact("training", "algorithm", lookup(training, ".status.algorithm.name"))]
        parameters = lookup(training, ".status.hyperparameters") or {}
        facts += [Fact("training", f"hyperparameters.{k}", _plain(v)) for k, v in sorted(parameters.items())]
        metrics = lookup(training, ".status.metrics") or {}
        facts += [Fact("training", f"{k} (final)", (v or {}).get("final", (v or {}).get("latest")), better_of(k))
                  for k, v in sorted(metrics.items())]
    return facts


def _plain(value: Any) -> Value:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


@dataclass
class Row:
    """One fact across the versions compared."""

    section: str
    name: str
    values: list[Value]
    differs: bool
    better: Better = None
    deltas: list[dict[str, Any] | None] = field(default_factory=list)
    """Per version: {delta, percent, verdict better|worse|same} against the first; None where
    either is not a number."""


def _number(value: Value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _same(value: Value) -> tuple[str, Any]:
    number = _number(value)
    return ("number", number) if number is not None else ("value", repr(value))


def delta(base: Value, value: Value, better: Better) -> dict[str, Any] | None:
    """`value` against `base`: the difference, the relative change in percent (None from zero)
    and whether that is better, worse or the same by the metric's direction."""
    a, b = _number(base), _number(value)
    if a is None or b is None:
        return None
    change = b - a
    percent = None if a == 0 else change / abs(a) * 100
    if change == 0 or better is None:
        verdict = "same" if change == 0 else "changed"
    else:
        verdict = "better" if (change > 0) == (better == "higher") else "worse"
    return {"delta": change, "percent": percent, "verdict": verdict}


def rows(columns: list[list[Fact]]) -> list[Row]:
    """The union of the versions' facts, by section then in first-seen order, each with every version's value
    (None where it has no such fact), whether they differ, and deltas against the first."""
    order: dict[tuple[str, str], Better] = {}
    values: list[dict[tuple[str, str], Value]] = []
    for facts in columns:
        values.append({})
        for fact in facts:
            order.setdefault((fact.section, fact.name), fact.better)
            values[-1][(fact.section, fact.name)] = fact.value
    out = []
    keys = sorted(order, key=lambda k: SECTIONS.index(k[0]) if k[0] in SECTIONS else len(SECTIONS))
    for key in keys:
        better = order[key]
        row_values = [column.get(key) for column in values]
        row = Row(key[0], key[1], row_values, differs=len({_same(v) for v in row_values}) > 1, better=better)
        row.deltas = [None] + [delta(row_values[0], v, better) for v in row_values[1:]] if row_values else []
        out.append(row)
    return out
