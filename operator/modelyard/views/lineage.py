"""A model's lineage: versions, the conversions between them, the evaluations of each; printed
as a tree and drawn as Mermaid text and an SVG picture (no dependencies: the control-plane
install has no plotting library)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any, Callable

from modelyard.core.speed import speed_phrase
from modelyard.views.table import lookup


@dataclass
class Evaluation:
    name: str
    phase: str
    passed: bool | None
    accuracy: float | None
    latency_p95_ms: float | None
    hardware: str
    report_uri: str | None


@dataclass
class Node:
    """One ModelVersion."""

    name: str
    version: str
    format: str
    phase: str
    digest: str | None
    size_bytes: int | None = None
    hardware: str | None = None
    conversion: str | None = None
    """The ConversionJob that made it."""
    speedup: float | None = None
    max_abs_diff: float | None = None
    parent: str | None = None
    children: list[str] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    training: str | None = None
    """The TrainingJob that trained it."""
    algorithm: str | None = None
    datasets: list[str] = field(default_factory=list)
    """`name: uri @digest` of each training input."""
    based_on: str | None = None
    """The TrainingJob the training job followed."""


def _datasets(body: dict[str, Any]) -> list[str]:
    found = []
    for item in lookup(body, ".spec.lineage.datasets") or []:
        digest = (item.get("sha256") or "")[:12]
        found.append(f"{item.get('name')}: {item.get('uri', '').rsplit('/', 1)[-1]}" + (f" @{digest}" if digest else ""))
    return found


def build(model: str, versions: list[dict[str, Any]], conversions: list[dict[str, Any]],
          evaluations: list[dict[str, Any]]) -> dict[str, Node]:
    """The model's versions by name, linked to parents, children and evaluations."""
    mine = [v for v in versions if lookup(v, ".spec.modelRef.name") == model]
    by_output = {lookup(c, ".status.outputVersion"): c for c in conversions if lookup(c, ".status.outputVersion")}
    nodes: dict[str, Node] = {}
    for body in mine:
        name = body["metadata"]["name"]
        job = by_output.get(name)
        nodes[name] = Node(
            name=name, version=lookup(body, ".spec.version") or "", format=lookup(body, ".spec.format") or "",
            phase=lookup(body, ".status.phase") or "Pending", digest=lookup(body, ".status.artifact.digest"),
            size_bytes=lookup(body, ".status.artifact.sizeBytes"),
            parent=lookup(body, ".spec.lineage.parentVersion"),
            conversion=job["metadata"]["name"] if job else lookup(body, ".spec.lineage.conversionJob"),
            hardware=lookup(job, ".spec.target.hardware") if job else None,
            speedup=lookup(job, ".status.benchmark.speedupBatch1") if job else None,
            max_abs_diff=lookup(job, ".status.verification.maxAbsDiff") if job else None,
            training=lookup(body, ".spec.lineage.trainingJob") if lookup(body, ".spec.lineage.algorithm") else None,
            algorithm=lookup(body, ".spec.lineage.algorithm"),
            datasets=_datasets(body),
            based_on=lookup(body, ".spec.lineage.basedOn"),
        )
    for node in nodes.values():
        if node.parent in nodes:
            nodes[node.parent].children.append(node.name)
    for body in evaluations:
        target = nodes.get(lookup(body, ".spec.modelVersionRef.name") or "")
        if target is None:
            continue
        target.evaluations.append(Evaluation(
            name=body["metadata"]["name"], phase=lookup(body, ".status.phase") or "Pending",
            passed=lookup(body, ".status.passed"), accuracy=lookup(body, ".status.results.accuracy"),
            latency_p95_ms=lookup(body, ".status.results.latencyP95Ms"),
            hardware=lookup(body, ".spec.hardware") or "cpu", report_uri=lookup(body, ".status.reportUri"),
        ))
    return nodes


def roots(nodes: dict[str, Node]) -> list[str]:
    return sorted(n.name for n in nodes.values() if n.parent not in nodes)


def _version_line(node: Node) -> str:
    parts = [f"{node.name} ({node.version}, {node.format}"]
    if node.hardware:
        parts[0] += f" for {node.hardware}"
    parts[0] += f") {node.phase}"
    if node.digest:
        parts.append(node.digest.removeprefix("sha256:")[:12])
    if node.conversion:
        detail = f"via {node.conversion}"
        if node.max_abs_diff is not None:
            detail += f", max abs diff {node.max_abs_diff:.2g}"
        if node.speedup:
            detail += f", {speed_phrase(node.speedup)}"
        parts.append(detail)
    if node.training:
        trained = f"trained by {node.training} ({node.algorithm})"
        if node.datasets:
            trained += " on " + ", ".join(node.datasets)
        if node.based_on:
            trained += f", after {node.based_on}"
        parts.append(trained)
    return "  ".join(parts)


