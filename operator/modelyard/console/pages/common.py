"""What every page family shares: a page's data and pictures, paging, and how an object's state
reads (an object whose status is not written yet reads as Pending)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from modelyard.core.semver import SemVer
from modelyard.views.table import age, lookup

PER_PAGE = 100
"""Rows of a long list on one page (a model with thousands of versions lists in pages)."""


@dataclass
class Page:
    """A page's view-model: `data` is also its JSON twin; `pictures` are SVG drawn from it for
    the HTML page only (already escaped by the code that drew them)."""

    template: str
    title: str
    data: dict[str, Any]
    pictures: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Paging:
    page: int
    pages: int
    total: int
    per_page: int

    def as_dict(self, href: Callable[[int], str]) -> dict[str, Any]:
        """With the links to the previous and next page (`href(page)`)."""
        return {"page": self.page, "pages": self.pages, "total": self.total, "perPage": self.per_page,
                "previous": href(self.page - 1) if self.page > 1 else None,
                "next": href(self.page + 1) if self.page < self.pages else None}


def paginate(items: list[Any], page: int, per_page: int = PER_PAGE) -> tuple[list[Any], Paging]:
    """One page of `items` (1-based; a page past the end shows the last one)."""
    pages = max(1, math.ceil(len(items) / per_page))
    page = min(max(1, page), pages)
    return items[(page - 1) * per_page: page * per_page], Paging(page, pages, len(items), per_page)


def phase(body: dict[str, Any] | None) -> str:
    """The object's phase; Pending until the operator has written one."""
    return (lookup(body, ".status.phase") if body else None) or "Pending"


def message(body: dict[str, Any]) -> str:
    """The one-line state: status.message, else the Ready/Complete condition's message."""
    text = lookup(body, ".status.message")
    if text:
        return str(text)
    for kind in ("Ready", "Complete", "Stalled"):
        text = lookup(body, f'.status.conditions[?(@.type=="{kind}")].message')
        if text:
            return str(text)
    return ""


def conditions(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": c.get("type"), "status": c.get("status"), "reason": c.get("reason"), "message": c.get("message"),
             "lastTransitionTime": c.get("lastTransitionTime"), "age": age(c.get("lastTransitionTime"))}
            for c in lookup(body, ".status.conditions") or [] if isinstance(c, dict)]


def reason(body: dict[str, Any]) -> str:
    for kind in ("Stalled", "Ready", "Complete"):
        text = lookup(body, f'.status.conditions[?(@.type=="{kind}")].reason')
        if text:
            return str(text)
    return ""


def meta(body: dict[str, Any]) -> dict[str, Any]:
    """Name, namespace, labels, annotations and age: what every object page shows first."""
    metadata = body.get("metadata") or {}
    return {"kind": body.get("kind"), "namespace": metadata.get("namespace") or "", "name": metadata.get("name"),
            "labels": dict(metadata.get("labels") or {}), "annotations": dict(metadata.get("annotations") or {}),
            "created": metadata.get("creationTimestamp"), "age": age(metadata.get("creationTimestamp")),
            "deleting": bool(metadata.get("deletionTimestamp"))}


def verdict(evaluation: dict[str, Any] | None) -> str | None:
    """passed, failed, or the evaluation's phase while it has no verdict; None: no evaluation."""
    if evaluation is None:
        return None
    passed = lookup(evaluation, ".status.passed")
    return {True: "passed", False: "failed"}.get(passed, phase(evaluation).lower())


def activity(body: dict[str, Any]) -> str:
    """The object's last change that its body shows (created, started, completed, a condition)."""
    times = [lookup(body, ".metadata.creationTimestamp"), lookup(body, ".status.startTime"),
             lookup(body, ".status.completionTime")]
    times += [c.get("lastTransitionTime") for c in lookup(body, ".status.conditions") or [] if isinstance(c, dict)]
    return max((_utc(t) for t in times if isinstance(t, str) and t), default="")


def _utc(timestamp: str) -> str:
    """Comparable as text: second precision, Z (the operator writes both forms)."""
    return timestamp[:19] + "Z"


def latest(bodies: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The most recently created (then last by name)."""
    return max(bodies, key=lambda b: (lookup(b, ".metadata.creationTimestamp") or "", b["metadata"]["name"]), default=None)


def semver_key(text: str | None) -> tuple[int, Any]:
    """Sorts by semantic version; a version that does not parse sorts first, by its text."""
    try:
        return (1, SemVer(text or ""))
    except (ValueError, TypeError):
        return (0, text or "")


def size(n: Any) -> str:
    """Bytes as people read them: 812 B, 35.5 KiB, 1.2 GiB."""
    if not isinstance(n, (int, float)) or isinstance(n, bool):
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def number(value: Any) -> str:
    """A figure in four significant digits; booleans as passed/failed; None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "passed" if value else "failed"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def short_digest(digest: str | None) -> str:
    return (digest or "").removeprefix("sha256:")[:12]


def page_number(text: str | None) -> int:
    try:
        return max(1, int(text or 1))
    except ValueError:
        return 1
