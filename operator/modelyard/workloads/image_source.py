"""The init container that copies a model out of an OCI image for an image-source import.

The user's image runs only `cp`, as a non-root user with a read-only root filesystem, into an
emptyDir shared with the worker, which then imports `<mount>/<basename of path>`. The image
must contain a `cp` (coreutils or busybox); when it does not, the init container fails with
"executable file not found" and the import fails with that message.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from modelyard.workloads.security import restricted_security_context

if TYPE_CHECKING:
    from modelyard.api.modelversion import ImageSource

VOLUME = "model-image"
MOUNT = "/modelyard/image"


def image_source_volume(size_limit: str = "50Gi") -> dict[str, Any]:
    """The emptyDir the model is copied into."""
    return {"name": VOLUME, "emptyDir": {"sizeLimit": size_limit}}


def image_copy_container(source: ImageSource) -> dict[str, Any]:
    """The init container that copies `source.path` out of `source.image`."""
    return {
        "name": "copy-model-from-image",
        "image": source.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["cp", "-R", "--", source.path, f"{MOUNT}/"],
        "volumeMounts": [{"name": VOLUME, "mountPath": MOUNT}],
        "securityContext": restricted_security_context(),
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def imported_path(source: ImageSource) -> str:
    """Where the worker finds the copied model."""
    return f"{MOUNT}/{PurePosixPath(source.path).name}"
