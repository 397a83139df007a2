"""The small layer that talks to the Kubernetes API (sync client; Kopf runs sync handlers in
threads). Creating what exists already (409) is success; reading what is absent is None."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Iterator

from kubernetes import client
from kubernetes.client.rest import ApiException

from modelyard.api import GROUP, KINDS, VERSION
from modelyard.api.resource import Resource
from modelyard.handlers.apierrors import ForeignChild
from modelyard.api.validation import ManifestError, parse_object, parse_valid
from modelyard.workloads.kserve import GROUP as KSERVE_GROUP
from modelyard.workloads.kserve import VERSION as KSERVE_VERSION

PAGE_SIZE = 500
"""Objects per list request."""
FINALIZER_ATTEMPTS = 5
KUBEFLOW = {"PyTorchJob": ("kubeflow.org", "v1", "pytorchjobs"), "TFJob": ("kubeflow.org", "v1", "tfjobs")}


def finalizer_patch(meta: dict[str, Any], finalizer: str, add: bool) -> list[dict[str, Any]] | None:
    """The JSON patch that adds or removes `finalizer` from an object whose metadata is `meta`,
    failing on the server if the list is no longer what `meta` says; None when there is nothing
    to do (none is added to an object being deleted: the API server forbids it)."""
    current = list(meta.get("finalizers") or [])
    if add:
        if finalizer in current or meta.get("deletionTimestamp"):
            return None
        if current:
            return [{"op": "test", "path": "/metadata/finalizers", "value": current},
                    {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}]
        guard = [{"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}] \
            if meta.get("resourceVersion") else []
        return [*guard, {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}]
    if finalizer not in current:
        return None
    index = current.index(finalizer)
    return [{"op": "test", "path": f"/metadata/finalizers/{index}", "value": finalizer},
            {"op": "remove", "path": f"/metadata/finalizers/{index}"}]


def _missing(error: ApiException) -> bool:
    return error.status == 404


def _discard(response: Any) -> None:
    """Read a reply that is not used (its connection goes back to the pool) without building
    the client's typed model of it (a V1Job or CoreV1Event costs more than the request)."""
    response.read()
    response.release_conn()


