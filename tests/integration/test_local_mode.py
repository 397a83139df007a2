"""Local mode end to end with the real workers: the quickstart, re-apply, immutability, the
failure paths and deletion with retention, through the `modelyard` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelyard.cli import main
from tests.support.quickstart import QUICKSTART, prepare, train

pytestmark = pytest.mark.integration


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def items(capsys: pytest.CaptureFixture[str], home: Path, kind: str) -> dict[str, dict[str, Any]]:
    code, out, _ = run(capsys, "local", "get", kind, "-o", "json", "--home", str(home))
    assert code == 0
    return {i["metadata"]["name"]: i for i in json.loads(out)["items"]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(tmp_path_factory.mktemp("training"))


@pytest.fixture(scope="module")
def quickstart(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("quickstart")
    manifests = prepare(QUICKSTART, folder / "manifests", trained)
    return manifests, folder / "home"


def test_the_quickstart_runs_to_completion(quickstart: tuple[Path, Path], capsys: pytest.CaptureFixture[str]):
    manifests, home = quickstart
    code, out, err = run(capsys, "local", "apply", "-f", str(manifests), "--home", str(home))
    assert code == 0, err
    assert "all 14 objects succeeded" in out
    versions = items(capsys, home, "modelversions")
    assert {n: v["status"]["phase"] for n, v in versions.items()} == {
        "digits-1-0-0": "Ready", "digits-onnx-cpu": "Ready", "digits-int8-arm": "Ready", "digits-fp16-gpu": "Ready"}
    assert versions["digits-int8-arm"]["spec"]["lineage"]["parentVersion"] == "digits-1-0-0"
    conversions = items(capsys, home, "cvj")
    for job in conversions.values():
        assert job["status"]["verification"]["passed"] is True
        assert job["status"]["benchmark"]["source"]["latencyP50MsBatch1"] > 0
    evaluations = items(capsys, home, "evaluationjobs")
    for job in evaluations.values():
        assert job["status"]["passed"] is True and job["status"]["results"]["accuracy"] > 0.9
        report = Path(job["status"]["reportUri"].removeprefix("file://")) / "report.html"
        assert report.is_file() and f"{report}" in out
    # The verdict also lands on the evaluated version, where GitOps tooling looks.
    conditions = {c["type"]: c for c in versions["digits-onnx-cpu"]["status"]["conditions"]}
    assert conditions["Evaluated"]["status"] == "True"
    model = items(capsys, home, "models")["digits"]
    assert model["status"]["phase"] == "Ready"
    assert (home / "lineage-digits.svg").is_file() and (home / "lineage-digits.mmd").is_file()
    code, out, _ = run(capsys, "local", "lineage", "digits", "--home", str(home))
    assert code == 0 and "digits-int8-arm (1.0.0+onnx-int8.arm, onnx for arm) Ready" in out
    code, out, _ = run(capsys, "local", "report", "digits-onnx-cpu-eval", "--home", str(home))
    assert code == 0 and out.startswith("PASSED") and "worst classes" in out


def test_reapplying_is_a_no_op(quickstart: tuple[Path, Path], capsys: pytest.CaptureFixture[str]):
    manifests, home = quickstart
    jobs_before = sorted(p.name for p in (home / "jobs").iterdir())
    statuses = {k: v["status"] for k, v in items(capsys, home, "evj").items()}
    code, out, _ = run(capsys, "local", "apply", "-f", str(manifests), "--home", str(home))
    assert code == 0
    assert out.count(" unchanged") == 11 and " created" not in out
    assert sorted(p.name for p in (home / "jobs").iterdir()) == jobs_before, "nothing ran again"
    assert {k: v["status"] for k, v in items(capsys, home, "evj").items()} == statuses


def test_a_changed_immutable_spec_is_rejected(quickstart: tuple[Path, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]):
    manifests, home = quickstart
    body = next(d for d in yaml.safe_load_all((manifests / "02-training.yaml").read_text()) if d["kind"] == "TrainingJob")
    body["spec"]["output"]["version"] = "1.0.1"
    (tmp_path / "changed.yaml").write_text(yaml.safe_dump(body))
    code, _, err = run(capsys, "local", "apply", "-f", str(tmp_path / "changed.yaml"), "--home", str(home))
    assert code == 1
    assert 'The TrainingJob "digits-train" is invalid: spec: Invalid value: spec is immutable except suspend' in err
    assert items(capsys, home, "trj")["digits-train"]["spec"]["output"]["version"] == "1.0.0"


def test_deleting_a_version_of_a_retained_model_keeps_its_artifacts(quickstart: tuple[Path, Path],
                                                                      capsys: pytest.CaptureFixture[str]):
    manifests, home = quickstart
    uri = items(capsys, home, "mv")["digits-fp16-gpu"]["status"]["artifact"]["uri"]
    folder = Path(uri.removeprefix("file://"))
    code, out, _ = run(capsys, "local", "delete", "mv", "digits-fp16-gpu", "--home", str(home))
    assert code == 0 and '"digits-fp16-gpu" deleted' in out
    assert "digits-fp16-gpu" not in items(capsys, home, "mv")
    assert (folder / "manifest.json").is_file(), "retention Retain keeps the stored version"


def test_failures_are_reported_with_their_reasons(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    manifests = prepare(QUICKSTART, tmp_path / "manifests", trained, only=("01-model.yaml", "02-training.yaml"))
    dataset = (trained / "digits-test.npz").as_uri()
    extra = [
        {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelVersion", "metadata": {"name": "digits-missing"},
         "spec": {"modelRef": {"name": "digits"}, "version": "2.0.0", "format": "onnx",
                  "source": {"uri": (tmp_path / "nowhere.onnx").as_uri()}}},
        {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ConversionJob", "metadata": {"name": "digits-strict-fp16"},
         "spec": {"sourceRef": {"name": "digits-1-0-0"}, "target": {"format": "onnx-fp16", "hardware": "cpu"},
                  "verify": {"atol": 1e-9, "rtol": 0}}},
        {"apiVersion": "modelyard.dev/v1alpha1", "kind": "EvaluationJob", "metadata": {"name": "digits-perfect"},
         "spec": {"modelVersionRef": {"name": "digits-1-0-0"}, "dataset": {"uri": dataset, "format": "npz"},
                  "gates": [{"metric": "accuracy", "op": ">=", "value": 0.999}]}},
        {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ConversionJob", "metadata": {"name": "no-format"},
         "spec": {"sourceRef": {"name": "digits-1-0-0"}, "target": {"hardware": "cpu"}}},
    ]
    (manifests / "05-failures.yaml").write_text(yaml.safe_dump_all(extra))
    home = tmp_path / "home"
    code, out, err = run(capsys, "local", "apply", "-f", str(manifests), "--home", str(home))
    assert code == 1
    assert 'The ConversionJob "no-format" is invalid: spec.target.format: Required value' in err
    assert "ModelVersion/digits-missing Failed: source" in err and "does not exist" in err
    assert "ConversionJob/digits-strict-fp16 Failed: verify: the converted model differs from the source beyond tolerance" in err
    assert "EvaluationJob/digits-perfect gates failed:" in err and "accuracy" in err
    failed_eval = items(capsys, home, "evj")["digits-perfect"]["status"]
    assert failed_eval["phase"] == "Succeeded" and failed_eval["passed"] is False, "a failed gate is a result"
    assert "digits-strict-fp16" not in items(capsys, home, "mv"), "no output version without verification"
    assert items(capsys, home, "mv")["digits-1-0-0"]["status"]["phase"] == "Ready"


def test_deleting_a_model_with_retention_delete_removes_its_artifacts(trained: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]):
    manifests = prepare(QUICKSTART, tmp_path / "manifests", trained, only=("01-model.yaml", "02-training.yaml"))
    model = yaml.safe_load((manifests / "01-model.yaml").read_text())
    model["spec"]["retention"] = "Delete"
    (manifests / "01-model.yaml").write_text(yaml.safe_dump(model))
    home = tmp_path / "home"
    code, _, err = run(capsys, "local", "apply", "-f", str(manifests), "--home", str(home))
    assert code == 0, err
    folder = Path(items(capsys, home, "mv")["digits-1-0-0"]["status"]["artifact"]["uri"].removeprefix("file://"))
    assert (folder / "manifest.json").is_file()
    code, out, _ = run(capsys, "local", "delete", "model", "digits", "--home", str(home))
    assert code == 0 and '"digits" deleted' in out
    assert items(capsys, home, "mv") == {} and items(capsys, home, "models") == {}
    assert not folder.exists() or not any(folder.iterdir()), "retention Delete removes the stored version"


def _retargeted(example: Path, source: str) -> dict[str, Any]:
    body = yaml.safe_load(example.read_text())
    body["spec"]["sourceRef"]["name"] = source
    return body


def test_tensorrt_and_ascend_examples_fail_naming_the_missing_tool(trained: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]):
    """The examples as they are (only their source changed): where trtexec and atc are not
    installed, each conversion fails with the tool and the exact command it would have run."""
    manifests = prepare(QUICKSTART, tmp_path / "manifests", trained, only=("01-model.yaml", "02-training.yaml"))
    examples = Path(__file__).resolve().parents[2] / "examples" / "convert"
    jobs = [_retargeted(examples / name, "digits-1-0-0") for name in ("tensorrt-gpu.yaml", "ascend-om.yaml")]
    (manifests / "03-accelerators.yaml").write_text(yaml.safe_dump_all(jobs))
    home = tmp_path / "home"
    code, _, err = run(capsys, "local", "apply", "-f", str(manifests), "--home", str(home))
    assert code == 1
    statuses = {k: v["status"] for k, v in items(capsys, home, "cvj").items()}
    trt, om = statuses["classifier-1-1-0-trt"], statuses["classifier-1-1-0-om"]
    assert trt["phase"] == "Failed" and "trtexec" in trt["message"] and "--onnx=" in trt["message"]
    assert om["phase"] == "Failed" and "atc" in om["message"] and "--framework=5" in om["message"]
    assert "--soc_version=Ascend910B" in om["message"]


def test_static_int8_openvino_and_csv_examples_run_locally(trained: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]):
    """Examples that can run here do, changed only where they name data: static INT8 calibrated
    on the quickstart's calibration inputs, OpenVINO IR, and an evaluation on a CSV table."""
    import hashlib

    import numpy as np

    manifests = prepare(QUICKSTART, tmp_path / "manifests", trained, only=("01-model.yaml", "02-training.yaml"))
    examples = Path(__file__).resolve().parents[2] / "examples"
    static = _retargeted(examples / "convert" / "int8-static-arm.yaml", "digits-1-0-0")
    static["spec"]["target"]["quantization"]["calibrationUri"] = (trained / "digits-calibration.npz").as_uri()
    openvino = _retargeted(examples / "convert" / "openvino-cpu.yaml", "digits-1-0-0")
    test = np.load(trained / "digits-test.npz")
    header = ",".join([f"pixel{i}" for i in range(64)] + ["churned"])
    rows = [",".join([*(f"{v:.6f}" for v in x), str(int(y))]) for x, y in zip(test["x"], test["y"], strict=True)]
    table = tmp_path / "digits.csv"
    table.write_text(header + "\n" + "\n".join(rows) + "\n")
    csv = yaml.safe_load((examples / "evaluate" / "tabular-csv.yaml").read_text())
    csv["spec"]["modelVersionRef"]["name"] = "digits-1-0-0"
    csv["spec"]["dataset"].update(uri=table.as_uri(), sha256=hashlib.sha256(table.read_bytes()).hexdigest())
    (manifests / "03-examples.yaml").write_text(yaml.safe_dump_all([static, openvino, csv]))
    home = tmp_path / "home"
    code, out, err = run(capsys, "local", "apply", "-f", str(manifests), "--home", str(home))
    assert code == 0, err
    conversions = items(capsys, home, "cvj")
    assert conversions["classifier-1-1-0-int8-arm"]["status"]["verification"]["top1Agreement"] >= 0.98
    assert items(capsys, home, "mv")["classifier-1-1-0-openvino"]["spec"]["format"] == "openvino"
    assert items(capsys, home, "evj")["churn-eval"]["status"]["results"]["f1"] > 0.8


