"""The models list, a model's page (its versions in pages, with their figures) and its lineage
picture. The figures are the lineage view's (views/lineage.py), as `modelyard lineage` shows them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from modelyard.console import links
from modelyard.console.pages.common import (
    Page, activity, latest, message, meta, page_number, paginate, phase, semver_key, short_digest, size, verdict,
)
from modelyard.console.reading import Snapshot
from modelyard.core.speed import speed_phrase
from modelyard.views import lineage
from modelyard.views.table import age, lookup

LINEAGE_INLINE = 40
"""A model with more versions than this links to its lineage picture instead of drawing it on
its page (the picture grows by a box per version and evaluation)."""
PHASES = ("Pending", "Importing", "Ready", "Failed")


def _model_of(version: dict[str, Any]) -> tuple[str, str]:
    return version["metadata"].get("namespace") or "", lookup(version, ".spec.modelRef.name") or ""


def group(snap: Snapshot) -> tuple[dict[tuple[str, str], list[dict[str, Any]]], dict[tuple[str, str], list[dict[str, Any]]]]:
    """Versions by (namespace, model) and evaluations by (namespace, version)."""
    versions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for body in snap.bodies("ModelVersion"):
        versions[_model_of(body)].append(body)
    evaluations: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for body in snap.bodies("EvaluationJob"):
        evaluations[(body["metadata"].get("namespace") or "", lookup(body, ".spec.modelVersionRef.name") or "")].append(body)
    return versions, evaluations


def _latest_ready(model: dict[str, Any], versions: list[dict[str, Any]]) -> str | None:
    recorded = lookup(model, ".status.latestReadyVersion")
    if recorded:
        return recorded
    ready = [v for v in versions if phase(v) == "Ready"]
    return max(ready, key=lambda v: semver_key(lookup(v, ".spec.version")))["metadata"]["name"] if ready else None


def _matches(row: dict[str, Any], model: dict[str, Any], q: str) -> bool:
    metadata = model["metadata"]
    haystack = [row["name"], row["namespace"], row["task"] or "", row["displayName"] or "",
                lookup(model, ".spec.description") or "", lookup(model, ".spec.owner") or ""]
    haystack += [f"{k}={v}" for k, v in (metadata.get("labels") or {}).items()]
    return any(q.lower() in str(text).lower() for text in haystack)


def models_page(snap: Snapshot, q: str = "", task: str = "", phase_filter: str = "", page: str | None = None) -> Page:
    """Every Model with its version counts, latest Ready version, latest gate verdict and last
    activity; `q` searches names, titles, tasks, owners and labels."""
    versions, evaluations = group(snap)
    rows = []
    tasks = set()
    for model in snap.bodies("Model"):
        namespace, name = model["metadata"].get("namespace") or "", model["metadata"]["name"]
        mine = versions.get((namespace, name), [])
        counts = {p: 0 for p in PHASES}
        for version in mine:
            counts[phase(version)] = counts.get(phase(version), 0) + 1
        evals = [e for v in mine for e in evaluations.get((namespace, v["metadata"]["name"]), [])]
        last_eval = latest(evals)
        ready = _latest_ready(model, mine)
        task_name = lookup(model, ".spec.task")
        tasks.add(task_name or "")
        last = max([activity(model)] + [activity(b) for b in mine] + [activity(e) for e in evals])
        row = {
            "namespace": namespace, "name": name, "href": links.model(namespace, name),
            "displayName": lookup(model, ".spec.displayName"), "task": task_name, "phase": phase(model),
            "message": message(model),
            "versions": {"total": len(mine), **{p.lower(): counts[p] for p in PHASES}},
            "latestReady": {"name": ready, "href": links.version(namespace, ready)} if ready else None,
            "latestVerdict": None if last_eval is None else {
                "evaluation": last_eval["metadata"]["name"], "verdict": verdict(last_eval),
                "version": lookup(last_eval, ".spec.modelVersionRef.name"),
                "href": links.evaluation(namespace, last_eval["metadata"]["name"])},
            "lastActivity": last or None, "lastActivityAge": age(last) if last else "",
        }
        if (not q or _matches(row, model, q)) and (not task or task_name == task) and (not phase_filter or row["phase"] == phase_filter):
            rows.append(row)
    shown, paging = paginate(rows, page_number(page))
    data = {"models": shown, "paging": paging.as_dict(lambda n: links.models(q=q, task=task, phase=phase_filter, page=n)),
            "filter": {"q": q, "task": task, "phase": phase_filter},
            "tasks": sorted(t for t in tasks if t), "phases": ["Pending", "Ready", "Failed"]}
    return Page("models.html", "Models", data)


def version_row(namespace: str, body: dict[str, Any], node: lineage.Node, evaluations: list[dict[str, Any]]) -> dict[str, Any]:
    """A version as its model's table shows it: format, hardware, size, speed-up, the key
    metrics and gate verdict of its latest evaluation, age."""
    name = body["metadata"]["name"]
    last = latest(evaluations)
    results = (lookup(last, ".status.results") or {}) if last else {}
    created = lookup(body, ".metadata.creationTimestamp")
    return {
        "name": name, "href": links.version(namespace, name), "version": node.version, "format": node.format,
        "hardware": node.hardware or lookup(body, ".status.hardware"), "phase": node.phase,
        "message": message(body), "sizeBytes": node.size_bytes, "size": size(node.size_bytes),
        "digest": short_digest(node.digest), "parent": node.parent,
        "speedup": node.speedup, "speed": speed_phrase(node.speedup) if node.speedup else "",
        "metrics": {k: results[k] for k in ("accuracy", "f1", "latencyP95Ms") if k in results},
        "evaluation": None if last is None else {"name": last["metadata"]["name"], "verdict": verdict(last),
                                                 "href": links.evaluation(namespace, last["metadata"]["name"])},
        "created": created, "age": age(created),
    }


def ordered_versions(versions: list[dict[str, Any]], nodes: dict[str, lineage.Node]) -> list[dict[str, Any]]:
    """Newest semver first; within one release the source before the variants converted from it."""
    ordered = sorted(versions, key=lambda v: (nodes[v["metadata"]["name"]].parent is not None, v["metadata"]["name"]))
    ordered.sort(key=lambda v: semver_key(nodes[v["metadata"]["name"]].version), reverse=True)
    return ordered


def model_nodes(snap: Snapshot, namespace: str, model: str, versions: list[dict[str, Any]],
                evaluations: dict[tuple[str, str], list[dict[str, Any]]]) -> dict[str, lineage.Node]:
    """The lineage view's nodes of the model's versions (what `modelyard lineage` draws)."""
    mine_evals = [e for v in versions for e in evaluations.get((namespace, v["metadata"]["name"]), [])]
    return lineage.build(model, versions, snap.in_namespace("ConversionJob", namespace), mine_evals)


def _version_matches(node: lineage.Node, wanted: str) -> bool:
    return any(wanted in str(text or "").lower() for text in (node.name, node.version, node.format, node.hardware, node.phase))


def model_page(snap: Snapshot, namespace: str, name: str, page: str | None = None, q: str = "") -> Page:
    model = snap.get("Model", namespace, name)
    versions, evaluations = group(snap)
    mine = versions.get((namespace, name), [])
    nodes = model_nodes(snap, namespace, name, mine, evaluations)
    ordered = ordered_versions(mine, nodes)
    if q:
        ordered = [v for v in ordered if _version_matches(nodes[v["metadata"]["name"]], q.lower())]
    shown, paging = paginate(ordered, page_number(page))
    rows = [version_row(namespace, v, nodes[v["metadata"]["name"]], evaluations.get((namespace, v["metadata"]["name"]), []))
            for v in shown]
    info = meta(model)
    info.update(displayName=lookup(model, ".spec.displayName"), task=lookup(model, ".spec.task"),
                description=lookup(model, ".spec.description"), owner=lookup(model, ".spec.owner"),
                retention=lookup(model, ".spec.retention"), phase=phase(model), message=message(model),
                latestReady=_latest_ready(model, mine))
    inline = len(nodes) <= LINEAGE_INLINE
    data = {
        "model": info,
        "deployments": deployment_rows(snap, namespace, name),
        "versions": rows, "paging": paging.as_dict(lambda n: links.model(namespace, name, q=q, page=n)), "filter": {"q": q},
        "compare": links.compare(namespace, name),
        "lineage": {"href": links.lineage(namespace, name), "drawnHere": inline},
    }
    pictures = {"lineage": lineage.svg(name, nodes, _linker(namespace))} if inline else {}
    return Page("model.html", f"Model {name}", data, pictures)


def deployment_rows(snap: Snapshot, namespace: str, model: str) -> list[dict[str, Any]]:
    """The model's ModelDeployments: what each serves, where, and whether its live endpoint
    reproduced the outputs recorded at conversion."""
    rows = []
    for body in snap.in_namespace("ModelDeployment", namespace):
        if lookup(body, ".spec.modelRef.name") != model:
            continue
        name = body["metadata"]["name"]
        variant = lookup(body, ".status.serving.variant")
        rows.append({
            "name": name, "href": links.obj("ModelDeployment", namespace, name), "phase": phase(body),
            "message": message(body), "hardware": lookup(body, ".spec.hardware"), "backend": lookup(body, ".status.backend"),
            "variant": variant, "variantHref": links.version(namespace, variant) if variant else None,
            "format": lookup(body, ".status.serving.format"), "url": lookup(body, ".status.url"),
            "canary": lookup(body, ".status.canary.variant"), "parity": lookup(body, ".status.parity.passed"),
            "parityMessage": lookup(body, ".status.parity.message"),
            "rejected": lookup(body, ".status.rejected.variant"),
        })
    return sorted(rows, key=lambda r: r["name"])


def lineage_page(snap: Snapshot, namespace: str, name: str) -> Page:
    """The lineage picture alone, for a model of any size (each box links to its page)."""
    snap.get("Model", namespace, name)
    versions, evaluations = group(snap)
    nodes = model_nodes(snap, namespace, name, versions.get((namespace, name), []), evaluations)
    tree = lineage.text_tree(name, nodes)
    data = {"model": {"namespace": namespace, "name": name, "href": links.model(namespace, name)},
            "tree": tree, "mermaid": lineage.mermaid(name, nodes), "versions": len(nodes)}
    return Page("lineage.html", f"Lineage of {name}", data, {"lineage": lineage.svg(name, nodes, _linker(namespace))})


def _linker(namespace: str) -> lineage.Link:
    def link(kind: str, name: str) -> str:
        return links.obj(kind, namespace, name)

    return link

