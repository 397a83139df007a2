"""The cluster's side of `modelyard report`'s store access: the chart's store ConfigMap, the
store Secret and the CA ConfigMap, each read only where the user's kubeconfig may read it.

Secret values go into a boto3 Session and nowhere else: never printed, logged or written.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.views.store_access import SHELL, StoreAccess, layered_settings

RELEASE_NAMESPACE = "modelyard-system"
"""Where the README installs the chart; `--store-namespace` or MODELYARD_STORE_NAMESPACE else."""
NAMESPACE_VARIABLE = "MODELYARD_STORE_NAMESPACE"
SETTINGS_LABEL = "modelyard.dev/settings=store"
SETTINGS_NAME = "modelyard-store"
"""The ConfigMap's name for the release `modelyard`; others are found by the label."""
CREDENTIAL_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass
class Found:
    """A ConfigMap's or Secret's data and where it was, or why none could be read."""

    data: dict[str, str] | None = None
    where: str = ""
    namespace: str | None = None
    refused: list[str] = field(default_factory=list)


def _why(error: Exception) -> str:
    status = getattr(error, "status", None)
    return {403: "forbidden to you", 404: "not found"}.get(status, f"{type(error).__name__} {status or ''}".strip())


def find_settings(core: Any, namespace: str | None) -> Found:
    """The chart's store ConfigMap: by its label in `namespace` (the release namespace when
    None, then every namespace the user may list), else by its default name."""
    refused: list[str] = []
    for where in [namespace] if namespace else [RELEASE_NAMESPACE, None]:
        items = _labelled(core, where, refused)
        if items is None and where is not None:
            refused.pop()  # not allowed to list: what counts is whether it may be read by name
            items = _by_name(core, where, refused)
        elif items == []:
            refused.append(f"ConfigMap labelled {SETTINGS_LABEL} in {where or 'any namespace'}: none")
        if items:
            chosen = sorted(items, key=lambda c: (c.metadata.namespace, c.metadata.name))[0]
            return Found(dict(chosen.data or {}), f"ConfigMap {chosen.metadata.namespace}/{chosen.metadata.name}",
                         chosen.metadata.namespace, refused)
    return Found(refused=refused)


def _labelled(core: Any, namespace: str | None, refused: list[str]) -> list[Any] | None:
    try:
        if namespace is None:
            return list(core.list_config_map_for_all_namespaces(label_selector=SETTINGS_LABEL).items)
        return list(core.list_namespaced_config_map(namespace, label_selector=SETTINGS_LABEL).items)
    except Exception as error:  # noqa: BLE001 - any refusal: the next place, or the name
        refused.append(f"ConfigMaps labelled {SETTINGS_LABEL} in {namespace or 'any namespace'}: {_why(error)}")
        return None


def _by_name(core: Any, namespace: str, refused: list[str]) -> list[Any]:
    # Users whom the chart lets read the ConfigMap may `get` it by its name, not list.
    try:
        return [core.read_namespaced_config_map(SETTINGS_NAME, namespace)]
    except Exception as error:  # noqa: BLE001
        refused.append(f"ConfigMap {namespace}/{SETTINGS_NAME}: {_why(error)}")
        return []


def read_secret(core: Any, name: str, namespaces: list[str]) -> Found:
    """The store Secret's credential keys from the first of `namespaces` where it can be read."""
    found = Found()
    for namespace in dict.fromkeys(namespaces):
        try:
            secret = core.read_namespaced_secret(name, namespace)
        except Exception as error:  # noqa: BLE001
            found.refused.append(f"Secret {namespace}/{name}: {_why(error)}")
            continue
        data = {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items() if k in CREDENTIAL_KEYS}
        if data.get("AWS_ACCESS_KEY_ID") and data.get("AWS_SECRET_ACCESS_KEY"):
            return Found(data, f"Secret {namespace}/{name}", namespace, found.refused)
        found.refused.append(f"Secret {namespace}/{name}: holds no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    return found


def read_ca(core: Any, name: str, key: str, namespaces: list[str]) -> Found:
    """The store's CA bundle (PEM) from the chart's CA ConfigMap, as the workers mount it."""
    found = Found()
    for namespace in dict.fromkeys(namespaces):
        try:
            data = core.read_namespaced_config_map(name, namespace).data or {}
        except Exception as error:  # noqa: BLE001
            found.refused.append(f"ConfigMap {namespace}/{name}: {_why(error)}")
            continue
        if key in data:
            return Found({key: data[key]}, f"ConfigMap {namespace}/{name}", namespace, found.refused)
        found.refused.append(f"ConfigMap {namespace}/{name}: no key {key}")
    return found


def shell_has_credentials() -> bool:
    """Whether boto3's chain finds credentials in the user's environment (variables, profiles,
    SSO, an instance role), as it would for `aws s3`."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.session.Session().get_credentials() is not None
    except BotoCoreError:
        return False  # e.g. AWS_PROFILE names no profile: the message says what to set


def store_access(
    core: Any,
    namespace: str,
    storage: Mapping[str, Any] | None,
    model: str | None,
    store_namespace: str | None,
    scratch: Path,
    environ: Mapping[str, str] = os.environ,
) -> StoreAccess:
    """Settings and credentials for reading a store from the shell, as the module says;
    `scratch` is a folder of the caller's for the CA bundle (boto3 takes it as a file)."""
    import boto3

    chart = find_settings(core, store_namespace)
    chart_data = chart.data or {}
    settings, sources = layered_settings(chart_data, chart.where, storage, f"Model {model}", environ)
    looked = list(chart.refused) if chart.data is None else []
    places = [namespace, chart.namespace or store_namespace or RELEASE_NAMESPACE]
    ca_map = chart_data.get("MODELYARD_STORE_CA_CONFIGMAP")
    if ca_map and settings.ca_bundle is None:
        key = chart_data.get("MODELYARD_STORE_CA_KEY") or "ca.crt"
        ca = read_ca(core, ca_map, key, places)
        if ca.data is not None:
            bundle = scratch / "store-ca.pem"
            bundle.write_text(ca.data[key])
            settings = settings.model_copy(update={"ca_bundle": str(bundle)})
            sources["ca_bundle"] = ca.where
        else:
            looked += ca.refused
    if shell_has_credentials():
        return StoreAccess(settings, None, sources, SHELL, tuple(looked))
    secret_name = ((storage or {}).get("secretRef") or {}).get("name") or chart_data.get("MODELYARD_STORE_SECRET_NAME")
    if not secret_name:
        looked.append("a store Secret: neither the Model's spec.storage.secretRef nor the chart's store.secretName names one")
        return StoreAccess(settings, None, sources, None, tuple(looked))
    secret = read_secret(core, secret_name, places)
    if secret.data is None:
        return StoreAccess(settings, None, sources, None, tuple(looked + secret.refused))
    session = boto3.session.Session(
        aws_access_key_id=secret.data["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret.data["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=secret.data.get("AWS_SESSION_TOKEN"),
    )
    return StoreAccess(settings, session, sources, secret.where, tuple(looked))

