"""Periodic resync: objects that are still waiting are reconciled again every interval.

One loop for all objects instead of a Kopf timer per object: timers make Kopf put a finalizer
on every object (an extra write each), and a loop costs one list call per kind and namespace.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from modelyard.handlers.reconcile import Context, read, reconcile_model_with
from modelyard.handlers.reconcile import RECONCILERS, TERMINAL

log = logging.getLogger("modelyard.resync")
WAITING_KINDS = ("TrainingJob", "ModelVersion", "ConversionJob", "EvaluationJob")


def resync_once(ctx: Context, namespace: str) -> int:
    """Reconcile every non-terminal object of `namespace`, and its Models; returns how many."""
    count = 0
    models = ctx.kube.list("Model", namespace)
    _forget_unlisted(ctx, "Model", namespace, {model.name for model in models})
    for model in models:
        ctx.dirty_models.add((namespace, model.name))
    for kind in WAITING_KINDS:
        # Page by page, keeping only the names and the objects still waiting: settled ones
        # (nearly all, in a namespace of thousands) are not held while the others reconcile.
        names: set[str] = set()
        waiting: list[Any] = []
        for page in ctx.kube.pages(kind, namespace):
            names.update(obj.name for obj in page)
            waiting += [obj for obj in page if obj.status is None or obj.status.phase not in TERMINAL]
        _forget_unlisted(ctx, kind, namespace, names)
        for obj in waiting:
            # Listed just now, and its Job read from the API too: the safety net for
            # whatever the watches missed (a deletion while one was down leaves no event).
            RECONCILERS[kind](ctx, obj, fresh=True)
            count += 1
    return count


def _forget_unlisted(ctx: Context, kind: str, namespace: str, names: set[str]) -> None:
    """Objects deleted while a watch was down left no DELETED event: the list says they are
    gone. (One created since the list was taken comes back with its next event.)"""
    ctx.seen.keep_only(kind, namespace, names)


MODEL_BATCH_SECONDS = 1.0


def refresh_models(ctx: Context) -> int:
    """Recompute the status of every Model whose versions changed, from the versions as the
    watch delivered them (each version event marks its Model dirty again, so the status
    follows them; the resync marks every Model dirty, so it catches up with any it missed)."""
    dirty, ctx.dirty_models = ctx.dirty_models, set()
    for namespace, name in sorted(dirty):
        model = read(ctx, "Model", namespace, name)
        if model is not None:
            reconcile_model_with(ctx, model, ctx.seen.version_facts(namespace))
    return len(dirty)


async def refresh_models_forever(ctx: Context, stop: asyncio.Event) -> None:
    """Model status follows its versions within a fraction of a second, however many change:
    changes are coalesced instead of listing every version on every version event."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=MODEL_BATCH_SECONDS)
        except asyncio.TimeoutError:
            pass
        if ctx.dirty_models:
            try:
                await asyncio.to_thread(refresh_models, ctx)
            except Exception:  # noqa: BLE001 - retried on the next change or resync
                log.exception("refreshing model status failed")


async def resync_forever(ctx: Context, namespaces: list[str], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=ctx.settings.resync_seconds)
            return
        except asyncio.TimeoutError:
            pass
        try:
            listed = namespaces or await asyncio.to_thread(ctx.kube.namespaces)
        except Exception:  # noqa: BLE001 - e.g. the API server restarting: found on the real one,
            # where this raised outside any try and ended the resync for the operator's life
            log.exception("listing namespaces for the resync failed")
            continue
        for namespace in listed:
            try:
                await asyncio.to_thread(resync_once, ctx, namespace)
            except Exception:  # noqa: BLE001 - the next round retries; never kill the loop
                log.exception("resync of namespace %s failed", namespace)
