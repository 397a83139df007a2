"""The worker's result: a compact JSON for the termination message, the full one in the store.

Kubernetes keeps at most 4096 bytes of a container's termination message, so the compact form
drops detail (file lists first) until it fits; the operator reads the full `result.json` from
the store when it needs more.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

TERMINATION_LIMIT = 4096
_DROP_ORDER = ("files", "inspection", "signature", "lineage", "verification", "benchmark", "metrics")


def finite(value: Any) -> Any:
    """NaN and infinities as null: they are not JSON, and the API server rejects a status with them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def compact(result: dict[str, Any], limit: int = TERMINATION_LIMIT) -> str:
    """The result as JSON of at most `limit` bytes, keeping ok/phase/reason/message/digest."""
    body = json.loads(json.dumps(finite(result), allow_nan=False))
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    for key in _DROP_ORDER:
        if len(text.encode()) <= limit:
            return text
        body.pop(key, None)
        if isinstance(body.get("artifact"), dict):
            body["artifact"].pop(key, None)
        body["truncated"] = True
        text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    while len(text.encode()) > limit and body.get("message"):
        body["message"] = body["message"][: max(0, len(body["message"]) // 2)] + "…"
        text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    return text


def write_termination_message(path: Path | None, result: dict[str, Any]) -> None:
    """Write the compact result where Kubernetes reads the termination message."""
    if path is None:
        return
    try:
        path.write_text(compact(result))
    except OSError:
        # Outside a pod (local mode, tests) the path may not exist; the result is printed too.
        pass
