"""Periodic resync: objects that are still waiting are reconciled again every interval.

One loop for all objects instead of a Kopf timer per object: timers make Kopf put a finalizer
on every object (an extra write each), and a loop costs one list call per kind and namespace.
"""

from __future__ import annotations

import asyncio
import logging

from modelyard.handlers.reconcile import Context
from modelyard.handlers.register import RECONCILERS, TERMINAL

log = logging.getLogger("modelyard.resync")
WAITING_KINDS = ("ModelVersion", "ConversionJob", "EvaluationJob")


def resync_once(ctx: Context, namespace: str) -> int:
    """Reconcile every non-terminal object of `namespace`; returns how many."""
    count = 0
    for kind in WAITING_KINDS:
        for obj in ctx.kube.list(kind, namespace):
            if obj.status is None or obj.status.phase not in TERMINAL:
                RECONCILERS[kind](ctx, obj)
                count += 1
    return count


async def resync_forever(ctx: Context, namespaces: list[str], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=ctx.settings.resync_seconds)
            return
        except asyncio.TimeoutError:
            pass
        for namespace in namespaces or await asyncio.to_thread(ctx.kube.namespaces):
            try:
                await asyncio.to_thread(resync_once, ctx, namespace)
            except Exception:  # noqa: BLE001 - the next round retries; never kill the loop
                log.exception("resync of namespace %s failed", namespace)
