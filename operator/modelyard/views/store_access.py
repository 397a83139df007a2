"""What `modelyard report` needs to reach the store from a user's shell, and what it says when
it cannot.

A worker is handed the store's settings and credentials by the operator (environment from the
chart, a Secret in its namespace). A user's shell has neither, so the CLI takes each from the
most specific place that has it:

- settings: the shell's `MODELYARD_S3_*` variables, over the Model's `spec.storage`, over the
  chart's store ConfigMap (`<release>-store`), over the defaults;
- credentials: the shell's (boto3's own chain: `AWS_*` variables, profiles, SSO), else the store
  Secret (the Model's `secretRef`, else the chart's `store.secretName`) in the object's
  namespace, then in the release namespace.

This module is the pure part: the layering and the messages. `views/cluster_store.py` reads the
cluster.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from modelyard.storage.config import S3Settings

ENV_PREFIX = "MODELYARD_S3_"
SHELL = "your shell"

# A path inside the operator's pod (where the chart mounts the CA), meaningless in a shell.
_OPERATOR_ONLY = {"ca_bundle"}
_SHOWN = (("endpoint", "endpoint"), ("addressing_style", "addressing style"), ("region", "region"))


class StoreSettingsError(ValueError):
    """A store setting that does not parse; the message names the variable and its source."""


@dataclass(frozen=True)
class StoreAccess:
    """How the CLI reaches the store, and where each part came from (for its messages)."""

    settings: S3Settings
    session: Any = None
    """A boto3 Session holding a Secret's keys; None: boto3's chain (the shell's credentials)."""
    sources: dict[str, str] = field(default_factory=dict)
    """Setting -> where it came from (`your shell`, `ConfigMap NS/NAME`, `Model NAME`)."""
    credentials: str | None = None
    """Where the credentials came from; None when none were found."""
    looked: tuple[str, ...] = ()
    """What was looked at and could not be used, e.g. `ConfigMap modelyard-system/...: forbidden`."""


def layered_settings(
    chart: Mapping[str, str] | None,
    chart_source: str,
    storage: Mapping[str, Any] | None,
    storage_source: str,
    environ: Mapping[str, str],
) -> tuple[S3Settings, dict[str, str]]:
    """S3 settings from the chart's ConfigMap data, the Model's `spec.storage` and the shell's
    environment (in rising order of precedence), with where each set field came from."""
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    layers = [
        (_prefixed(chart or {}, skip=_OPERATOR_ONLY), chart_source),
        ({k: str(v) for k, v in (storage or {}).items() if k in ("endpoint", "region") and v}, storage_source),
        (_prefixed(environ), SHELL),
    ]
    for layer, source in layers:
        values.update(layer)
        sources.update(dict.fromkeys(layer, source))
    try:
        return S3Settings(**values), sources
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        raise StoreSettingsError(
            f"{ENV_PREFIX}{name.upper()} from {sources.get(name, 'the defaults')}: {first['msg']}"
        ) from None


def _prefixed(variables: Mapping[str, str], skip: Collection[str] = ()) -> dict[str, str]:
    fields = {
        key.removeprefix(ENV_PREFIX).lower(): value
        for key, value in variables.items()
        if key.startswith(ENV_PREFIX) and value != ""
    }
    return {k: v for k, v in fields.items() if k in S3Settings.model_fields and k not in skip}


def describe(access: StoreAccess) -> str:
    """The settings in use and their sources: `endpoint http://... (ConfigMap ...), ...`."""
    parts = []
    for name, label in _SHOWN:
        value = getattr(access.settings, name)
        source = access.sources.get(name)
        shown = value or {"endpoint": "AWS's", "region": "boto3's default"}.get(name, "default")
        parts.append(f"{label} {shown}" + (f" (from {source})" if source else ""))
    return ", ".join(parts)


_CREDENTIAL_REASONS = {"NoCredentials", "InvalidCredentials", "AccessDenied"}
_REACH_REASONS = {"EndpointUnreachable", "Timeout", "TLSError", "NoSuchBucket", "StoreError"}


def explain(error: Any, access: StoreAccess) -> str:
    """A store error as the CLI's user can act on it: what was used, from where, and what to
    set in the shell. (The error's own advice is for a worker: a Secret, the workload identity.)"""
    reason = getattr(error, "reason", "StoreError")
    detail = getattr(error, "detail", None) or str(error)
    if reason not in _CREDENTIAL_REASONS | _REACH_REASONS:
        return detail
    lines = [detail, f"store settings: {describe(access)}"]
    if reason in _CREDENTIAL_REASONS:
        lines.append(f"credentials: from {access.credentials}" if access.credentials else f"credentials: none in {SHELL}")
    lines += [f"not used: {what}" for what in access.looked]
    lines.append(f"from {SHELL}, set what differs: " + ", ".join(_wanted(reason, access)))
    return "\n  ".join(lines)


def _wanted(reason: str, access: StoreAccess) -> list[str]:
    wanted = []
    if reason not in _CREDENTIAL_REASONS or access.settings.endpoint is None:
        wanted += [f"{ENV_PREFIX}ENDPOINT (the store's URL as your machine reaches it)",
                   f"{ENV_PREFIX}ADDRESSING_STYLE=path (MinIO, Ceph RGW)", f"{ENV_PREFIX}REGION"]
    if reason == "TLSError":
        wanted.append(f"{ENV_PREFIX}CA_BUNDLE (the store's CA, PEM)")
    if reason in _CREDENTIAL_REASONS:
        wanted.append("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)")
    if not any(source.startswith("ConfigMap") for source in access.sources.values()):
        wanted.append("or --store-namespace: where the chart is installed, to read its store settings")
    return wanted
