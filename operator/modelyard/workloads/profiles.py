"""Hardware profiles: where a worker Job runs for each `hardware` value, and with what.

Clusters differ (device-plugin resource names, node labels, taints, images), so profiles come
from the chart's ConfigMap (`profiles.yaml`); a profile missing there uses the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from modelyard import __version__
from modelyard.workloads.quantity import parse_quantity
from modelyard.workloads.resources import merge_resources

HARDWARE = ("cpu", "gpu", "arm", "ascend")


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Toleration(_Camel):
    key: str
    operator: Literal["Exists", "Equal"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class Accelerator(_Camel):
    """The extended resource a device plugin advertises."""

    resource: str
    """e.g. `nvidia.com/gpu`, `huawei.com/Ascend910`, `huawei.com/Ascend310P`."""
    count: int = Field(default=1, ge=1)


class HardwareProfile(_Camel):
    """How to run a worker on one kind of hardware."""

    image: str
    """Worker image (it must contain the tools this hardware's conversions need)."""
    node_selector: dict[str, str] = {}
    tolerations: list[Toleration] = []
    accelerator: Accelerator | None = None
    requests: dict[str, str] = {}
    """Default resource requests of the worker container."""
    limits: dict[str, str] = {}
    """Default resource limits of the worker container."""
    env: dict[str, str] = {}
    """Extra environment (e.g. ASCEND_* variables)."""
    runtime_class_name: str | None = None

    @field_validator("requests", "limits")
    @classmethod
    def _quantities(cls, values: dict[str, str]) -> dict[str, str]:
        # Refused at load (naming the profile) rather than when a Job is built from it.
        for value in values.values():
            parse_quantity(value)
        return values

    def placement(self) -> dict[str, Any]:
        """The pod-spec fields that put a pod on this hardware's nodes: node selector,
        tolerations, runtime class (only those the profile sets)."""
        found: dict[str, Any] = {}
        if self.node_selector:
            found["nodeSelector"] = dict(self.node_selector)
        if self.tolerations:
            found["tolerations"] = [t.model_dump(by_alias=True, exclude_none=True) for t in self.tolerations]
        if self.runtime_class_name:
            found["runtimeClassName"] = self.runtime_class_name
        return found

    def resources(self, override: dict[str, Any] | None = None) -> dict[str, dict[str, str]]:
        """Requests/limits: profile defaults and the accelerator, merged with the object's
        `spec.resources` into a valid pair (see `workloads.resources`)."""
        requests = dict(self.requests)
        limits = dict(self.limits)
        if self.accelerator:
            # Extended resources cannot be overcommitted: requests must equal limits.
            requests[self.accelerator.resource] = str(self.accelerator.count)
            limits[self.accelerator.resource] = str(self.accelerator.count)
        return merge_resources(requests, limits, override)


def _image(flavour: str) -> str:
    return f"ghcr.io/modelyard/worker-{flavour}:{__version__}"


def default_profiles() -> dict[str, HardwareProfile]:
    """Profiles for a cluster with the common device plugins and labels."""
    return {
        "cpu": HardwareProfile(
            image=_image("cpu"),
            node_selector={"kubernetes.io/arch": "amd64"},
            requests={"cpu": "1", "memory": "2Gi"},
            limits={"memory": "8Gi"},
        ),
        "arm": HardwareProfile(
            image=_image("cpu"),
            node_selector={"kubernetes.io/arch": "arm64"},
            requests={"cpu": "1", "memory": "2Gi"},
            limits={"memory": "8Gi"},
        ),
        "gpu": HardwareProfile(
            image=_image("gpu"),
            accelerator=Accelerator(resource="nvidia.com/gpu"),
            tolerations=[Toleration(key="nvidia.com/gpu", effect="NoSchedule")],
            requests={"cpu": "2", "memory": "8Gi"},
            limits={"memory": "32Gi"},
        ),
        "ascend": HardwareProfile(
            image=_image("ascend"),
            node_selector={"accelerator": "huawei-Ascend910"},
            accelerator=Accelerator(resource="huawei.com/Ascend910"),
            tolerations=[Toleration(key="huawei.com/Ascend910", effect="NoSchedule")],
            requests={"cpu": "2", "memory": "8Gi"},
            limits={"memory": "32Gi"},
        ),
    }


class ProfileError(ValueError):
    """A profiles file that cannot be used; the message names the profile and field."""


def load_profiles(path: Path | None) -> dict[str, HardwareProfile]:
    """Profiles from `path` (a YAML mapping hardware -> profile) over the defaults."""
    profiles = default_profiles()
    if path is None or not path.is_file():
        return profiles
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping of hardware name to profile")
    for name, body in data.items():
        if name not in HARDWARE:
            raise ProfileError(f"{path}: unknown hardware {name!r}; expected one of {', '.join(HARDWARE)}")
        try:
            profiles[name] = HardwareProfile.model_validate(body)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise ProfileError(f"{path}: profile {name}: {field}: {first['msg']}") from None
    return profiles
