"""The chart's console: off by default; when on, its own ServiceAccount that may only get, list
and watch the modelyard.dev kinds, a locked-down Deployment with probes, a ClusterIP Service,
and values the schema checks."""

from __future__ import annotations

import pytest

from modelyard.api import KINDS
from modelyard.cli import build_parser
from tests.support import helm

ON = ("console.enabled=true",)
NAME = f"{helm.RELEASE}-console"


def _bound(objects: list[dict]) -> list[dict]:
    roles = []
    for binding in helm.find(objects, "RoleBinding") + helm.find(objects, "ClusterRoleBinding"):
        if any(s["kind"] == "ServiceAccount" and s["name"] == NAME for s in binding["subjects"]):
            ref = binding["roleRef"]
            roles.append(helm.one(objects, ref["kind"], ref["name"], binding["metadata"].get("namespace") if ref["kind"] == "Role" else None))
    return roles


def test_off_by_default():
    assert not [o for o in helm.render() if "console" in o["metadata"]["name"]]


def test_its_service_account_gets_lists_and_watches_the_modelyard_kinds_and_nothing_else():
    objects = helm.render(sets=ON)
    helm.one(objects, "ServiceAccount", NAME, helm.NAMESPACE)
    (role,) = _bound(objects)
    assert role["kind"] == "ClusterRole"
    grants = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    namespaced = {KINDS[k].info.plural for k in KINDS if k != "ClusterAlgorithm"}
    assert grants == {("modelyard.dev", plural, verb) for plural in namespaced for verb in ("get", "list", "watch")}


def test_watch_namespaces_mode_grants_a_role_in_each_namespace_only():
    objects = helm.render(sets=(*ON, "console.namespaces={ml,team-b}"))
    roles = _bound(objects)
    assert sorted((r["kind"], r["metadata"]["namespace"]) for r in roles) == [("Role", "ml"), ("Role", "team-b")]
    (container,) = helm.one(objects, "Deployment", NAME)["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["console", "--address=0.0.0.0", "--port=8090", "--namespace=ml", "--namespace=team-b"]
    parsed = build_parser().parse_args(container["args"])  # what the pod runs is what the CLI takes
    assert (parsed.namespaces, parsed.port, parsed.address, parsed.all_namespaces) == (["ml", "team-b"], 8090, "0.0.0.0", False)


def test_the_deployment_runs_non_root_read_only_with_probes_and_no_secret_unless_asked():
    objects = helm.render(sets=ON)
    deployment = helm.one(objects, "Deployment", NAME)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["serviceAccountName"] == NAME and pod["securityContext"]["runAsNonRoot"] is True
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" and container["readinessProbe"]["httpGet"]["port"] == "http"
    assert container["args"][-1] == "--all-namespaces" and "env" not in container
    assert [s["configMapRef"]["name"] for s in container["envFrom"]] == [f"{helm.RELEASE}-store"]
    service = helm.one(objects, "Service", NAME)
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    # the operator's Service must not select the console's pods, nor the console's the operator's
    metrics = helm.one(objects, "Service", f"{helm.RELEASE}-metrics")
    assert metrics["spec"]["selector"]["app.kubernetes.io/component"] == "operator"


def test_store_credentials_come_from_a_mounted_secret_not_from_rbac():
    objects = helm.render(sets=(*ON, "console.storeSecretName=store-credentials"))
    (container,) = helm.one(objects, "Deployment", NAME)["spec"]["template"]["spec"]["containers"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert refs == dict.fromkeys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"), "store-credentials")
    (role,) = _bound(objects)
    assert all("secrets" not in rule["resources"] for rule in role["rules"])


@pytest.mark.parametrize(("sets", "message"), [
    (("console.port=80",), "/console/port"),
    (("console.namespaces={Team_A}",), "/console/namespaces/0"),
    (("console.service.type=Ingress",), "/console/service/type"),
    (("console.enable=true",), "'enable' not allowed"),
])
def test_bad_console_values_fail_at_install(sets, message):
    error = helm.template_error(sets=sets)
    assert "values don't meet the specifications of the schema" in error and message in error


@pytest.mark.parametrize("sets", [ON, (*ON, "console.namespaces={ml,team-b}", "console.storeSecretName=store-credentials",
                                        "store.caBundle.configMap=store-ca")], ids=["cluster-wide", "namespaces"])
def test_the_console_objects_are_valid_kubernetes_and_the_chart_lints_strictly(sets):
    from tests.support.k8s import assert_valid

    objects = helm.render(sets=sets)
    keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]
    assert len(keys) == len(set(keys))
    for obj in objects:
        if "console" in obj["metadata"]["name"]:
            assert_valid(obj)
    args = ["lint", str(helm.CHART), "--strict", "--namespace", helm.NAMESPACE]
    for item in sets:
        args += ["--set", item]
    assert "0 chart(s) failed" in helm.run("helm", *args).stdout
