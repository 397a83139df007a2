"""Offline validation of Kubernetes manifests against the official schemas (strict)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

from modelyard.api import API_VERSION
from modelyard.api.validation import parse_manifest

KUBERNETES_VERSION = "1.32.0"


def assert_valid(manifest: dict[str, Any]) -> None:
    """Fail with kubernetes-validate's message when `manifest` is not a valid object (our own
    kinds: admitted as the CRDs would)."""
    if manifest.get("apiVersion") == API_VERSION:
        parse_manifest(manifest)
        return
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