def test_a_training_job_source_imports_its_output_locally(trained: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]):
    """Local mode runs no training jobs: the one named counts as done, its outputUri is
    imported and the job is recorded in lineage (the example, retargeted at the quickstart's
    training output)."""
    manifests = prepare(QUICKSTART, tmp_path / "manifests", trained, only=("01-model.yaml",))
    example = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "import" / "from-training-job.yaml").read_text())
    example["spec"].update(modelRef={"name": "digits"}, format="safetensors")
    from safetensors.torch import save_file

    from modelyard.templates.architectures import ARCHITECTURES

    weights = tmp_path / "job-output" / "model.safetensors"
    weights.parent.mkdir()
    net = ARCHITECTURES["MLP"](num_features=64, hidden=64, num_classes=10)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, weights)
    example["spec"]["source"]["trainingJob"]["outputUri"] = weights.as_uri()
    (manifests / "02-trained.yaml").write_text(yaml.safe_dump(example))
    home = tmp_path / "home"
    code, _, err = run(capsys, "local", "apply", "-f", str(manifests), "--home", str(home))
    assert code == 0, err
    version = items(capsys, home, "mv")["classifier-1-1-0"]
    assert version["status"]["phase"] == "Ready"
    manifest = json.loads((Path(version["status"]["artifact"]["uri"].removeprefix("file://")) / "manifest.json").read_text())
    assert manifest["lineage"]["trainingJob"] == "classifier-train-43"
    assert manifest["lineage"]["trainingJobKind"] == "PyTorchJob"


