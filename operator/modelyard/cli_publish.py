"""`modelyard publish VERSION oci://registry/repository:tag` (and `modelyard local publish`):
push a Ready version as a KitOps ModelKit (worker/oci/modelkit.py).

The version's files are read from the store as `report` reads it (the chart's settings and the
store Secret on a cluster, the shell's environment and the Model's spec.storage in local mode),
each verified against the version's manifest on its way up. Registry credentials come from
`MODELYARD_REGISTRY_USERNAME`/`MODELYARD_REGISTRY_PASSWORD`, else the docker config (`docker
login`); they are never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

AUTH_HINT = "run docker login for it, or set MODELYARD_REGISTRY_USERNAME and MODELYARD_REGISTRY_PASSWORD"


class PublishError(Exception):
    """A version that cannot be published as asked; the message says why."""


def _one(source: Any, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
    return next((b for b in source.bodies(kind, namespace) if b["metadata"]["name"] == name), None)


def version_record(source: Any, namespace: str | None, name: str, store: Any) -> tuple[Any, str]:
    """The version's VersionRecord (manifest from the store, verification and evaluations from
    the API) and its prefix in `store`."""
    from modelyard.storage.layout import MANIFEST, read_manifest, version_prefix
    from modelyard.worker.oci.modelkit import VersionRecord

    body = _one(source, "ModelVersion", namespace, name)
    if body is None:
        raise PublishError(f'ModelVersion "{name}" not found' + (f" in namespace {namespace}" if namespace else ""))
    status = body.get("status") or {}
    if status.get("phase") != "Ready":
        raise PublishError(f'ModelVersion "{name}" is {status.get("phase") or "not imported yet"}; only a Ready version is published')
    spec, meta = body["spec"], body["metadata"]
    prefix = version_prefix(meta.get("namespace") or "default", spec["modelRef"]["name"], spec["version"])
    found = read_manifest(store, prefix)
    if found is None:
        raise PublishError(f"{store.describe(prefix)}/ has no {MANIFEST}: the stored version is incomplete")
    manifest, digest = found
    if status.get("artifact", {}).get("digest") not in (None, digest):
        raise PublishError(f'ModelVersion "{name}" records {status["artifact"]["digest"]}, but the store holds {digest}')
    conversion = (spec.get("lineage") or {}).get("conversionJob")
    job = _one(source, "ConversionJob", namespace, conversion) if conversion else None
    verification = ((job or {}).get("status") or {}).get("verification")
    evaluations = [
        {"name": e["metadata"]["name"], "passed": (e.get("status") or {}).get("passed"),
         "results": (e.get("status") or {}).get("results"), "gates": (e.get("status") or {}).get("gates")}
        for e in source.bodies("EvaluationJob", namespace)
        if (e.get("spec") or {}).get("modelVersionRef", {}).get("name") == name and (e.get("status") or {}).get("phase") == "Succeeded"
    ]
    record = VersionRecord(meta.get("namespace") or "default", name, manifest, store.get_bytes(f"{prefix}/{MANIFEST}"),
                           digest, verification, evaluations)
    return record, prefix


def _store_root(body: dict[str, Any]) -> str:
    """The store URI a version's artifact folder is in (its folder minus namespace/model/version)."""
    uri = str((body.get("status") or {}).get("artifact", {}).get("uri") or "").rstrip("/")
    if not uri:
        raise PublishError(f'ModelVersion "{body["metadata"]["name"]}" records no artifact folder')
    return uri.rsplit("/", 3)[0]


def _open_store(source: Any, body: dict[str, Any], namespace: str | None, scratch: Path) -> Any:
    from modelyard.storage.open import open_store

    root = _store_root(body)
    if not root.startswith("s3://"):
        return open_store(root)
    from modelyard.views.store_access import layered_settings

    model = body["spec"]["modelRef"]["name"]
    storage = ((_one(source, "Model", namespace, model) or {}).get("spec") or {}).get("storage") or {}
    core = getattr(source, "core", None)
    if core is None:
        settings, _ = layered_settings(None, "", storage, f"Model {model}", os.environ)
        return open_store(root, settings)
    from modelyard.views.cluster_store import store_access

    access = store_access(core, body["metadata"].get("namespace") or "default", storage, model, None, scratch)
    return open_store(root, access.settings, access.session)


def publish_version(source: Any, namespace: str | None, name: str, target: str, force: bool) -> Any:
    """Publish; returns worker.oci.publish.Published."""
    from modelyard.storage.layout import open_verified
    from modelyard.worker.oci.auth import user_credentials
    from modelyard.worker.oci.publish import publish
    from modelyard.worker.oci.reference import parse_reference

    reference = parse_reference(target)
    body = _one(source, "ModelVersion", namespace, name)
    if body is None:
        raise PublishError(f'ModelVersion "{name}" not found' + (f" in namespace {namespace}" if namespace else ""))
    with tempfile.TemporaryDirectory(prefix="modelyard-store-") as scratch:
        store = _open_store(source, body, namespace, Path(scratch))
        record, prefix = version_record(source, namespace, name, store)
        return publish(record, target, lambda entry: open_verified(store, prefix, entry),
                       user_credentials(reference.registry), force=force, auth_hint=AUTH_HINT)


def _run(source: Any, namespace: str | None, args: argparse.Namespace) -> int:
    from modelyard.storage.base import StoreError
    from modelyard.worker.oci.errors import OciError

    try:
        published = publish_version(source, namespace, args.version, args.target, args.force)
    except (PublishError, OciError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if published.unchanged:
        print(f"{published.reference} already is this version: {published.digest} (nothing pushed)")
    else:
        moved = f" (moved from {published.replaced})" if published.replaced else ""
        print(f"published {args.version} to {published.reference}{moved}: {published.digest}")
    print(published.pinned)
    return 0


def add_publish_command(sub: Any, local: bool) -> None:
    """`publish` on a subparser group: local mode's (`--home`) or the cluster's (`-n`)."""
    parser = sub.add_parser("publish", help="push a Ready version to an OCI registry as a KitOps ModelKit")
    parser.add_argument("version", metavar="VERSION", help="the ModelVersion's name")
    parser.add_argument("target", metavar="oci://REGISTRY/REPOSITORY:TAG")
    parser.add_argument("--force", action="store_true", help="move the tag when it points at something else")
    if local:
        parser.add_argument("--home", type=Path, default=Path(".modelyard"),
                            help="state and the default store (default ./.modelyard)")
        parser.add_argument("-n", "--namespace", default="default", help="the version's namespace (default: default)")

        def run_local(args: argparse.Namespace) -> int:
            from modelyard.local.engine import LocalMode

            return _run(LocalMode(args.home).cluster, args.namespace, args)

        parser.set_defaults(run=run_local)
        return
    parser.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's)")

    def run_cluster(args: argparse.Namespace) -> int:
        from modelyard.views.objects import ClusterSource, current_namespace

        return _run(ClusterSource(), args.namespace or current_namespace(), args)

    parser.set_defaults(run=run_cluster)
