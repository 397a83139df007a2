"""The security settings every Modelyard container runs with."""

from __future__ import annotations

from typing import Any

NON_ROOT_UID = 65532


def restricted_security_context() -> dict[str, Any]:
    """Pod Security Standards 'restricted': non-root, read-only root, no escalation."""
    return {
        "runAsNonRoot": True,
        "runAsUser": NON_ROOT_UID,
        "runAsGroup": NON_ROOT_UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
