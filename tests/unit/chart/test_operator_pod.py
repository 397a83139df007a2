"""The operator Deployment: one replica, probes on Kopf's endpoint, restricted security."""

from __future__ import annotations

import pytest

from modelyard.config import Settings
from tests.support import helm
from tests.unit.chart.conftest import VALUES_CASES, VALUES_IDS


def pod_spec(*values, sets=()):
    return helm.one(helm.render(*values, sets=sets), "Deployment")["spec"]["template"]["spec"]


def test_single_replica_replaced_not_rolled():
    spec = helm.one(helm.render(), "Deployment")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}  # two operators must never run at once


@pytest.mark.parametrize("values", VALUES_CASES, ids=VALUES_IDS)
def test_pod_meets_the_restricted_pod_security_standard(values):
    pod = pod_spec(*values)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] > 0
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    # A read-only root needs a writable /tmp.
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert "/tmp" in mounts


def test_ports_and_probes_match_the_operator_settings():
    defaults = Settings()
    container = pod_spec()["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": defaults.metrics_port, "health": defaults.health_port}
    # main.py serves Kopf's liveness endpoint at http://0.0.0.0:<health_port>/healthz.
    for probe in (container["livenessProbe"], container["readinessProbe"]):
        assert probe["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["args"] == ["operator"]


def test_changed_ports_move_probes_service_and_settings_together():
    objects = helm.render(sets=("metrics.port=9090", "healthPort=9091"))
    container = helm.one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MODELYARD_METRICS_PORT"] == "9090" and env["MODELYARD_HEALTH_PORT"] == "9091"
    assert {p["containerPort"] for p in container["ports"]} == {9090, 9091}
    service = helm.one(objects, "Service")
    assert service["spec"]["ports"][0]["port"] == 9090
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


def test_metrics_service_selects_the_operator_pod():
    objects = helm.render()
    service = helm.one(objects, "Service")
    labels = helm.one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


def test_service_monitor_scrapes_the_metrics_service():
    objects = helm.render(helm.CHART / "ci" / "all-profiles-values.yaml")
    monitor = helm.one(objects, "ServiceMonitor")
    service = helm.one(objects, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [helm.NAMESPACE]}
    assert not helm.find(helm.render(), "ServiceMonitor")


def test_service_monitor_without_service_is_refused():
    error = helm.template_error(sets=("metrics.serviceMonitor.enabled=true", "metrics.service.enabled=false"))
    assert "metrics.serviceMonitor.enabled needs metrics.service.enabled" in error


def test_ca_bundle_is_mounted_where_settings_point():
    pod = pod_spec(helm.CHART / "ci" / "all-profiles-values.yaml")
    container = pod["containers"][0]
    env = helm.operator_env(helm.render(helm.CHART / "ci" / "all-profiles-values.yaml"))
    mount = next(m for m in container["volumeMounts"] if m["name"] == "ca")
    assert env["MODELYARD_S3_CA_BUNDLE"] == f"{mount['mountPath']}/bundle.pem"
    assert next(v for v in pod["volumes"] if v["name"] == "ca")["configMap"]["name"] == "corporate-ca"
    # and the operator passes it on to worker pods (workloads/jobs.py mounts it there)
    assert env["MODELYARD_STORE_CA_CONFIGMAP"] == "corporate-ca" and env["MODELYARD_STORE_CA_KEY"] == "bundle.pem"


def test_scheduling_values_reach_the_pod():
    pod = pod_spec(helm.CHART / "ci" / "all-profiles-values.yaml")
    assert pod["nodeSelector"] == {"node-role.example.com/system": "true"}
    assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert pod["containers"][0]["image"] == "registry.example.com/modelyard/operator:0.1.0-rc1"