def _evaluation_line(ev: Evaluation) -> str:
    verdict = {True: "PASSED", False: "FAILED"}.get(ev.passed, ev.phase)  # type: ignore[call-overload]
    figures = []
    if ev.accuracy is not None:
        figures.append(f"accuracy {ev.accuracy:.4f}")
    if ev.latency_p95_ms is not None:
        figures.append(f"p95 {ev.latency_p95_ms:.3g} ms")
    return f"evaluation {ev.name} on {ev.hardware}: {verdict}" + (f" ({', '.join(figures)})" if figures else "")


def text_tree(model: str, nodes: dict[str, Node]) -> str:
    """The tree as lines, parents above conversions, evaluations under their version."""
    lines = [f"Model {model}"]

    def walk(name: str, prefix: str, last: bool) -> None:
        node = nodes[name]
        lines.append(f"{prefix}{'└── ' if last else '├── '}{_version_line(node)}")
        inner = prefix + ("    " if last else "│   ")
        items: list[tuple[str, Any]] = [("eval", e) for e in node.evaluations] + [("child", c) for c in sorted(node.children)]
        for index, (what, item) in enumerate(items):
            end = index == len(items) - 1
            if what == "eval":
                lines.append(f"{inner}{'└── ' if end else '├── '}{_evaluation_line(item)}")
            else:
                walk(item, inner, end)

    top = roots(nodes)
    for index, name in enumerate(top):
        walk(name, "", index == len(top) - 1)
    if not nodes:
        lines.append("└── (no versions)")
    return "\n".join(lines)


def _id(name: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in name)


def mermaid(model: str, nodes: dict[str, Node]) -> str:
    """A Mermaid flowchart (renders on GitHub and in most wikis)."""
    lines = ["flowchart LR", f"  %% lineage of Model {model}"]
    for node in nodes.values():
        label = f"{node.name}<br/>{node.version}<br/>{node.format}" + (f" / {node.hardware}" if node.hardware else "")
        lines.append(f'  {_id(node.name)}["{label}"]')
        if node.training:
            job = _id("train_" + node.training)
            lines.append(f'  {job}{{{{"{node.training}<br/>{node.algorithm}"}}}}')
            lines.append(f"  {job} -->|registered| {_id(node.name)}")
            for index, dataset in enumerate(node.datasets):
                lines.append(f'  {_id(f"data_{node.training}_{index}")}[("{dataset}")] --> {job}')
            if node.based_on:
                lines.append(f"  {_id('train_' + node.based_on)} -.->|basedOn| {job}")
        for ev in node.evaluations:
            verdict = {True: "passed", False: "failed"}.get(ev.passed, ev.phase.lower())  # type: ignore[call-overload]
            accuracy = f"<br/>accuracy {ev.accuracy:.4f}" if ev.accuracy is not None else ""
            lines.append(f'  {_id(ev.name)}(["{ev.name}<br/>{verdict}{accuracy}"])')
            lines.append(f"  {_id(node.name)} -.-> {_id(ev.name)}")
    for node in nodes.values():
        if node.parent in nodes:
            lines.append(f"  {_id(node.parent)} -->|{node.conversion or 'derived'}| {_id(node.name)}")
    return "\n".join(lines) + "\n"


BOX_W, BOX_H, GAP_X, GAP_Y, INDENT = 250, 62, 130, 18, 24
COLOURS = {"Ready": "#d8f0d8", "Failed": "#f6d2d2", "passed": "#d8f0d8", "failed": "#f6d2d2"}


Link = Callable[[str, str], "str | None"]
"""(kind, name) -> the URL a box of the picture links to, or None (the console's pages)."""


