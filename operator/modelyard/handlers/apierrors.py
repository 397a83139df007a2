"""The API server's errors, recognised without importing the kubernetes client: local mode
reconciles through the same functions (handlers/apply.py) and never loads the client, whose
import was half a second of every local command on two cores."""

from __future__ import annotations

import json
import sys
from typing import Any


class ForeignChild(Exception):
    """A child of our deterministic name exists but belongs to another owner: typically an
    earlier object of the same name, deleted and re-applied, whose Job the garbage collector
    has not removed yet. Adopting it would report the old object's result as ours."""


def api_error(error: BaseException) -> bool:
    """Whether `error` is the kubernetes client's ApiException (none can have been raised
    when the client was never imported)."""
    rest = sys.modules.get("kubernetes.client.rest")
    return rest is not None and isinstance(error, rest.ApiException)


def rejection(error: Any) -> str | None:
    """The API server's message when it refused a write for good (a 4xx a retry cannot fix:
    invalid, forbidden, too large), else None (conflicts, throttling and 5xx are retried)."""
    if error.status is None or not 400 <= error.status < 500 or error.status in (404, 408, 409, 429):
        return None
    try:
        status = json.loads(error.body)
    except (TypeError, ValueError):
        return f"{error.status} {error.reason}"
    causes = (status.get("details") or {}).get("causes") or []
    details = "; ".join(f"{c['field']}: {c['message']}" if c.get("field") else c.get("message", "") for c in causes)
    return details or status.get("message") or f"{error.status} {error.reason}"
