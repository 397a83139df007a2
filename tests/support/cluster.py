"""The operator running for real (Kopf) against the kmock Kubernetes API emulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

import kmock
import kopf
from kmock._internal import apps
from kubernetes import client

from modelyard.api import GROUP, KINDS, VERSION
from modelyard.config import Settings
from modelyard.main import run_operator
from tests.support.emulator_kubelet import Kubelet

NAMESPACE = "default"


class Emulator(kmock.KubernetesEmulator):
    """kmock's emulator without two costs no API server has, which would otherwise decide how
    fast anything runs against it:

    - it records every request for test assertions and routes each new request by scanning
      that record, so a request costs more the more were served before it (quadratic over a
      run); here a request is forgotten once routed (nothing here asserts on recorded requests),
      so routing scans only the requests not routed yet, not every open watch;
    - it finds the object a request names by comparing the request with every stored object
      (resource objects compared field by field); here only objects of that name are compared;
    - it ignores label selectors, so a list of one Job's pods returns every pod in the
      namespace; here equality selectors (`a=b,c!=d`) and `key` / `!key` filter the list.
    """

    def _forget(self, request: Any) -> None:
        with contextlib.suppress(ValueError):
            self._requests.remove(request)

    async def _serve_fetch(self, request: Any) -> Any:
        self._forget(request)
        return await super()._serve_fetch(request)

    async def _serve_create(self, request: Any) -> Any:
        self._forget(request)
        return await super()._serve_create(request)

    async def _serve_update(self, request: Any) -> Any:
        self._forget(request)
        return await super()._serve_update(request)

    async def _serve_delete(self, request: Any) -> Any:
        self._forget(request)
        return await super()._serve_delete(request)

    async def _serve_watch(self, request: Any) -> AsyncIterator[Any]:
        self._forget(request)
        async for item in super()._serve_watch(request):
            yield item

    async def _serve_list(self, request: Any) -> Any:
        self._forget(request)
        payload = await super()._serve_list(request)
        selector = request.params.get("labelSelector")
        if selector:
            payload["items"] = [o for o in payload["items"] if _selects(selector, (o.get("metadata") or {}).get("labels") or {})]
        return payload

    async def _handle(self, request: Any) -> Any:
        try:
            return await super()._handle(request)
        finally:
            self._forget(request)

    def _KubernetesEmulator__get_objs(self, request: Any, strict: bool) -> list[Any]:
        check = self._KubernetesEmulator__check
        if request.name is not None:
            return [obj for (resource, namespace, name), obj in self._objects.items()
                    if name == request.name and check(request, resource, namespace, name, strict=strict)]
        # A list: whether an object matches depends on its resource and namespace only, and
        # there are few of those; compare each pair once, not each object.
        matches: dict[tuple[Any, Any], bool] = {}
        found = []
        for (resource, namespace, name), obj in self._objects.items():
            ok = matches.get((resource, namespace))
            if ok is None:
                ok = matches[(resource, namespace)] = check(request, resource, namespace, name, strict=strict)
            if ok:
                found.append(obj)
        return found


def declare_resources(emulator: kmock.KubernetesEmulator) -> None:
    emulator.resources.load_bundled()
    for kind, cls in KINDS.items():
        emulator.resources[f"{GROUP}/{VERSION}/{cls.info.plural}"] = kmock.ResourceInfo(
            kind=kind, namespaced=True, singular=cls.info.singular, shortnames=set(cls.info.short_names),
            categories={"modelyard"}, subresources={"status"},
            verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
        )


def _selects(selector: str, labels: dict[str, str]) -> bool:
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term and term not in labels:
            return False
    return True


@dataclass
class Cluster:
    """An emulated API server with the operator (and optionally a kubelet) attached."""

    emulator: kmock.KubernetesEmulator
    api: client.ApiClient

    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    async def apply(self, manifest: dict[str, Any]) -> None:
        """Create an object through the API (off the event loop: the client is synchronous)."""
        plural = KINDS[manifest["kind"]].info.plural
        body = {**manifest, "metadata": {"namespace": NAMESPACE, **manifest["metadata"]}}
        await asyncio.to_thread(self.custom().create_namespaced_custom_object, GROUP, VERSION, NAMESPACE, plural, body)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """The stored object as plain JSON data."""
        key = (f"{GROUP}/{VERSION}/{KINDS[kind].info.plural}", NAMESPACE, name)
        try:
            body = json.loads(json.dumps(self.emulator.objects[key], default=dict))
        except KeyError:
            return None
        return body or None  # a deleted object keeps an empty last version

    def get_job(self, name: str) -> dict[str, Any] | None:
        try:
            body = json.loads(json.dumps(self.emulator.objects["batch/v1/jobs", NAMESPACE, name], default=dict))
        except KeyError:
            return None
        return body or None

    def names(self, plural: str) -> list[str]:
        """Names of the stored objects of a resource (e.g. `jobs`, `modelversions`)."""
        return sorted(key[2] for key in self.emulator.objects.keys() if getattr(key[0], "plural", None) == plural)

    def status(self, kind: str, name: str) -> dict[str, Any]:
        return dict((self.get(kind, name) or {}).get("status") or {})

    async def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
        """Wait until `check()` is truthy (re-checked on every API request), else fail."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = check()
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_cluster(settings: Settings, root: Any, kubelet_env: dict[str, str] | None = None,
                          results: dict[str, dict[str, Any]] | None = None, hold: bool = False,
                          emulator: kmock.KubernetesEmulator | None = None) -> AsyncIterator[Cluster]:
    """The operator and a test kubelet against an emulator (a fresh one unless given, so that
    a test can stop the operator and start another against the same API state)."""
    async with contextlib.AsyncExitStack() as stack:
        if emulator is None:
            emulator = await stack.enter_async_context(Emulator())
            declare_resources(emulator)
        server = await stack.enter_async_context(apps.Server(emulator))
        url = str(server.url).rstrip("/")
        configuration = client.Configuration(host=url)
        api = client.ApiClient(configuration)
        registry = kopf.OperatorRegistry()

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=url, insecure=True)

        Kubelet(api, root, env=kubelet_env or {}, results=results or {}, hold=hold).register(registry)
        kopf_settings = kopf.OperatorSettings()
        kopf_settings.scanning.disabled = True
        # The operator gets its own thread and event loop, as in production; the emulator stays
        # on the test's loop (Kopf waits for tasks spawned on its loop when it stops).
        stop, ready = threading.Event(), threading.Event()
        scoped = settings.model_copy(update={"namespaces": [NAMESPACE]})
        failure: list[BaseException] = []

        def operate() -> None:
            try:
                asyncio.run(run_operator(scoped, api, registry, kopf_settings, stop, ready, liveness=False))
            except BaseException as error:  # noqa: BLE001 - reported to the test below
                failure.append(error)

        thread = threading.Thread(target=operate, name="operator", daemon=True)
        thread.start()
        if not await asyncio.to_thread(ready.wait, 30):
            raise AssertionError(f"the operator did not start: {failure}")
        try:
            yield Cluster(emulator, api)
        finally:
            stop.set()
            await asyncio.to_thread(thread.join, 30)
            if thread.is_alive() or failure:
                raise AssertionError(f"the operator did not stop cleanly: {failure}")
