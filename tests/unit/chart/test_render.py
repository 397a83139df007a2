"""The chart lints and renders valid Kubernetes objects for every values file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from modelyard.api import KINDS
from tests.support import helm
from tests.support.helm import CHART, NAMESPACE, ROOT
from tests.support.k8s import assert_valid
from tests.unit.chart.conftest import VALUES_CASES, VALUES_IDS

CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace", "ClusterAlgorithm"}


@pytest.mark.parametrize("values", VALUES_CASES, ids=VALUES_IDS)
def test_helm_lint_is_clean(values: tuple[Path, ...]):
    args = ["lint", str(CHART), "--strict", "--namespace", NAMESPACE]
    for path in values:
        args += ["--values", str(path)]
    result = helm.run("helm", *args)
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("values", VALUES_CASES, ids=VALUES_IDS)
def test_every_rendered_object_is_valid_kubernetes(values: tuple[Path, ...]):
    objects = helm.render(*values)
    assert objects
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # not a built-in kind: see test_service_monitor_scrapes_the_metrics_service
        assert_valid(obj)


@pytest.mark.parametrize("values", VALUES_CASES, ids=VALUES_IDS)
def test_namespaced_objects_name_their_namespace_and_names_are_unique(values: tuple[Path, ...]):
    objects = helm.render(*values)
    keys = [(o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]
    assert len(keys) == len(set(keys)), "two objects with the same identity"
    for obj in objects:
        if obj["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in obj["metadata"]
        else:
            assert obj["metadata"].get("namespace"), f"{obj['kind']} {obj['metadata']['name']} has no namespace"


def test_chart_crds_are_identical_to_the_generated_ones():
    generated = {p.name: p.read_text() for p in (ROOT / "crds").glob("*.yaml")}
    in_chart = {p.name: p.read_text() for p in (CHART / "crds").glob("*.yaml")}
    assert in_chart == generated, "charts/modelyard/crds/ drifted from crds/: run hack/generate.sh"


def test_helm_installs_every_crd_and_they_are_valid():
    crds = helm.find(helm.render(include_crds=True), "CustomResourceDefinition")
    assert sorted(c["spec"]["names"]["kind"] for c in crds) == sorted(KINDS)
    for crd in crds:
        assert_valid(crd)


def test_chart_and_images_carry_the_package_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version
    assert chart["version"] == version
    deployment = helm.one(helm.render(), "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"ghcr.io/modelyard/operator:{version}"


def test_install_notes_tell_what_to_apply_next():
    result = helm.run(
        "helm", "install", helm.RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client",
        "--set", "store.uri=s3://models/modelyard", "--set", "store.secretName=store-credentials",
    )
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "kubectl apply -f examples/quickstart/" in notes
    assert "kubectl wait --for=condition=Ready modelversion/digits-1-0-0" in notes
    assert "create secret generic store-credentials" in notes
    assert f"rollout status deployment/{helm.RELEASE}-operator" in notes


def test_notes_warn_when_no_default_store_is_set():
    notes = helm.run("helm", "install", helm.RELEASE, str(CHART), "--dry-run=client").stdout.split("NOTES:", 1)[1]
    assert "No default store is set" in notes


def test_the_chart_installs_the_preset_algorithms_local_mode_has():
    from modelyard.algorithms import preset_files, presets

    installed = helm.find(helm.render(), "ClusterAlgorithm")
    assert {a["metadata"]["name"] for a in installed} == {p.name for p in presets()}
    copies = {p.name: p.read_text() for p in (CHART / "algorithms").glob("*.yaml")}
    assert copies == preset_files(), "run hack/generate.sh"
    assert helm.find(helm.render(sets=("algorithms.install=false",)), "ClusterAlgorithm") == []
