"""`python -m modelyard.worker publish`: what a Model's spec.publish runs for each version, in a
Job with the registry's push secret mounted. The version, its ConversionJob and latest
EvaluationJob come as JSON (MODELYARD_OBJECT, MODELYARD_CONVERSION_JOB, MODELYARD_EVALUATION_JOB);
the target is MODELYARD_PUBLISH_TARGET. A tag that points at something else is never moved."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping

from modelyard.worker.oci.errors import OciError

RELATED = ("MODELYARD_CONVERSION_JOB", "MODELYARD_EVALUATION_JOB")


class Bodies:
    """The objects a publish reads, as `cli_publish.version_record` asks for them."""

    def __init__(self, bodies: list[dict[str, Any]]):
        self.items = bodies

    def bodies(self, kind: str, namespace: str | None) -> Iterator[dict[str, Any]]:
        return (b for b in self.items if b.get("kind") == kind)


def run_publish(version: dict[str, Any], target: str, store: Any, env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    from modelyard.cli_publish import PublishError, version_record
    from modelyard.storage.layout import open_verified
    from modelyard.worker.oci.auth import from_pull_secret, user_credentials
    from modelyard.worker.oci.publish import publish
    from modelyard.worker.oci.reference import parse_reference

    related = [json.loads(env[key]) for key in RELATED if env.get(key)]
    namespace = version["metadata"].get("namespace") or "default"
    try:
        record, prefix = version_record(Bodies([version, *related]), namespace, version["metadata"]["name"], store)
    except PublishError as error:
        raise OciError("NotPublishable", str(error)) from None
    host = parse_reference(target).registry
    folder, secret = env.get("MODELYARD_REGISTRY_AUTH"), env.get("MODELYARD_REGISTRY_SECRET", "")
    if folder:
        credentials = from_pull_secret(Path(folder), secret, host)
        hint = f'push secret "{secret}" holds no credentials for {host}'
    else:
        credentials = user_credentials(host)
        hint = "set the Model's spec.publish.pushSecretRef to a kubernetes.io/dockerconfigjson Secret with them"
    published = publish(record, target, lambda entry: open_verified(store, prefix, entry), credentials, auth_hint=hint)
    said = "already held this version" if published.unchanged else f"pushed {published.pushed_bytes} bytes"
    return {"ok": True, "kind": "publish", "phase": "Succeeded", "reason": "Published", "reference": published.reference,
            "digest": published.digest, "pinned": published.pinned, "unchanged": published.unchanged,
            "message": f"{published.reference} {said}: {published.digest}"}
