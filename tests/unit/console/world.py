"""A small world of objects for the console's tests, built from tests/support/builders.py: a
trained source version, two converted variants (one verified, one still converting), their
evaluations (one against a baseline, one failing its gates), a running training job, and a
Model with no status yet. `hostile()` puts markup into every free-text place a user controls."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterable

from modelyard.console.reading import Snapshot
from tests.support import builders as b

NS = "ml"
HOSTILE = "<script>alert(1)</script>"


def _placed(body: dict[str, Any], created: str, status: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["metadata"].update(namespace=NS, creationTimestamp=created, uid=f"uid-{body['metadata']['name']}", **meta)
    if status is not None:
        body["status"] = status
    return body


def _ready(message: str) -> list[dict[str, Any]]:
    return [{"type": "Ready", "status": "True", "reason": "Ready", "message": message,
             "lastTransitionTime": "2026-11-22T10:05:00Z"}]


def world(report_uri: str | None = None, curves_uri: str | None = None) -> dict[str, list[dict[str, Any]]]:
    model = _placed(b.model("digits", displayName="Digits"), "2026-11-22T09:00:00Z", {
        "phase": "Ready", "latestReadyVersion": "digits-1-0-0", "message": "latest Ready version: digits-1-0-0"})
    fresh = _placed(b.model("fresh"), "2026-11-22T09:30:00Z")  # no status at all yet
    source = _placed(b.model_version("digits-1-0-0", modelRef={"name": "digits"}, format="safetensors",
                                     lineage={"trainingJob": "digits-train", "algorithm": "ClusterAlgorithm/tabular-mlp",
                                              "datasets": [{"name": "train", "uri": "s3://data/train.npz", "sha256": "ab" * 32}]}),
                     "2026-11-22T10:00:00Z", {
        "phase": "Ready", "conditions": _ready("trained"),
        "artifact": {"uri": "s3://models/digits/1.0.0/", "digest": "sha256:" + "a" * 64, "sizeBytes": 36304,
                     "files": [{"path": "model.safetensors", "sizeBytes": 36000, "sha256": "c" * 64}]},
        "signature": {"inputs": [{"name": "features", "dtype": "float32", "shape": [-1, 64]}],
                      "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 10]}]}})
    int8 = _placed(b.model_version("digits-int8", modelRef={"name": "digits"}, version="1.0.0+onnx-int8.arm",
                                   lineage={"parentVersion": "digits-1-0-0", "conversionJob": "digits-int8"}),
                   "2026-11-22T10:10:00Z", {
        "phase": "Ready", "hardware": "arm", "conditions": _ready("converted"),
        "artifact": {"uri": "s3://models/digits/int8/", "digest": "sha256:" + "b" * 64, "sizeBytes": 18500, "files": []},
        "signature": {"inputs": [{"name": "features", "dtype": "float32", "shape": [-1, 64]}],
                      "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 10]}]}})
    fp16 = _placed(b.model_version("digits-fp16", modelRef={"name": "digits"}, version="1.0.0+onnx-fp16.gpu",
                                   lineage={"parentVersion": "digits-1-0-0"}), "2026-11-22T10:11:00Z")  # status not written yet
    conversion = _placed(b.conversion_job("digits-int8", sourceRef={"name": "digits-1-0-0"},
                                          target={"format": "onnx-int8", "hardware": "arm"},
                                          verify={"minTop1Agreement": 0.95}), "2026-11-22T10:05:00Z", {
        "phase": "Succeeded", "outputVersion": "digits-int8", "conditions": _ready("verified, 3.14x faster"),
        "verification": {"passed": True, "maxAbsDiff": 0.68, "maxRelDiff": 3.6, "top1Agreement": 0.984, "samples": 256,
                         "inputs": "generated", "note": "integer inputs generated without a known range",
                         "shapes": [{"features": [1, 64]}, {"features": [16, 64]}],
                         "axes": [{"input": "features", "axis": 0, "sizes": [1, 16], "batch": True}],
                         "outputs": [{"name": "logits", "judgedAs": "classifier", "maxAbsDiff": 0.68, "maxRelDiff": 3.6,
                                      "top1Agreement": 0.984, "passed": True}]},
        "benchmark": {"speedupBatch1": 3.14, "sizeRatio": 0.36, "measuredOn": "x86_64",
                      "source": {"latencyP50MsBatch1": 0.0323}, "output": {"latencyP50MsBatch1": 0.0103}}})
    converting = _placed(b.conversion_job("digits-fp16", sourceRef={"name": "digits-1-0-0"},
                                          target={"format": "onnx-fp16", "hardware": "gpu"}), "2026-11-22T10:06:00Z", {
        "phase": "Running", "progress": "verify", "message": "converting on gpu"})
    base_eval = _placed(b.evaluation_job("digits-1-0-0-eval", modelVersionRef={"name": "digits-1-0-0"}),
                        "2026-11-22T10:20:00Z", {
        "phase": "Succeeded", "passed": True, "results": {"accuracy": 0.9689, "latencyP95Ms": 44.2, "f1": 0.969},
        "gates": [{"metric": "accuracy", "op": ">=", "value": 0.9, "actual": 0.9689, "passed": True}]})
    int8_eval = _placed(b.evaluation_job("digits-int8-eval", modelVersionRef={"name": "digits-int8"}, hardware="arm",
                                         baselineRef={"name": "digits-1-0-0", "tolerance": 0.01}), "2026-11-22T10:30:00Z", {
        "phase": "Succeeded", "passed": False, "message": "1 of 2 gate(s) failed",
        "results": {"accuracy": 0.95, "latencyP95Ms": 0.1, "f1": 0.949},
        "gates": [{"metric": "accuracy", "op": ">=", "value": 0.96, "actual": 0.95, "passed": False},
                  {"metric": "latencyP95Ms", "op": "<=", "value": 20, "actual": 0.1, "passed": True}],
        "reportUri": report_uri, "completionTime": "2026-11-22T10:31:00Z",
        "conditions": [{"type": "Ready", "status": "False", "reason": "GatesFailed", "message": "1 of 2 gate(s) failed",
                        "lastTransitionTime": "2026-11-22T10:31:00Z"}]})
    training = _placed(b.training_job("digits-train", output={"modelRef": {"name": "digits"}, "version": "1.1.0"}),
                       "2026-11-22T11:00:00Z", {
        "phase": "Running", "startTime": "2026-11-22T11:00:05Z", "curvesUri": curves_uri,
        "progress": {"step": 12, "total": 40, "percent": 30.0, "etaSeconds": 20, "message": "training"},
        "hyperparameters": {"epochs": 40, "learningRate": 0.01, "shuffle": True},
        "inputs": [{"name": "train", "uri": "s3://data/train.npz", "sha256": "ab" * 32, "format": "npz"}],
        "metrics": {"valAccuracy": {"latest": 0.93, "best": 0.94, "bestStep": 10}}, "primaryMetric": "valAccuracy",
        "algorithm": {"kind": "ClusterAlgorithm", "name": "tabular-mlp", "digest": "sha256:" + "d" * 64}})
    failed = _placed(b.training_job("digits-broken"), "2026-11-22T11:10:00Z", {
        "phase": "Failed", "failure": {"reason": "InvalidHyperparameter", "message": "epochs must be at most 1000"},
        "conditions": [{"type": "Stalled", "status": "True", "reason": "InvalidHyperparameter",
                        "message": "epochs must be at most 1000", "lastTransitionTime": "2026-11-22T11:10:01Z"}]})
    deployment = _placed(b.model_deployment("digits-arm", modelRef={"name": "digits"}, versionRef={"name": "digits-int8"},
                                            hardware="arm"), "2026-11-22T10:40:00Z", {
        "phase": "Serving", "backend": "builtin", "url": "http://serve-digits-arm.ml.svc:8080/v2/models/digits",
        "serving": {"version": "digits-int8", "variant": "digits-int8", "format": "onnx-int8"},
        "parity": {"variant": "digits-int8", "passed": True, "samples": 8, "message": "8 samples match on 2 replicas"},
        "rejected": {"variant": "digits-fp16", "reason": "ParityFailed", "message": "output logits differs by 0.31"},
        "conditions": _ready("serving digits-int8")})
    return {"Model": [model, fresh], "ModelVersion": [source, int8, fp16], "ConversionJob": [conversion, converting],
            "EvaluationJob": [base_eval, int8_eval], "TrainingJob": [training, failed], "ModelDeployment": [deployment]}


def snapshot(objects: dict[str, list[dict[str, Any]]]) -> Snapshot:
    return Snapshot(lambda kind, namespace: list(objects.get(kind, [])))


class Memory:
    """An Objects source over a dict of bodies (what LocalObjects and ClusterObjects are to the app)."""

    where = "memory"
    namespaces = None

    def __init__(self, objects: dict[str, list[dict[str, Any]]] | None = None, error: Exception | None = None):
        self.objects = objects or {}
        self.error = error

    def list(self, kind: str, namespace: str | None) -> Iterable[dict[str, Any]]:
        if self.error is not None:
            raise self.error
        return list(self.objects.get(kind, []))

    def snapshot(self) -> Snapshot:
        return Snapshot(self.list, None)


def hostile(objects: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Markup in every label, annotation, message, condition message and free-text spec field."""
    changed = copy.deepcopy(objects)
    for bodies in changed.values():
        for body in bodies:
            body["metadata"]["labels"] = {"team": "x", "note": HOSTILE}
            body["metadata"]["annotations"] = {"description": HOSTILE}
            status = body.setdefault("status", {})
            status["message"] = HOSTILE
            status.setdefault("conditions", []).append({"type": "Stalled", "status": "False", "reason": "Hostile",
                                                        "message": HOSTILE, "lastTransitionTime": "2026-11-22T12:00:00Z"})
            if body["kind"] == "Model":
                body["spec"]["description"] = HOSTILE
                body["spec"]["displayName"] = HOSTILE
    return changed


def write_report(folder: Path) -> str:
    """A report.json as the evaluation worker writes it; returns the folder's file:// URI."""
    folder.mkdir(parents=True, exist_ok=True)
    report = {"baseline": {"version": "digits-1-0-0", "metrics": {"accuracy": 0.9689, "latencyP95Ms": 44.2}},
              "backend": "onnxruntime", "diagnosis": {
                  "classNames": ["zero", "one", HOSTILE], "confusionMatrix": [[9, 1, 0], [0, 8, 2], [1, 0, 9]],
                  "worstClasses": [{"class": 1, "name": "one", "f1": 0.84, "precision": 0.89, "recall": 0.8, "support": 10}],
                  "confusedPairs": [{"label": 1, "labelName": "one", "predicted": 2, "predictedName": HOSTILE, "count": 2}]}}
    (folder / "report.json").write_text(json.dumps(report))
    return folder.resolve().as_uri() + "/"


def write_curves(path: Path, steps: int = 5) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"step": s, "total": 40, "loss": 1.0 / s, "valAccuracy": 0.8 + s / 100}) + "\n"
                            for s in range(1, steps + 1)))
    return path.resolve().as_uri()
