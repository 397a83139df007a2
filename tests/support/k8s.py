"""Offline validation of Kubernetes manifests against the official schemas (strict)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

KUBERNETES_VERSION = "1.32.0"


def assert_valid(manifest: dict[str, Any]) -> None:
    """Fail with kubernetes-validate's message when `manifest` is not a valid object."""
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
