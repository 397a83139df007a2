"""A live server's error rate, read from its own Prometheus counters (`/metrics`): requests that
failed on the server's side (`error`, `unavailable`) over all requests. A client's bad request
(`invalid`) is not the server's failure and is not counted against it."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from prometheus_client.parser import text_string_to_metric_families

FAILED = ("error", "unavailable")
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ErrorRate:
    url: str
    requests: float
    failed: float

    @property
    def rate(self) -> float:
        return self.failed / self.requests if self.requests else 0.0


def read_error_rate(url: str) -> ErrorRate:
    reply = requests.get(url, timeout=TIMEOUT_S)
    reply.raise_for_status()
    total = failed = 0.0
    for family in text_string_to_metric_families(reply.text):
        if family.name != "modelyard_serve_requests":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            total += sample.value
            if sample.labels.get("outcome") in FAILED:
                failed += sample.value
    return ErrorRate(url, total, failed)


def judge(rates: list[ErrorRate], limit: float) -> str | None:
    """Why the servers fail the limit (a fraction), or None."""
    over = [r for r in rates if r.rate > limit]
    if not over:
        return None
    return "; ".join(f"{r.failed:.0f} of {r.requests:.0f} requests failed ({r.rate:.1%}, limit {limit:.1%}) at {r.url}"
                     for r in over)
