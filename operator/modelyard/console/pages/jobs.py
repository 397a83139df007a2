"""Work in flight and what failed, with the condition messages that say why; and the generic
page of any Modelyard object (conditions, spec and status) for kinds without a page of their own."""

from __future__ import annotations

from typing import Any

from modelyard.api import KINDS
from modelyard.console import links
from modelyard.console.pages.common import Page, conditions, message, meta, page_number, paginate, phase, reason
from modelyard.console.reading import NotFound, Snapshot
from modelyard.views.table import age, lookup

WATCHED = {
    "TrainingJob": ("Pending", "Running", "Suspended"),
    "ModelVersion": ("Pending", "Importing"),
    "ConversionJob": ("Pending", "Running"),
    "EvaluationJob": ("Pending", "Running"),
    "ModelDeployment": ("Pending", "Deploying", "Verifying", "Canary"),
}
"""Kinds whose work runs in Jobs, and the phases in which it is still on its way."""


def _progress(body: dict[str, Any]) -> str:
    progress = lookup(body, ".status.progress")
    if isinstance(progress, dict):
        parts = []
        if progress.get("step") is not None:
            parts.append(f"step {progress['step']}" + (f"/{progress['total']}" if progress.get("total") else ""))
        if progress.get("percent") is not None:
            parts.append(f"{progress['percent']:.0f}%")
        if progress.get("message"):
            parts.append(str(progress["message"]))
        return ", ".join(parts)
    return str(progress or "")


def _why(body: dict[str, Any]) -> list[str]:
    """Every message that explains a failure: the failure record, then each condition's."""
    out = []
    failure = lookup(body, ".status.failure")
    if isinstance(failure, dict) and failure.get("message"):
        out.append(f"{failure.get('reason')}: {failure['message']}")
    for condition in lookup(body, ".status.conditions") or []:
        if isinstance(condition, dict) and condition.get("message") and (
                condition.get("type") == "Stalled" and condition.get("status") == "True"
                or condition.get("type") in ("Ready", "Complete") and condition.get("status") == "False"):
            out.append(f"{condition.get('type')}/{condition.get('reason')}: {condition['message']}")
    if not out and message(body):
        out.append(message(body))
    return list(dict.fromkeys(out))


def _failed(body: dict[str, Any]) -> bool:
    stalled = lookup(body, '.status.conditions[?(@.type=="Stalled")].status') == "True"
    return phase(body) == "Failed" or stalled or lookup(body, ".status.passed") is False


def _row(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    namespace, name = body["metadata"].get("namespace") or "", body["metadata"]["name"]
    started = lookup(body, ".status.startTime") or lookup(body, ".metadata.creationTimestamp")
    return {"kind": kind, "namespace": namespace, "name": name, "href": links.obj(kind, namespace, name),
            "phase": phase(body), "reason": reason(body), "message": message(body), "progress": _progress(body),
            "gatesFailed": lookup(body, ".status.passed") is False,
            "since": started, "age": age(started), "why": _why(body),
            "when": lookup(body, ".status.completionTime") or lookup(body, ".metadata.creationTimestamp") or ""}


def jobs_page(snap: Snapshot, page: str | None = None) -> Page:
    in_flight, failed = [], []
    for kind, phases in WATCHED.items():
        for body in snap.bodies(kind):
            if _failed(body):
                failed.append(_row(kind, body))
            elif phase(body) in phases:
                in_flight.append(_row(kind, body))
    in_flight.sort(key=lambda r: (r["since"] or "", r["kind"], r["name"]))
    failed.sort(key=lambda r: (r["when"], r["name"]), reverse=True)
    shown, paging = paginate(failed, page_number(page))
    data = {"inFlight": in_flight, "failed": shown, "paging": paging.as_dict(lambda n: f"{links.jobs()}?page={n}")}
    return Page("jobs.html", "Jobs in flight and failures", data)


def object_page(snap: Snapshot, kind: str, namespace: str, name: str) -> Page:
    if kind not in KINDS:
        raise NotFound("kind", kind)
    body = snap.get(kind, namespace, name)
    data = {"object": {**meta(body), "phase": lookup(body, ".status.phase"), "reason": reason(body), "message": message(body),
                       "conditions": conditions(body)},
            "spec": body.get("spec") or {}, "status": body.get("status") or {}}
    return Page("object.html", f"{kind} {name}", data)
