"""The envelope every kind shares: apiVersion, kind, metadata, spec, status, and CRD facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field

from modelyard.api.base import ApiModel
from modelyard.api.common import ObjectName


class ObjectMeta(ApiModel):
    """The parts of Kubernetes object metadata that Modelyard reads; the rest is kept as is."""

    model_config = ConfigDict(extra="allow", strict=False)

    name: ObjectName
    """Object name, unique per kind and namespace."""
    namespace: Annotated[str, Field(max_length=63)] | None = None
    """Namespace; local mode uses `default` when unset."""
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    finalizers: list[str] | None = None
    owner_references: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class PrinterColumn:
    """One `kubectl get` column."""

    name: str
    json_path: str
    type: str = "string"
    priority: int = 0
    description: str = ""


@dataclass(frozen=True)
class KindInfo:
    """How a kind is named and shown by the API server."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    columns: tuple[PrinterColumn, ...] = field(default=())
    cluster_scoped: bool = False
    """Cluster-scoped (ClusterAlgorithm) rather than namespaced."""

    @property
    def singular(self) -> str:
        return self.kind.lower()


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")
REASON = PrinterColumn("Reason", '.status.conditions[?(@.type=="Ready")].reason',
                       description="Why it is in its phase: waiting for a worker (WorkerPending, Unschedulable, "
                                   "CreateContainerConfigError, ...), the result, or the failure.")
MESSAGE = PrinterColumn("Message", ".status.message", priority=1)


class Resource(ApiModel):
    """Base of the four kinds. Subclasses narrow `kind`, `spec` and `status`."""

    model_config = ConfigDict(strict=False)

    info: ClassVar[KindInfo]

    api_version: str
    kind: str
    metadata: ObjectMeta

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        """The namespace; `default` when unset, and "" for a cluster-scoped kind."""
        if self.info.cluster_scoped:
            return ""
        return self.metadata.namespace or "default"
