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
