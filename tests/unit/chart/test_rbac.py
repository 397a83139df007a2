"""RBAC at least privilege: what the operator calls on the API, and nothing more."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelyard.api import KINDS
from modelyard.handlers.reconcile import RECONCILERS
from tests.support import helm
from tests.support.helm import CHART, NAMESPACE
from tests.unit.chart.conftest import VALUES_CASES, VALUES_IDS

NAMESPACED = CHART / "ci" / "namespaced-values.yaml"

# (apiGroup, resource, verb) the operator needs inside a watched namespace: handlers/kube.py,
# register.py and Kopf's own watches, patches and events.
RECONCILED = [KINDS[k].info.plural for k in RECONCILERS]
CATALOG = ("modelyard.dev", "clusteralgorithms", "get")
NEEDED = {
    *((("modelyard.dev", kind, verb) for kind in RECONCILED for verb in ("get", "list", "watch", "patch"))),
    *((("modelyard.dev", kind, verb) for kind in ("algorithms", "trainingtemplates") for verb in ("get", "list", "watch"))),
    ("batch", "jobs", "patch"),  # a TrainingJob suspended or resumed
    ("", "pods/log", "get"),  # a running training worker's progress
    ("modelyard.dev", "modelversions", "create"),  # a conversion's output version
    ("modelyard.dev", "modelversions", "delete"),  # a Model deleted with retention Delete
    *((("modelyard.dev", f"{kind}/status", "patch") for kind in RECONCILED)),
    # Jobs and converted versions carry blockOwnerDeletion owner references.
    *((("modelyard.dev", f"{kind}/finalizers", "update") for kind in RECONCILED)),
    ("batch", "jobs", "create"),
    ("batch", "jobs", "get"),
    ("batch", "jobs", "list"),
    ("batch", "jobs", "watch"),
    ("", "pods", "list"),
    ("", "events", "create"),
}
FORBIDDEN_RESOURCES = {"secrets", "configmaps", "serviceaccounts", "roles", "rolebindings", "clusterroles",
                       "clusterrolebindings", "pods/exec", "nodes"}
SERVERS = {("apps", "deployments", verb) for verb in ("get", "list", "watch", "create", "patch", "delete")} | {
    ("", "services", verb) for verb in ("get", "create", "patch", "delete")}
"""A ModelDeployment's servers (one Deployment per variant, a Service whose selector moves the
traffic) and a TrainingJob's TensorBoard server."""
STORE_READER = f"{helm.RELEASE}-store-settings-reader"
"""Not the operator's: users' `get` of the store settings ConfigMap (test_store_settings.py)."""


def grants(rules: list[dict]) -> set[tuple[str, str, str]]:
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def bound_roles(objects: list[dict], service_account: str) -> list[dict]:
    """The Roles and ClusterRoles bound to `service_account`."""
    roles = []
    for binding in helm.find(objects, "RoleBinding") + helm.find(objects, "ClusterRoleBinding"):
        if any(s["kind"] == "ServiceAccount" and s["name"] == service_account for s in binding["subjects"]):
            ref = binding["roleRef"]
            namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
            roles.append(helm.one(objects, ref["kind"], ref["name"], namespace))
    return roles


@pytest.mark.parametrize("values", VALUES_CASES, ids=VALUES_IDS)
def test_no_wildcards_and_no_access_to_secrets_or_rbac(values):
    for role in helm.find(helm.render(*values), "ClusterRole") + helm.find(helm.render(*values), "Role"):
        if role["metadata"]["name"] == STORE_READER:
            continue
        for group, resource, verb in grants(role["rules"]):
            assert "*" not in (group, resource, verb), role["metadata"]["name"]
            assert resource not in FORBIDDEN_RESOURCES, f"{role['metadata']['name']} grants {verb} {resource}"
            assert verb not in ("escalate", "bind", "impersonate", "deletecollection", "update") or resource.endswith("/finalizers")
            if resource in ("deployments", "services"):
                assert (group, resource, verb) in SERVERS, f"{role['metadata']['name']} grants {verb} {resource}"


def test_servers_are_the_only_deployments_and_services_and_kserve_can_be_turned_off():
    have = {g for r in bound_roles(helm.render(), f"{helm.RELEASE}-operator") for g in grants(r["rules"])}
    assert SERVERS <= have
    assert ("serving.kserve.io", "inferenceservices", "create") in have
    objects = helm.render(sets=("tensorboard.enabled=false", "rbac.kserve=false"))
    have = {g for r in bound_roles(objects, f"{helm.RELEASE}-operator") for g in grants(r["rules"])}
    assert SERVERS <= have  # serving needs them whether or not TensorBoard runs
    assert not {(g, r, v) for g, r, v in have if g == "serving.kserve.io"}
    deployment = helm.one(objects, "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MODELYARD_TENSORBOARD_SERVERS"] == "false"


