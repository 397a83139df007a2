"""The worker container's requests and limits: the hardware profile's defaults merged with what
the object's `spec.resources` says, into a pair the API server accepts.

A value the user wrote wins over the profile's default for the same resource. Where the merge
would put a request above its limit, the value the user did not write yields, as Kubernetes'
own defaulting does (a request left out defaults to the limit): a profile's 2Gi memory request
is lowered to the user's 1Gi limit, and a profile's 8Gi limit is raised to the user's 16Gi
request. When the user wrote both and they conflict, both are kept: the API server's refusal then
names the user's own values, which is the message they can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.workloads.quantity import QuantityError, parse_quantity

ResourceList = Mapping[str, Any]


def overcommits(name: str) -> bool:
    """Whether a request may stay below its limit (cpu, memory, ephemeral-storage).

    Extended resources (`nvidia.com/gpu`, `huawei.com/Ascend910`) and huge pages need
    request == limit, and a limit whenever there is a request."""
    return "/" not in name and not name.startswith("hugepages-")


def _above(request: str, limit: str) -> bool:
    try:
        return parse_quantity(request) > parse_quantity(limit)
    except QuantityError:
        return False  # not ours to judge: the API server's message names the bad value


def merge_resources(
    profile_requests: ResourceList,
    profile_limits: ResourceList,
    user: Mapping[str, ResourceList | None] | None = None,
) -> dict[str, dict[str, str]]:
    """`{"requests": ..., "limits": ...}` (each left out when empty) for the worker container."""
    user = user or {}
    user_requests = {k: str(v) for k, v in (user.get("requests") or {}).items()}
    user_limits = {k: str(v) for k, v in (user.get("limits") or {}).items()}
    requests = {k: str(v) for k, v in profile_requests.items()} | user_requests
    limits = {k: str(v) for k, v in profile_limits.items()} | user_limits
    for name in sorted(set(requests) | set(limits)):
        request, limit = requests.get(name), limits.get(name)
        if not overcommits(name):
            # Request and limit must be equal: the one the user wrote decides both (a pair the
            # user wrote is theirs to fix); otherwise the limit, which the accelerator sets.
            if name in user_requests and name in user_limits:
                continue
            if name in user_requests or limit is None:
                limits[name] = request  # type: ignore[assignment]
            else:
                requests[name] = limit
            continue
        if request is None or limit is None or not _above(request, limit):
            continue
        if name not in user_requests:
            requests[name] = limit
        elif name not in user_limits:
            limits[name] = request
    return {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