class Kube:
    """Typed access to what the operator reads and writes."""

    def __init__(self, api_client: client.ApiClient):
        self.api_client = api_client
        self.custom = client.CustomObjectsApi(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.autoscaling = client.AutoscalingV2Api(api_client)

    @staticmethod
    def _raw(response: Any) -> dict[str, Any]:
        """JSON of a call made with `_preload_content=False`: no typed model, so objects the
        client's models would reject (partial or newer fields) are still read."""
        return json.loads(response.data)

    def get(self, kind: str, namespace: str, name: str) -> Resource | None:
        """A Modelyard object, or None when it does not exist or no longer parses."""
        info = KINDS[kind].info
        try:
            if info.cluster_scoped:
                body = self.custom.get_cluster_custom_object(GROUP, VERSION, info.plural, name)
            else:
                body = self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, info.plural, name)
        except ApiException as error:
            if _missing(error):
                return None
            raise
        try:
            return parse_object(body)
        except ManifestError:
            return None

    def list(self, kind: str, namespace: str) -> list[Resource]:
        return [obj for page in self.pages(kind, namespace) for obj in page]

    def pages(self, kind: str, namespace: str) -> Iterator[list[Resource]]:
        """The objects of `kind` in `namespace`, a page at a time (limit and continue): one
        reply of thousands of objects, held at once as JSON, dicts and models, was the
        operator's peak memory."""
        plural, token = KINDS[kind].info.plural, None
        while True:
            reply = self._raw(self.custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, limit=PAGE_SIZE, _continue=token, _preload_content=False))
            bodies = reply.get("items") or []
            for body in bodies:
                body.setdefault("apiVersion", f"{GROUP}/{VERSION}")
                body.setdefault("kind", kind)
            yield parse_valid(bodies)
            token = (reply.get("metadata") or {}).get("continue")
            if not token:
                return

    def namespaces(self) -> list[str]:
        return [ns.metadata.name for ns in self.core.list_namespace().items]

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._raw(self.batch.read_namespaced_job(name, namespace, _preload_content=False))
        except ApiException as error:
            if _missing(error):
                return None
            raise

    def patch_job(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        """A merge patch of a worker Job (suspend and resume)."""
        try:
            _discard(self.batch.patch_namespaced_job(name, namespace, body, _preload_content=False))
        except ApiException as error:
            if not _missing(error):
                raise

    def pod_log_tail(self, namespace: str, pod: str, lines: int) -> str:
        """The last lines of a pod's worker log ("" when it has none yet)."""
        try:
            reply = self.core.read_namespaced_pod_log(pod, namespace, container="worker", tail_lines=lines,
                                                      _preload_content=False)
        except ApiException:
            # Best effort: progress is for people; a node that cannot serve logs (or a pod not
            # started, or gone) must not hold up the reconcile.
            return ""
        return reply.data.decode(errors="replace")

    def job_pods(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        """Pods of a Job (filtered here too: some API servers ignore label selectors)."""
        reply = self.core.list_namespaced_pod(namespace, label_selector=f"job-name={job_name}", _preload_content=False)
        pods = self._raw(reply).get("items") or []
        return [p for p in pods if (p.get("metadata", {}).get("labels") or {}).get("job-name") == job_name]

    def warning_events(self, namespace: str, names: list[str]) -> list[dict[str, Any]]:
        """Warning events about the named objects (a Job and its pods) in `namespace`."""
        found: list[dict[str, Any]] = []
        for name in names:
            reply = self.core.list_namespaced_event(
                namespace, field_selector=f"involvedObject.name={name},type=Warning", _preload_content=False)
            found += self._raw(reply).get("items") or []
        return found

    def get_training_job(self, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
        try:
            if kind == "Job":
                return self._raw(self.batch.read_namespaced_job(name, namespace, _preload_content=False))
            group, version, plural = KUBEFLOW[kind]
            return self.custom.get_namespaced_custom_object(group, version, namespace, plural, name)
        except ApiException as error:
            if _missing(error):
                return None
            raise

    def create(self, manifest: dict[str, Any]) -> None:
        """Create a child; one that exists already is fine (names are deterministic)."""
        namespace = manifest["metadata"]["namespace"]
        try:
            if manifest["kind"] == "Job":
                _discard(self.batch.create_namespaced_job(namespace, manifest, _preload_content=False))
            elif manifest["kind"] in self._builtin_writers():
                create = self._builtin_writers()[manifest["kind"]][0]
                _discard(create(namespace, manifest, _preload_content=False))
            elif manifest["kind"] == "InferenceService":
                _discard(self.custom.create_namespaced_custom_object(KSERVE_GROUP, KSERVE_VERSION, namespace,
                                                                     "inferenceservices", manifest, _preload_content=False))
            else:
                plural = KINDS[manifest["kind"]].info.plural
                _discard(self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, manifest, _preload_content=False))
        except ApiException as error:
            if error.status != 409:
                raise
            self._check_ours(manifest)

    def _check_ours(self, manifest: dict[str, Any]) -> None:
        """A 409 is success only when the existing child carries our owner's uid."""
        owners = {o.get("uid") for o in manifest["metadata"].get("ownerReferences") or []}
        if not owners:
            return
        meta = manifest["metadata"]
        if manifest["kind"] == "Job":
            existing = self.get_job(meta["namespace"], meta["name"])
            existing_meta = (existing or {}).get("metadata") or {}
        elif manifest["kind"] in self._builtin_writers():
            existing_meta = self._builtin_metadata(manifest["kind"], meta["namespace"], meta["name"])
        elif manifest["kind"] == "InferenceService":
            existing_meta = (self._isvc(meta["namespace"], meta["name"], "get") or {}).get("metadata") or {}
        else:
            found = self.get(manifest["kind"], meta["namespace"], meta["name"])
            existing_meta = found.metadata.model_dump(by_alias=True) if found is not None else {}
        if not existing_meta:
            return  # gone meanwhile: the next reconcile creates it
        theirs = {o.get("uid") for o in existing_meta.get("ownerReferences") or []}
        if not owners & theirs:
            raise ForeignChild(f"{manifest['kind']} {meta['name']} exists but belongs to an earlier object of the "
                               "same name; waiting for the garbage collector to delete it")

    def _builtin_writers(self) -> dict[str, tuple[Any, Any, Any]]:
        """Built-in kinds a Modelyard object owns besides Jobs: (create, read, delete)."""
        return {
            "Deployment": (self.apps.create_namespaced_deployment, self.apps.read_namespaced_deployment,
                           self.apps.delete_namespaced_deployment),
            "Service": (self.core.create_namespaced_service, self.core.read_namespaced_service,
                        self.core.delete_namespaced_service),
            "HorizontalPodAutoscaler": (self.autoscaling.create_namespaced_horizontal_pod_autoscaler,
                                        self.autoscaling.read_namespaced_horizontal_pod_autoscaler,
                                        self.autoscaling.delete_namespaced_horizontal_pod_autoscaler),
        }

    def kserve_installed(self) -> bool:
        """Whether the API serves KServe's InferenceService (its CRD is installed)."""
        try:
            found = self._raw(self.api_client.call_api(f"/apis/{KSERVE_GROUP}/{KSERVE_VERSION}", "GET",
                                                       auth_settings=["BearerToken"], _preload_content=False)[0])
        except ApiException as error:
            if _missing(error):
                return False
            raise
        return any(r.get("name") == "inferenceservices" for r in found.get("resources") or [])

    def _isvc(self, namespace: str, name: str, verb: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        args = (KSERVE_GROUP, KSERVE_VERSION, namespace, "inferenceservices", name)
        try:
            if verb == "get":
                return self._raw(self.custom.get_namespaced_custom_object(*args, _preload_content=False))
            if verb == "patch":
                _discard(self.custom.patch_namespaced_custom_object(*args, body, _preload_content=False))
            else:
                _discard(self.custom.delete_namespaced_custom_object(*args, _preload_content=False))
        except ApiException as error:
            if not _missing(error):
                raise
        return None

    def _patchers(self) -> dict[str, Any]:
        return {"Deployment": self.apps.patch_namespaced_deployment, "Service": self.core.patch_namespaced_service,
                "HorizontalPodAutoscaler": self.autoscaling.patch_namespaced_horizontal_pod_autoscaler}

    def patch_child(self, kind: str, namespace: str, name: str, body: dict[str, Any], owner_uid: str | None) -> None:
        """A merge patch of an owned Deployment, Service, autoscaler or InferenceService; one we
        do not own (or gone) is left alone."""
        if kind == "InferenceService":
            owners = ((self._isvc(namespace, name, "get") or {}).get("metadata") or {}).get("ownerReferences") or []
            if owner_uid is None or any(o.get("uid") == owner_uid for o in owners):
                self._isvc(namespace, name, "patch", body)
            return
        owners = self._builtin_metadata(kind, namespace, name).get("ownerReferences") or []
        if owner_uid is not None and not any(o.get("uid") == owner_uid for o in owners):
            return
        try:
            _discard(self._patchers()[kind](name, namespace, body, _preload_content=False))
        except ApiException as error:
            if not _missing(error):
                raise

    def get_builtin(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A Deployment, Service, autoscaler or InferenceService as the API has it."""
        if kind == "InferenceService":
            return self._isvc(namespace, name, "get")
        read = self._builtin_writers()[kind][1]
        try:
            return self._raw(read(name, namespace, _preload_content=False))
        except ApiException as error:
            if _missing(error):
                return None
            raise

    def list_deployments(self, namespace: str, labels: dict[str, str]) -> list[dict[str, Any]]:
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        reply = self.apps.list_namespaced_deployment(namespace, label_selector=selector, _preload_content=False)
        found = self._raw(reply).get("items") or []
        return [d for d in found if all((d["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())]

    def pods(self, namespace: str, labels: dict[str, str]) -> list[dict[str, Any]]:
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        found = self._raw(self.core.list_namespaced_pod(namespace, label_selector=selector, _preload_content=False))
        return [p for p in found.get("items") or []
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())]

    def _builtin_metadata(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        read = self._builtin_writers()[kind][1]
        try:
            return self._raw(read(name, namespace, _preload_content=False)).get("metadata") or {}
        except ApiException as error:
            if _missing(error):
                return {}
            raise

    def delete_child(self, kind: str, namespace: str, name: str, owner_uid: str | None = None) -> None:
        """Delete an owned Deployment, Service or autoscaler (its pods go with it); gone already is fine, and
        one of that name that `owner_uid` does not own (an earlier object's) is left alone."""
        if kind == "InferenceService":
            owners = ((self._isvc(namespace, name, "get") or {}).get("metadata") or {}).get("ownerReferences") or []
            if owner_uid is None or any(o.get("uid") == owner_uid for o in owners):
                self._isvc(namespace, name, "delete")
            return
        delete = self._builtin_writers()[kind][2]
        if owner_uid is not None:
            owners = self._builtin_metadata(kind, namespace, name).get("ownerReferences") or []
            if not any(o.get("uid") == owner_uid for o in owners):
                return
        try:
            _discard(delete(name, namespace, propagation_policy="Background", _preload_content=False))
        except ApiException as error:
            if not _missing(error):
                raise

    def add_finalizer(self, kind: str, namespace: str, name: str, finalizer: str, known: dict[str, Any]) -> None:
        """Add `finalizer` to the object whose metadata was last seen as `known`."""
        self._edit_finalizers(kind, namespace, name, finalizer, True, known)

    def remove_finalizer(self, kind: str, namespace: str, name: str, finalizer: str, known: dict[str, Any]) -> None:
        self._edit_finalizers(kind, namespace, name, finalizer, False, known)

    def _edit_finalizers(self, kind: str, namespace: str, name: str, finalizer: str, add: bool,
                         meta: dict[str, Any]) -> None:
        """A JSON patch of our entry alone, guarded by a test of what it was computed from: the
        whole list written back from a stale copy dropped or re-added other controllers'
        finalizers (`orphan`, `foregroundDeletion`), which the API server refuses on an object
        being deleted. A failed test reads the object again and recomputes."""
        plural = KINDS[kind].info.plural
        for _ in range(FINALIZER_ATTEMPTS):
            ops = finalizer_patch(meta, finalizer, add)
            if ops is None:
                return
            try:
                _discard(self.custom.api_client.call_api(
                    f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}/{name}", "PATCH",
                    header_params={"Content-Type": "application/json-patch+json", "Accept": "application/json"},
                    body=ops, auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True))
                return
            except ApiException as error:
                if _missing(error):
                    return
                if error.status not in (409, 422):
                    raise
            try:
                meta = self._raw(self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, name, _preload_content=False)).get("metadata") or {}
            except ApiException as error:
                if _missing(error):
                    return
                raise
        raise RuntimeError(f"{kind} {namespace}/{name}: its finalizers kept changing under {FINALIZER_ATTEMPTS} patches")

    def delete(self, kind: str, namespace: str, name: str) -> None:
        plural = KINDS[kind].info.plural
        try:
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
        except ApiException as error:
            if not _missing(error):
                raise

    def post_event(self, obj: Resource, type_: str, reason: str, message: str) -> None:
        """A core/v1 Event on `obj` (best effort: an event that cannot be posted is dropped)."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{obj.name}.{uuid.uuid4().hex[:12]}", "namespace": obj.namespace},
            "involvedObject": {
                "apiVersion": obj.api_version, "kind": obj.kind, "name": obj.name,
                "namespace": obj.namespace, "uid": obj.metadata.uid or "",
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": "modelyard-operator"},
            "reportingComponent": "modelyard.dev/operator",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            _discard(self.core.create_namespaced_event(obj.namespace, body, _preload_content=False))
        except ApiException:
            pass

    def patch_status(self, kind: str, namespace: str, name: str, status: dict[str, Any], previous: dict[str, Any]) -> None:
        """Replace the status: keys that disappeared are removed (merge patch with nulls)."""
        body = {**{k: None for k in previous if k not in status}, **status}
        plural = KINDS[kind].info.plural
        try:
            self.custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, plural, name, {"status": body})
        except ApiException as error:
            if not _missing(error):  # deleted meanwhile: nothing to record
                raise
