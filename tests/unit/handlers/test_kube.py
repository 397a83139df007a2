"""The API layer's reading of what the server answered."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.rest import ApiException

from modelyard.handlers.apierrors import ForeignChild, rejection
from modelyard.handlers.kube import Kube


def refused(status: int, body: dict | None = None) -> ApiException:
    error = ApiException(status=status, reason="Refused")
    error.body = json.dumps(body) if body is not None else None
    return error


def test_a_refusal_carries_the_servers_causes():
    body = {"message": "Job.batch \"x\" is invalid: [...]", "details": {"causes": [
        {"field": "spec.template.spec.containers[0].resources.requests",
         "message": 'Invalid value: "16Gi": must be less than or equal to memory limit of 1Gi'}]}}
    assert rejection(refused(422, body)) == ('spec.template.spec.containers[0].resources.requests: '
                                             'Invalid value: "16Gi": must be less than or equal to memory limit of 1Gi')
    assert rejection(refused(403, {"message": "jobs.batch is forbidden"})) == "jobs.batch is forbidden"


@pytest.mark.parametrize("status", [404, 409, 429, 500, 503])
def test_what_a_retry_can_fix_is_no_refusal(status: int):
    assert rejection(refused(status, {"message": "x"})) is None


class _Batch:
    def __init__(self, existing_owner: str):
        self.existing_owner = existing_owner

    def create_namespaced_job(self, *_args, **_kwargs):
        raise refused(409, {"message": "already exists"})


def _kube(existing_owner: str) -> Kube:
    kube = Kube.__new__(Kube)
    kube.batch = _Batch(existing_owner)
    kube.get_job = lambda ns, name: {"metadata": {"name": name, "ownerReferences": [{"uid": existing_owner}]}}
    return kube


def job(owner_uid: str) -> dict:
    return {"kind": "Job", "metadata": {"name": "import-a", "namespace": "ml", "ownerReferences": [{"uid": owner_uid}]}}


def test_a_conflict_is_success_only_when_the_child_is_ours():
    _kube("uid-1").create(job("uid-1"))
    with pytest.raises(ForeignChild, match="belongs to an earlier object of the same name"):
        _kube("uid-old").create(job("uid-1"))


class _Reply:
    def __init__(self, body: dict):
        self.data = json.dumps(body).encode()


class _Custom:
    """Two pages of ModelVersions, the second after the first page's continue token."""

    def __init__(self):
        self.calls = []

    def list_namespaced_custom_object(self, group, version, namespace, plural, **kwargs):
        self.calls.append(kwargs)
        first = kwargs.get("_continue") is None
        names = ["a", "b"] if first else ["c"]
        items = [{"metadata": {"name": n, "namespace": namespace},
                  "spec": {"modelRef": {"name": "m"}, "version": "1.0.0", "format": "onnx",
                           "source": {"uri": "s3://b/m.onnx"}}} for n in names]
        return _Reply({"items": items, "metadata": {"continue": "token-1"} if first else {}})


def test_objects_are_listed_a_page_at_a_time():
    kube = Kube.__new__(Kube)
    kube.custom = _Custom()
    pages = [[obj.name for obj in page] for page in kube.pages("ModelVersion", "ml")]
    assert pages == [["a", "b"], ["c"]]
    assert [c["_continue"] for c in kube.custom.calls] == [None, "token-1"]
    assert {c["limit"] for c in kube.custom.calls} == {500} and all(c["_preload_content"] is False for c in kube.custom.calls)
    kube.custom.calls.clear()
    assert [v.kind for v in kube.list("ModelVersion", "ml")] == ["ModelVersion"] * 3


def test_finalizers_are_patched_as_our_entry_alone_guarded_by_what_they_were():
    from modelyard.handlers.kube import finalizer_patch

    ours = "modelyard.dev/artifacts"
    assert finalizer_patch({"finalizers": ["orphan", ours]}, ours, add=False) == [
        {"op": "test", "path": "/metadata/finalizers/1", "value": ours},
        {"op": "remove", "path": "/metadata/finalizers/1"}]
    assert finalizer_patch({"finalizers": ["x"]}, ours, add=True) == [
        {"op": "test", "path": "/metadata/finalizers", "value": ["x"]},
        {"op": "add", "path": "/metadata/finalizers/-", "value": ours}]
    assert finalizer_patch({"resourceVersion": "7"}, ours, add=True) == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
        {"op": "add", "path": "/metadata/finalizers", "value": [ours]}]
    assert finalizer_patch({"finalizers": [ours]}, ours, add=True) is None
    assert finalizer_patch({"deletionTimestamp": "2026-12-06T00:00:00Z"}, ours, add=True) is None, \
        "the API server forbids a new finalizer on an object being deleted"
    assert finalizer_patch({"finalizers": ["orphan"]}, ours, add=False) is None