def test_cluster_wide_mode_grants_what_the_operator_calls_cluster_wide():
    objects = helm.render()
    roles = bound_roles(objects, f"{helm.RELEASE}-operator")
    (role,) = [r for r in roles if r["metadata"]["name"] == f"{helm.RELEASE}-operator"]
    assert role["kind"] == "ClusterRole"
    have = grants(role["rules"])
    assert NEEDED <= have, f"missing: {sorted(NEEDED - have)}"
    assert ("", "namespaces", "list") in have  # the periodic resync walks every namespace
    assert CATALOG in {g for r in roles for g in grants(r["rules"])}
    assert [r["metadata"]["name"] for r in helm.find(objects, "Role")] == [STORE_READER], "no namespaced Role of the operator"


def test_watch_namespaces_mode_uses_roles_in_each_namespace_only():
    objects = helm.render(NAMESPACED)
    roles = bound_roles(objects, f"{helm.RELEASE}-operator")
    namespaced = [r for r in roles if r["kind"] == "Role"]
    assert sorted(r["metadata"]["namespace"] for r in namespaced) == ["ml-team-a", "ml-team-b"]
    for role in namespaced:
        have = grants(role["rules"])
        assert NEEDED <= have, f"missing: {sorted(NEEDED - have)}"
        assert not any(g == "kubeflow.org" for g, _, _ in have)  # rbac.kubeflow: false
    # What remains cluster-wide is Kopf's read-only observation of CRDs and namespaces, and
    # reading the preset ClusterAlgorithms.
    for role in (r for r in roles if r["kind"] == "ClusterRole"):
        assert grants(role["rules"]) <= {
            CATALOG,
            ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
            ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
            ("", "namespaces", "list"),
            ("", "namespaces", "watch"),
        }
    deployment = helm.one(objects, "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert json.loads(env["MODELYARD_NAMESPACES"]) == ["ml-team-a", "ml-team-b"]


def test_without_scanning_watch_namespaces_mode_only_reads_the_preset_algorithms_cluster_wide():
    objects = helm.render(NAMESPACED, sets=("rbac.scanning=false",))
    (role,) = helm.find(objects, "ClusterRole")
    assert grants(role["rules"]) == {CATALOG}
    assert [b["roleRef"]["name"] for b in helm.find(objects, "ClusterRoleBinding")] == [role["metadata"]["name"]]


def test_cluster_wide_mode_watches_every_namespace():
    deployment = helm.one(helm.render(), "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert json.loads(env["MODELYARD_NAMESPACES"]) == []


@pytest.mark.parametrize("values", VALUES_CASES, ids=VALUES_IDS)
def test_workers_get_no_api_access_and_no_token(values: tuple[Path, ...]):
    objects = helm.render(*values)
    workers = [sa for sa in helm.find(objects, "ServiceAccount") if sa["metadata"]["name"] == "modelyard-worker"]
    assert workers
    for sa in workers:
        assert sa["automountServiceAccountToken"] is False
    assert bound_roles(objects, "modelyard-worker") == []


def test_worker_service_account_exists_where_worker_jobs_run():
    """Jobs run in the namespace of their object, with the worker ServiceAccount of that namespace."""
    def namespaces(objects):
        return sorted(sa["metadata"]["namespace"] for sa in helm.find(objects, "ServiceAccount", "modelyard-worker"))

    assert namespaces(helm.render()) == [NAMESPACE]
    assert namespaces(helm.render(NAMESPACED)) == ["ml-team-a", "ml-team-b"]
    assert namespaces(helm.render(sets=("worker.namespaces={ml-prod,ml-dev}",))) == ["ml-dev", "ml-prod", NAMESPACE]


def test_irsa_annotations_land_on_the_worker_service_account():
    (sa,) = helm.find(helm.render(CHART / "ci" / "irsa-values.yaml"), "ServiceAccount", "modelyard-worker")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == "arn:aws:iam::123456789012:role/modelyard-worker"
    names = set(helm.operator_env(helm.render(CHART / "ci" / "irsa-values.yaml")))
    assert "MODELYARD_STORE_SECRET_NAME" not in names  # no Secret: the pod identity is used
