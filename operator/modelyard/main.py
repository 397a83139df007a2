"""Run the operator: Kopf settings, the API client, the handlers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
from kubernetes import client, config

from modelyard.config import Settings
from modelyard.core.decision import Event
from modelyard.handlers import metrics
from modelyard.handlers.kube import Kube
from modelyard.handlers.reconcile import Context
from modelyard.handlers.recheck import Rechecks
from modelyard.handlers.register import register
from modelyard.handlers.resync import refresh_models_forever, resync_forever
from modelyard.handlers.workqueue import WORKERS
from modelyard.workloads.profiles import load_profiles

PREFIX = "modelyard.dev"
KOPF_WORKERS = 4
"""Kopf's handler threads (the handlers of Algorithms and TrainingTemplates)."""
BACKGROUND_THREADS = 2
"""handlers/resync.py's two loops, each calling the API from `asyncio.to_thread`."""


def configure_kopf(kopf_settings: kopf.OperatorSettings) -> None:
    """Own finalizer and annotation prefix; watches that never hang silently."""
    # Kopf adds its finalizer only for deletion handlers, which Modelyard does not use: deletion is
    # level-triggered too, held by core.deletion.FINALIZER.
    kopf_settings.persistence.finalizer = f"{PREFIX}/kopf-finalizer"
    # The watched resources are fixed (the four kinds) and so are the namespaces (a list, or
    # cluster-wide): no need to observe CRDs and namespaces, nor the RBAC to do so.
    kopf_settings.scanning.disabled = True
    kopf_settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    kopf_settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=PREFIX)
    kopf_settings.posting.level = logging.INFO
    # Without timeouts a watch can stall for hours after a network blip (kopf #585, #955).
    kopf_settings.watching.server_timeout = 300
    kopf_settings.watching.client_timeout = 330
    kopf_settings.watching.connect_timeout = 30
    kopf_settings.networking.request_timeout = 60
    # Reconciles run on the operator's own threads (handlers/workqueue.py); Kopf's run only
    # the handlers of Algorithms and TrainingTemplates.
    kopf_settings.execution.max_workers = KOPF_WORKERS


def build_context(settings: Settings, api_client: client.ApiClient) -> Context:
    kube = Kube(api_client)

    def post(obj: Any, event: Event) -> None:
        kube.post_event(obj, event.type, event.reason, event.message)

    return Context(kube=kube, settings=settings, profiles=load_profiles(settings.profiles_file), post=post)


def api_connections() -> int:
    """Threads that may call the API server at once: the reconcile threads of the work queue,
    Kopf's handler threads, and resync plus the Model refresh (each on `asyncio.to_thread`)."""
    reconcile = WORKERS
    return reconcile + KOPF_WORKERS + BACKGROUND_THREADS


def default_api_client() -> client.ApiClient:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    configuration = client.Configuration.get_default_copy()
    # The client's default pool (5 per CPU the process sees) is smaller than the threads on a
    # small node: each extra connection is opened, used once and dropped, with a urllib3
    # "Connection pool is full" warning each time. One pooled connection per thread instead.
    configuration.connection_pool_maxsize = api_connections()
    return client.ApiClient(configuration)


def default_registry() -> kopf.OperatorRegistry:
    """A registry with Kopf's login through the `kubernetes` client (in-cluster, else kubeconfig):
    a plain OperatorRegistry has no login handler, and the operator could not authenticate."""
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry, id="login_via_client")(kopf.login_via_client)
    return registry


async def run_operator(
    settings: Settings,
    api_client: client.ApiClient | None = None,
    registry: kopf.OperatorRegistry | None = None,
    kopf_settings: kopf.OperatorSettings | None = None,
    stop_flag: Any = None,
    ready_flag: Any = None,
    liveness: bool = True,
) -> None:
    """Run until `stop_flag` (an asyncio/threading Event or a Future, as Kopf accepts) is set."""
    registry = registry or default_registry()
    kopf_settings = kopf_settings or kopf.OperatorSettings()
    configure_kopf(kopf_settings)
    ctx = build_context(settings, api_client or default_api_client())
    work = register(registry, ctx)
    ctx.rechecks = Rechecks(lambda kind, namespace, name: work.add((kind, namespace, name), named=True))
    ctx.rechecks.start()
    work.start()
    resync_stop = asyncio.Event()
    background = [
        asyncio.create_task(resync_forever(ctx, settings.namespaces, resync_stop)),
        asyncio.create_task(refresh_models_forever(ctx, resync_stop)),
    ]
    try:
        await kopf.operator(
            registry=registry,
            settings=kopf_settings,
            standalone=True,
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz" if liveness else None,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    finally:
        resync_stop.set()
        ctx.rechecks.stop()
        work.stop()
        await asyncio.gather(*background, return_exceptions=True)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings()
    metrics.serve(settings.metrics_port)
    asyncio.run(run_operator(settings))
