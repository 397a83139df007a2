"""`modelyard get|lineage|report` as a user runs them against the real cluster (through the
kubeconfig, the report read from S3 with the user's own credentials), on what the operator and
the real workers wrote for the quickstart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.controlplane import Namespace
from tests.support.s3server import ACCESS_KEY, SECRET_KEY


def modelyard(ns: Namespace, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(ns.cp.kubeconfig), "AWS_ACCESS_KEY_ID": ACCESS_KEY,
           "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1",
           "MODELYARD_S3_ENDPOINT": ns.kube.s3_endpoint, "MODELYARD_S3_ADDRESSING_STYLE": "path"}
    return subprocess.run([sys.executable, "-m", "modelyard", *args], capture_output=True, text=True, env=env, cwd=cwd)


def cell(value: str) -> str:
    """modelyard prints number columns to 4 significant places where kubectl prints the float
    as stored (0.9666666666666667): the same value either way."""
    try:
        return f"{float(value):.4g}" if "." in value else value
    except ValueError:
        return value


def columns(table: str) -> list[list[str]]:
    """Rows of a kubectl-style table without the AGE column (the two reads are moments apart)."""
    rows = [line.split() for line in table.strip().splitlines()]
    age = rows[0].index("AGE")
    return [[cell(c) for c in row[:age] + row[age + 1:]] for row in rows]


def test_get_prints_the_real_servers_printer_columns(quickstart: Namespace, tmp_path: Path):
    for kind, plural in (("mv", "modelversions"), ("cvj", "conversionjobs"), ("evj", "evaluationjobs"),
                         ("model", "models")):
        ours = modelyard(quickstart, "get", kind, "-n", quickstart.name, cwd=tmp_path)
        assert ours.returncode == 0, ours.stderr
        assert columns(ours.stdout) == columns(quickstart.kubectl("get", plural).stdout), kind
    missing = modelyard(quickstart, "get", "mv", "nosuch", "-n", quickstart.name, cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.strip() == f'error: ModelVersion "nosuch" not found in namespace {quickstart.name}'


def test_lineage_and_report_from_the_cluster(quickstart: Namespace, tmp_path: Path):
    tree = modelyard(quickstart, "lineage", "digits", "-n", quickstart.name, "--out", str(tmp_path / "pictures"),
                     cwd=tmp_path)
    assert tree.returncode == 0, tree.stderr
    assert "digits-onnx-cpu (1.0.0+onnx.cpu, onnx for cpu) Ready" in tree.stdout
    assert (tmp_path / "pictures" / "lineage-digits.svg").read_text().startswith("<svg")
    report = modelyard(quickstart, "report", "digits-onnx-cpu-eval", "-n", quickstart.name,
                       "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith("PASSED:"), report.stdout
    assert "accuracy" in report.stdout and (tmp_path / "report" / "report.html").is_file()
    assert SECRET_KEY not in report.stdout + report.stderr + tree.stdout


def bare_shell(kubeconfig: Path, home: Path, **extra: str) -> dict[str, str]:
    """A user's shell after a plain `helm install`: a kubeconfig and nothing about the store
    (HOME is empty: no ~/.aws either)."""
    return {"KUBECONFIG": str(kubeconfig), "HOME": str(home), **extra}


def run_bare(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelyard", *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_report_needs_no_store_variables_after_a_plain_helm_install(quickstart: Namespace, tmp_path: Path):
    """The endpoint and addressing style from the chart's store ConfigMap, the credentials from
    the store Secret in the evaluation's namespace: the shell names neither."""
    env = bare_shell(quickstart.cp.kubeconfig, tmp_path)
    report = run_bare(env, "report", "digits-onnx-cpu-eval", "-n", quickstart.name, "--out", str(tmp_path / "report"),
                      cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith("PASSED:"), report.stdout
    assert (tmp_path / "report" / "report.html").is_file()
    assert SECRET_KEY not in report.stdout + report.stderr


def test_a_user_without_secrets_reads_the_settings_the_chart_grants_and_brings_credentials(
        quickstart: Namespace, tmp_path: Path):
    """A namespace user (the objects of their namespace, no Secrets, nothing in the release
    namespace but the store ConfigMap the chart lets every user get) with their own keys."""
    from tests.support.controlplane import service_account_kubeconfig

    reader = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "analyst"},
              "rules": [{"apiGroups": ["modelyard.dev"], "resources": ["*"], "verbs": ["get", "list"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "analyst"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "analyst"},
               "subjects": [{"kind": "ServiceAccount", "name": "analyst", "namespace": quickstart.name}]}
    quickstart.kubectl("create", "serviceaccount", "analyst", check=False)
    quickstart.apply(reader, binding)
    kubeconfig = service_account_kubeconfig(quickstart.cp, tmp_path / "kubeconfig", quickstart.name, "analyst")

    without = run_bare(bare_shell(kubeconfig, tmp_path), "report", "digits-onnx-cpu-eval", "-n", quickstart.name,
                       "--out", str(tmp_path / "none"), cwd=tmp_path)
    assert without.returncode == 1
    assert "no credentials found" in without.stderr and "IRSA" not in without.stderr, without.stderr
    assert f"Secret {quickstart.name}/model-store-credentials: forbidden to you" in without.stderr
    assert "AWS_ACCESS_KEY_ID" in without.stderr and "from ConfigMap modelyard-system/modelyard-store" in without.stderr

    env = bare_shell(kubeconfig, tmp_path, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    report = run_bare(env, "report", "digits-onnx-cpu-eval", "-n", quickstart.name, "--out", str(tmp_path / "report"),
                      cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith("PASSED:"), report.stdout


def test_where_nothing_names_the_store_the_cli_asks_the_shell(quickstart: Namespace, tmp_path: Path):
    env = bare_shell(quickstart.cp.kubeconfig, tmp_path)
    lost = run_bare(env, "report", "digits-onnx-cpu-eval", "-n", quickstart.name, "--store-namespace", "nowhere",
                    "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert lost.returncode == 1
    assert "IRSA" not in lost.stderr and "storage.secretRef or give the worker" not in lost.stderr, lost.stderr
    for needed in ("MODELYARD_S3_ENDPOINT", "MODELYARD_S3_ADDRESSING_STYLE", "AWS_ACCESS_KEY_ID",
                   "ConfigMap labelled modelyard.dev/settings=store in nowhere: none"):
        assert needed in lost.stderr, lost.stderr
