"""run_evaluate end to end on real data: a digits classifier trained in the session, evaluated
through each dataset format and local backend, against an independent scikit-learn computation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk

from modelyard.storage.fs import FileStore
from modelyard.worker.evaluate import run_evaluate
from modelyard.worker.evaluate.errors import EvaluationError
from tests.support import evaluation as ev

REPORT_FILES = {"confusion-matrix.png", "latency-histogram.png", "per-class.png", "report.html", "report.json",
                "result.json"}


def expected(module, x: np.ndarray, y: np.ndarray) -> dict[str, float]:  # noqa: ANN001
    """The metrics computed independently: torch for the outputs, scikit-learn for the numbers."""
    scores = ev.logits(module, x)
    top2 = np.sort(scores, axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0]).min() > 1e-4, "a near-tie would make the argmax runtime-dependent"
    predicted = scores.argmax(1)
    return {"accuracy": sk.accuracy_score(y, predicted), "top5": sk.top_k_accuracy_score(y, scores, k=5),
            "precision": sk.precision_score(y, predicted, average="macro", zero_division=0),
            "recall": sk.recall_score(y, predicted, average="macro", zero_division=0),
            "f1": sk.f1_score(y, predicted, average="macro", zero_division=0)}


def _quality(metrics: dict[str, float]) -> dict[str, float]:
    return {k: metrics[k] for k in ("accuracy", "top5", "precision", "recall", "f1")}


def test_accuracy_equals_an_independent_sklearn_computation(store: FileStore, tmp_path: Path, artifacts,
                                                            test_npz: Path) -> None:  # noqa: ANN001
    version = ev.publish(store, artifacts.onnx, "1.0.0")
    spec = ev.spec(f"file://{test_npz}", batchSize=50, gates=[{"metric": "accuracy", "op": ">=", "value": 0.9}])
    stages: list[str] = []
    result = run_evaluate(ev.job(store, tmp_path / "work", version, spec, stages=stages))
    want = expected(artifacts.module, artifacts.digits.x_test, artifacts.digits.y_test)
    assert _quality(result["metrics"]) == pytest.approx(want, abs=1e-12)
    assert result["metrics"]["samples"] == 360
    assert result["metrics"]["sizeBytes"] == artifacts.onnx.stat().st_size
    assert result["metrics"]["latencyP50Ms"] <= result["metrics"]["latencyP95Ms"] <= result["metrics"]["latencyP99Ms"]
    assert result["metrics"]["throughput"] > 0
    assert (result["ok"], result["phase"], result["reason"], result["passed"]) == (True, "Succeeded", "GatesPassed", True)
    assert result["gates"] == [{"metric": "accuracy", "op": ">=", "value": 0.9, "actual": want["accuracy"],
                                "passed": True}]
    prefix = "team/digits/evaluations/digits-eval"
    assert result["reportUri"] == store.describe(prefix) + "/"
    assert {k.rsplit("/", 1)[1] for k in store.list(prefix)} == REPORT_FILES
    assert json.loads(store.get_bytes(f"{prefix}/result.json")) == result
    report = json.loads(store.get_bytes(f"{prefix}/report.json"))
    confusion = sk.confusion_matrix(artifacts.digits.y_test, ev.logits(artifacts.module, artifacts.digits.x_test).argmax(1))
    assert report["diagnosis"]["confusionMatrix"] == confusion.tolist()
    assert len(report["diagnosis"]["misclassified"]) == min(20, int((confusion.sum() - np.trace(confusion))))
    assert stages[0] == "fetching dataset" and "batch 8/8" in stages and stages[-1] == "writing report"


def test_onnx_and_torch_backends_give_the_same_metrics(store: FileStore, tmp_path: Path, artifacts,
                                                       test_npz: Path) -> None:  # noqa: ANN001
    onnx = run_evaluate(ev.job(store, tmp_path / "a", ev.publish(store, artifacts.onnx, "1.0.0"),
                               ev.spec(f"file://{test_npz}"), name="onnx"))
    torch_spec = ev.spec(f"file://{test_npz}", backend={"type": "torch"})
    scripted = ev.publish(store, artifacts.torchscript, "1.0.1", format="torchscript", signature=ev.MLP_SIGNATURE)
    exported = ev.publish(store, artifacts.exported, "1.0.2", format="pytorch-exportedprogram")
    for version, name in ((scripted, "ts"), (exported, "ep")):
        result = run_evaluate(ev.job(store, tmp_path / name, version, torch_spec, name=name))
        assert _quality(result["metrics"]) == pytest.approx(_quality(onnx["metrics"]), abs=1e-12)


def test_imagefolder_archive_end_to_end(store: FileStore, tmp_path: Path, artifacts) -> None:  # noqa: ANN001
    data = artifacts.digits
    pixels = ev.digit_pixels(data.x_test)
    archive = ev.write_imagefolder(tmp_path / "digits.tar.gz", pixels, data.y_test)
    version = ev.publish(store, artifacts.image_onnx, "2.0.0")
    result = run_evaluate(ev.job(store, tmp_path / "work", version, ev.spec(f"file://{archive}", "imagefolder")))
    order = ev.imagefolder_order(data.y_test)
    seen = pixels[order].reshape(-1, 64).astype(np.float32) / 255
    assert _quality(result["metrics"]) == pytest.approx(expected(artifacts.module, seen, data.y_test[order]), abs=1e-12)


def test_csv_end_to_end(store: FileStore, tmp_path: Path, artifacts) -> None:  # noqa: ANN001
    data = artifacts.digits
    path = ev.write_csv(tmp_path / "digits.csv", data.x_test, data.y_test, label="digit")
    result = run_evaluate(ev.job(store, tmp_path / "work", ev.publish(store, artifacts.onnx, "1.0.0"),
                                 ev.spec(f"file://{path}", "csv", labelColumn="digit", batchSize=64)))
    assert _quality(result["metrics"]) == pytest.approx(expected(artifacts.module, data.x_test, data.y_test), abs=1e-12)


def test_failing_gates_are_a_result_not_an_error(store: FileStore, tmp_path: Path, artifacts, test_npz: Path) -> None:  # noqa: ANN001
    spec = ev.spec(f"file://{test_npz}", gates=[{"metric": "accuracy", "op": ">=", "value": 0.999},
                                                {"metric": "latencyP95Ms", "op": "<=", "value": 10000},
                                                {"metric": "sizeBytes", "op": "<", "value": 100}])
    result = run_evaluate(ev.job(store, tmp_path / "w", ev.publish(store, artifacts.onnx, "1.0.0"), spec))
    assert (result["ok"], result["phase"], result["reason"], result["passed"]) == (True, "Succeeded", "GatesFailed", False)
    assert [g["passed"] for g in result["gates"]] == [False, True, False]
    assert result["message"].startswith("2 of 3 gate(s) failed: accuracy >= 0.999 (actual 0.9")
    assert "sizeBytes < 100 (actual" in result["message"]


def test_baseline_is_evaluated_on_the_same_data(store: FileStore, tmp_path: Path, artifacts, test_npz: Path) -> None:  # noqa: ANN001
    weak = ev.mlp_onnx(ev.classifier(hidden=8, steps=15), tmp_path / "weak.onnx")
    baseline = ev.publish(store, artifacts.onnx, "1.0.0")
    candidate = ev.publish(store, weak, "1.1.0")
    spec = ev.spec(f"file://{test_npz}", baselineRef={"name": baseline.name, "tolerance": 0.01})
    result = run_evaluate(ev.job(store, tmp_path / "w", candidate, spec, baseline=baseline))
    rules = {g["metric"]: g for g in result["gates"]}
    assert set(rules) == {f"{m} vs baseline" for m in ("accuracy", "top5", "precision", "recall", "f1")}
    good = expected(artifacts.module, artifacts.digits.x_test, artifacts.digits.y_test)
    assert rules["accuracy vs baseline"]["value"] == pytest.approx(good["accuracy"] - 0.01)
    assert not rules["accuracy vs baseline"]["passed"] and not result["passed"]
    same = run_evaluate(ev.job(store, tmp_path / "s", baseline, spec, baseline=baseline, name="same"))
    assert same["passed"], same["message"]
    report = json.loads(store.get_bytes("team/digits/evaluations/same/report.json"))
    assert report["baseline"]["version"] == baseline.name


def test_baseline_ref_without_its_version(store: FileStore, tmp_path: Path, artifacts, test_npz: Path) -> None:  # noqa: ANN001
    spec = ev.spec(f"file://{test_npz}", baselineRef={"name": "digits-0-9-0"})
    with pytest.raises(EvaluationError, match="baselineRef digits-0-9-0 is set"):
        run_evaluate(ev.job(store, tmp_path / "w", ev.publish(store, artifacts.onnx, "1.0.0"), spec))


def test_regression_metrics(store: FileStore, tmp_path: Path) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    x, y = load_diabetes(return_X_y=True)
    fit = LinearRegression().fit(x[:300], y[:300])
    model = ev.linear_onnx(fit.coef_, float(fit.intercept_), tmp_path / "linear.onnx")
    data = ev.write_npz(tmp_path / "d.npz", x=x[300:].astype(np.float32), y=y[300:])
    version = ev.publish(store, model, "1.0.0", model="diabetes")
    result = run_evaluate(ev.job(store, tmp_path / "w", version, ev.spec(f"file://{data}", batchSize=16)))
    predicted = fit.predict(x[300:].astype(np.float32).astype(np.float64))
    got = result["metrics"]
    assert got["mae"] == pytest.approx(sk.mean_absolute_error(y[300:], predicted), rel=1e-4)
    assert got["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(y[300:], predicted)), rel=1e-4)
    assert got["r2"] == pytest.approx(sk.r2_score(y[300:], predicted), rel=1e-4)
    assert "accuracy" not in got
    names = {k.rsplit("/", 1)[1] for k in store.list("team/diabetes/evaluations/digits-eval")}
    assert names == {"latency-histogram.png", "report.html", "report.json", "result.json"}


def test_metrics_selects_what_the_spec_asks_for_and_the_gates_need(store: FileStore, tmp_path: Path, artifacts,
                                                                   test_npz: Path) -> None:  # noqa: ANN001
    spec = ev.spec(f"file://{test_npz}", metrics=["accuracy", "latency"],
                   gates=[{"metric": "f1", "op": ">=", "value": 0.5}])
    result = run_evaluate(ev.job(store, tmp_path / "w", ev.publish(store, artifacts.onnx, "1.0.0"), spec))
    assert set(result["metrics"]) == {"accuracy", "f1", "samples", "sizeBytes", "latencyP50Ms", "latencyP95Ms",
                                      "latencyP99Ms", "latencyMeanMs", "latencyPerSampleMs", "latencyPerSampleP50Ms",
                                      "latencyPerSampleP95Ms", "latencyPerSampleP99Ms"}


@pytest.mark.parametrize(("arrays", "reason", "message"), [
    ({"x": np.zeros((0, 64), np.float32), "y": np.zeros(0, np.int64)}, "EmptyDataset", "holds no samples"),
    ({"x": np.zeros((5, 60), np.float32), "y": np.zeros(5, np.int64)}, "DatasetMismatch",
     r"input input expects float32\[\?, 64\] but the data is float32\[5, 60\]"),
    ({"x": np.zeros((5, 64), np.float32), "y": np.array([0, 1, 2, 3, 12])}, "LabelOutOfRange",
     r"label 12 of sample 4 is outside the model's 10 classes \(0..9\)"),
])
def test_user_mistakes_fail_clearly(store: FileStore, tmp_path: Path, artifacts, arrays, reason: str,
                                    message: str) -> None:  # noqa: ANN001
    path = ev.write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(EvaluationError, match=message) as error:
        run_evaluate(ev.job(store, tmp_path / "w", ev.publish(store, artifacts.onnx, "1.0.0"), ev.spec(f"file://{path}")))
    assert error.value.reason == reason


def test_dataset_digest_mismatch(store: FileStore, tmp_path: Path, artifacts, test_npz: Path) -> None:  # noqa: ANN001
    actual = hashlib.sha256(test_npz.read_bytes()).hexdigest()
    spec = ev.spec(f"file://{test_npz}", sha256="a" * 64)
    with pytest.raises(EvaluationError, match=f"has sha256 {actual} but dataset.sha256 is a+") as error:
        run_evaluate(ev.job(store, tmp_path / "w", ev.publish(store, artifacts.onnx, "1.0.0"), spec))
    assert error.value.reason == "DigestMismatch"


def test_worker_command_reports_the_result(store: FileStore, tmp_path: Path, artifacts, test_npz: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    from modelyard.worker.__main__ import main

    version = ev.publish(store, artifacts.onnx, "1.0.0")
    job = {"apiVersion": "modelyard.dev/v1alpha1", "kind": "EvaluationJob",
           "metadata": {"name": "cli-eval", "namespace": ev.NAMESPACE},
           "spec": {"modelVersionRef": {"name": version.name}, "dataset": {"uri": f"file://{test_npz}", "format": "npz"},
                    "gates": [{"metric": "accuracy", "op": ">=", "value": 0.99}]}}
    (tmp_path / "job.json").write_text(json.dumps(job))
    (tmp_path / "mv.json").write_text(version.model_dump_json(by_alias=True, exclude_none=True))
    code = main(["evaluate", "--object", str(tmp_path / "job.json"), "--model-version", str(tmp_path / "mv.json"),
                 "--store", store.uri, "--workdir", str(tmp_path), "--termination-log", str(tmp_path / "term")])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert (result["reason"], result["passed"]) == ("GatesFailed", False)
    assert json.loads((tmp_path / "term").read_text())["reportUri"].endswith("/evaluations/cli-eval/")
