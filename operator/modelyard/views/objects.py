"""Where the CLI reads objects from: local mode's state or a cluster (kubeconfig)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from modelyard.api import GROUP, KINDS, VERSION


class ObjectSource(Protocol):
    def bodies(self, kind: str, namespace: str | None = None) -> Any:
        """Every object of `kind` (one namespace, or all when None), as stored."""


class UnknownKind(ValueError):
    pass


def resolve_kind(text: str) -> str:
    """`modelversions`, `mv`, `ModelVersion`, `modelversion` -> `ModelVersion`, as kubectl does."""
    wanted = text.lower()
    for kind, cls in KINDS.items():
        info = cls.info
        if wanted in (kind.lower(), info.plural, *info.short_names) or wanted == f"{info.plural}.{GROUP}":
            return kind
    names = ", ".join(f"{k} ({KINDS[k].info.plural}, {'/'.join(KINDS[k].info.short_names)})" for k in KINDS)
    raise UnknownKind(f"unknown kind {text!r}; expected one of {names}")


class ClusterSource:
    """Objects from the cluster of the current kubeconfig context."""

    def __init__(self, api_client: Any = None, request_timeout: Any = None):
        """`request_timeout`: the client's `_request_timeout` of each list call (seconds, or
        (connect, read)); none when unset, as kubectl's default."""
        from kubernetes import client, config

        self.request_timeout = request_timeout
        if api_client is None:
            try:
                config.load_kube_config()
            except config.ConfigException:
                config.load_incluster_config()
            api_client = client.ApiClient()
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        """ConfigMaps and Secrets of the store, for `report` (views/cluster_store.py)."""

    def bodies(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        plural = KINDS[kind].info.plural
        options = {"_request_timeout": self.request_timeout} if self.request_timeout else {}
        if namespace:
            reply = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural, **options)
        else:
            reply = self.custom.list_cluster_custom_object(GROUP, VERSION, plural, **options)
        items = reply.get("items", [])
        for item in items:
            item.setdefault("apiVersion", f"{GROUP}/{VERSION}")
            item.setdefault("kind", kind)
        return sorted(items, key=lambda b: (b["metadata"].get("namespace", ""), b["metadata"]["name"]))


def current_namespace() -> str:
    """The kubeconfig context's namespace, as kubectl uses it (else `default`)."""
    try:
        from kubernetes import config

        _, active = config.list_kube_config_contexts()
        return (active or {}).get("context", {}).get("namespace") or "default"
    except Exception:  # noqa: BLE001 - no kubeconfig: the default namespace
        return "default"


def local_source(home: Path) -> Any:
    from modelyard.local.state import LocalCluster

    return LocalCluster(home.resolve() / "state")