def svg(model: str, nodes: dict[str, Node], link: Link | None = None) -> str:
    """A left-to-right picture: conversions one column further right, each version's
    evaluations just under it. With `link`, each box (training job, version, evaluation) is a
    link to what `link(kind, name)` returns."""
    placed: dict[str, tuple[int, int]] = {}
    boxes: list[tuple[int, int, int, list[str], str, tuple[str, str]]] = []
    edges: list[tuple[str, str]] = []
    """(SVG path, label) pairs"""
    row = 0

    def place(name: str, depth: int) -> None:
        nonlocal row
        node = nodes[name]
        x, y = 20 + depth * (BOX_W + GAP_X), 50 + row * (BOX_H + GAP_Y)
        placed[name] = (x, y)
        digest = (node.digest or "").removeprefix("sha256:")[:12]
        lines = [node.name, f"{node.version}  {node.format}" + (f"/{node.hardware}" if node.hardware else ""),
                 f"{node.phase}  {digest}".strip()]
        boxes.append((x, y, BOX_W, lines, COLOURS.get(node.phase, "#eeeeee"), ("ModelVersion", node.name)))
        row += 1
        for ev in node.evaluations:
            ex, ey = x + INDENT, 50 + row * (BOX_H + GAP_Y)
            verdict = {True: "passed", False: "failed"}.get(ev.passed, ev.phase.lower())  # type: ignore[call-overload]
            figures = f"accuracy {ev.accuracy:.4f}" if ev.accuracy is not None else ""
            if ev.latency_p95_ms is not None:
                figures += f"  p95 {ev.latency_p95_ms:.3g} ms"
            boxes.append((ex, ey, BOX_W - INDENT, [ev.name, f"{verdict} on {ev.hardware}", figures.strip()],
                          COLOURS.get(verdict, "#eeeeee"), ("EvaluationJob", ev.name)))
            edges.append((f"M{x + INDENT // 2},{y + BOX_H} V{ey + BOX_H // 2} H{ex}", ""))
            row += 1
        for child in sorted(node.children):
            place(child, depth + 1)
            cx, cy = placed[child]
            x1, y1, y2 = x + BOX_W, y + BOX_H // 2, cy + BOX_H // 2
            edges.append((f"M{x1},{y1} C{x1 + GAP_X // 2},{y1} {cx - GAP_X // 2},{y2} {cx},{y2}",
                          nodes[child].conversion or ""))

    trained = any(nodes[name].training for name in roots(nodes))
    for name in roots(nodes):
        node = nodes[name]
        if node.training:
            # data and the training job in the first column, the version it registered next
            y = 50 + row * (BOX_H + GAP_Y)
            boxes.append((20, y, BOX_W, [node.training, node.algorithm or "", "; ".join(node.datasets)[:40]], "#e4ecf7",
                          ("TrainingJob", node.training)))
            x1, mid = 20 + BOX_W, y + BOX_H // 2
            edges.append((f"M{x1},{mid} {x1 + GAP_X},{mid}", "registered"))  # an implicit line-to
        place(name, 1 if trained else 0)
    width = max([box[0] + box[2] for box in boxes] + [400]) + 20
    height = max([box[1] + BOX_H for box in boxes] + [80]) + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="20" y="28" font-size="16" font-weight="bold">Lineage of Model {escape(model)}</text>']
    for path, label in edges:
        style = "" if label else ' stroke-dasharray="4 3"'
        out.append(f'<path d="{path}" fill="none" stroke="#555"{style}/>')
        if label:
            end = path.rsplit(" ", 1)[1].split(",")
            out.append(f'<text x="{int(end[0]) - GAP_X + 8}" y="{int(end[1]) - 5}" font-size="10" fill="#333">{escape(label)}</text>')
    for x, y, w, lines, colour, (kind, name) in boxes:
        href = link(kind, name) if link else None
        if href:
            out.append(f'<a href="{escape(href)}">')
        out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{BOX_H}" rx="6" fill="{colour}" stroke="#555"/>')
        for index, text in enumerate(lines):
            weight = ' font-weight="bold"' if index == 0 else ""
            out.append(f'<text x="{x + 8}" y="{y + 18 + index * 16}"{weight}>{escape(text)}</text>')
        if href:
            out.append("</a>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return ""


def summary_rows(nodes: dict[str, Node]) -> list[list[str]]:
    """Versions with their conversion and evaluation figures, one row per evaluation (or one
    for a version without any)."""
    table = [["VERSION", "SEMVER", "FORMAT", "HARDWARE", "PHASE", "SIZE", "SPEED", "EVALUATION", "ACCURACY", "P95-MS", "GATES"]]
    for node in sorted(nodes.values(), key=lambda n: (n.parent is not None, n.name)):
        base = [node.name, node.version, node.format, node.hardware or "", node.phase, _size(node.size_bytes),
                speed_phrase(node.speedup) if node.speedup else ""]
        for ev in node.evaluations or [None]:  # type: ignore[list-item]
            if ev is None:
                table.append(base + ["", "", "", ""])
                continue
            verdict = {True: "passed", False: "FAILED"}.get(ev.passed, ev.phase)  # type: ignore[call-overload]
            table.append(base + [ev.name, f"{ev.accuracy:.4f}" if ev.accuracy is not None else "",
                                 f"{ev.latency_p95_ms:.3g}" if ev.latency_p95_ms is not None else "", verdict])
    return table