def test_local_mode_with_an_s3_store(trained: Path, tmp_path: Path, bucket: str, s3_env,
                                     capsys: pytest.CaptureFixture[str]):
    """A Model's S3 storage is honoured locally (credentials from the caller's environment),
    and `local report` downloads the report from there."""
    from modelyard.storage.layout import verify_version
    from modelyard.storage.open import open_store

    manifests = prepare(QUICKSTART, tmp_path / "manifests", trained)
    model = yaml.safe_load((manifests / "01-model.yaml").read_text())
    model["spec"]["storage"] = {"uri": f"s3://{bucket}/models", "endpoint": s3_env.endpoint, "region": "us-east-1"}
    (manifests / "01-model.yaml").write_text(yaml.safe_dump(model))
    conversions = [d for d in yaml.safe_load_all((manifests / "03-conversions.yaml").read_text())
                   if d["metadata"]["name"] == "digits-onnx-cpu"]
    (manifests / "03-conversions.yaml").write_text(yaml.safe_dump_all(conversions))
    evaluations = [d for d in yaml.safe_load_all((manifests / "04-evaluations.yaml").read_text())
                   if d["metadata"]["name"] == "digits-onnx-cpu-eval"]
    (manifests / "04-evaluations.yaml").write_text(yaml.safe_dump_all(evaluations))
    (manifests / "05-deployment.yaml").unlink()  # it serves the INT8 version, not converted here
    home = tmp_path / "home"
    code, _, err = run(capsys, "local", "apply", "-f", str(manifests), "--home", str(home))
    assert code == 0, err
    assert items(capsys, home, "mv")["digits-onnx-cpu"]["status"]["artifact"]["uri"] == \
        f"s3://{bucket}/models/default/digits/1.0.0+onnx.cpu/"
    verify_version(open_store(f"s3://{bucket}/models"), "default/digits/1.0.0+onnx.cpu")
    assert not (home / "store").exists(), "nothing went to the local default store"
    code, out, err = run(capsys, "local", "report", "digits-onnx-cpu-eval", "--home", str(home),
                         "--out", str(tmp_path / "report"))
    assert code == 0, err
    assert (tmp_path / "report" / "report.html").is_file() and (tmp_path / "report" / "confusion-matrix.png").is_file()
    assert out.startswith("PASSED")
