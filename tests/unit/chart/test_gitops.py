"""GitOps fit: the Argo CD health check (run as Lua against sample objects), the Argo CD and
Flux manifests, and the models folder they sync (built with kustomize, admitted by the CRDs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelyard.api.validation import parse_manifest
from tests.support import apiserver, helm
from tests.support.helm import ROOT

GITOPS = ROOT / "examples" / "gitops"
HEALTH = (GITOPS / "argocd" / "health.lua").read_text()
KINDS = ("Model", "ModelVersion", "ConversionJob", "EvaluationJob")

lupa = pytest.importorskip("lupa.lua51", reason="lupa comes with the test extra")  # Argo CD runs Lua 5.1


def health(obj: dict) -> tuple[str, str]:
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(HEALTH)
    return result["status"], result["message"]


def cond(type_: str, status: bool, message: str = "", reason: str = "Reason") -> dict:
    return {"type": type_, "status": "True" if status else "False", "reason": reason, "message": message}


def obj(kind: str, generation: int = 1, **status) -> dict:
    body = {"apiVersion": "modelyard.dev/v1alpha1", "kind": kind, "metadata": {"name": "x", "generation": generation}}
    if status:
        body["status"] = status
    return body


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (obj("ModelVersion"), ("Progressing", "Waiting for the operator")),
        (obj("ModelVersion", phase="Importing", observedGeneration=1,
             conditions=[cond("Ready", False, "importing"), cond("Reconciling", True, "import Job running")]),
         ("Progressing", "import Job running")),
        (obj("ModelVersion", phase="Ready", observedGeneration=1, conditions=[cond("Ready", True, "imported")]),
         ("Healthy", "imported")),
        (obj("ModelVersion", generation=2, phase="Ready", observedGeneration=1, conditions=[cond("Ready", True)]),
         ("Progressing", "Waiting for the operator to observe generation 2")),
        (obj("ModelVersion", phase="Failed", observedGeneration=1,
             conditions=[cond("Ready", False), cond("Stalled", True, "sha256 mismatch")]),
         ("Degraded", "sha256 mismatch")),
        (obj("ConversionJob", phase="Failed", observedGeneration=1, message="atc not found",
             conditions=[cond("Ready", False, "atc not found")]),
         ("Degraded", "atc not found")),
        (obj("ConversionJob", phase="Succeeded", observedGeneration=1, conditions=[cond("Ready", True, "converted")]),
         ("Healthy", "converted")),
        (obj("EvaluationJob", phase="Succeeded", passed=False, observedGeneration=1,
             conditions=[cond("Ready", True, "accuracy 0.81 < 0.9")]),
         ("Degraded", "Gates failed: accuracy 0.81 < 0.9")),
        (obj("EvaluationJob", phase="Succeeded", passed=True, observedGeneration=1,
             conditions=[cond("Ready", True, "all gates passed")]),
         ("Healthy", "all gates passed")),
        (obj("Model", phase="Pending", observedGeneration=1, conditions=[cond("Ready", False, "no Ready version yet")]),
         ("Progressing", "no Ready version yet")),
        (obj("Model", phase="Ready", observedGeneration=1, conditions=[cond("Ready", True, "latest Ready version: 1.0.0")]),
         ("Healthy", "latest Ready version: 1.0.0")),
    ],
    ids=["no-status", "importing", "ready", "stale-generation", "stalled", "failed-phase", "converted",
         "gates-failed", "gates-passed", "model-pending", "model-ready"],
)
def test_argocd_health_check(sample, expected):
    assert health(sample) == expected


def test_argocd_configmap_carries_the_script_for_each_kind():
    (configmap,) = [d for d in yaml.safe_load_all((GITOPS / "argocd" / "argocd-cm.yaml").read_text()) if d]
    keys = {f"resource.customizations.health.modelyard.dev_{kind}" for kind in KINDS}
    assert set(configmap["data"]) == keys
    for key in keys:
        assert configmap["data"][key] == HEALTH


def docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_argocd_applications_point_at_paths_in_this_repository(tmp_path: Path):
    apps = docs(GITOPS / "argocd" / "modelyard-application.yaml")
    assert [a["kind"] for a in apps] == ["Application", "Application"]
    for app in apps:
        assert app["apiVersion"] == "argoproj.io/v1alpha1"
        assert (ROOT / app["spec"]["source"]["path"]).is_dir()
    chart_app = apps[0]
    assert "ServerSideApply=true" in chart_app["spec"]["syncPolicy"]["syncOptions"]
    values = chart_app["spec"]["source"]["helm"]["valuesObject"]
    # The values are the chart's: they render (and pass values.schema.json).
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    assert helm.find(helm.render(values_file), "ServiceAccount", "modelyard-worker", "ml-models")


def test_flux_manifests_install_the_chart_then_wait_for_the_models(tmp_path: Path):
    objects = {d["kind"]: d for d in docs(GITOPS / "flux" / "modelyard.yaml")}
    assert set(objects) == {"GitRepository", "HelmRelease", "Kustomization"}
    release = objects["HelmRelease"]
    assert (ROOT / release["spec"]["chart"]["spec"]["chart"]).is_dir()
    assert release["spec"]["install"]["crds"] == "CreateReplace"
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(release["spec"]["values"]))
    assert helm.render(values_file)
    models = objects["Kustomization"]
    assert models["spec"]["wait"] is True  # Flux health: kstatus over Ready/Reconciling/Stalled
    assert (ROOT / models["spec"]["path"]).is_dir()


def test_models_folder_builds_with_kustomize_and_is_admitted():
    result = helm.run("kubectl", "kustomize", str(GITOPS / "models"))
    built = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert sorted(d["kind"] for d in built) == sorted(KINDS)
    for doc in built:
        assert apiserver.admit(doc) == []
        parse_manifest(doc)
