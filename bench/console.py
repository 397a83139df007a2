"""The console at scale: a model's page and its compare page for 1,000 versions, against
`modelyard local get mv` listing the same versions, in the same run.

Local state is written as local mode stores it (one JSON file per object under
`<home>/state/<Kind>/<namespace>/`, local/state.py): one Model with 250 trained releases, each
converted to three variants (onnx for cpu, INT8 for arm, FP16 for gpu) with their
ConversionJobs (verification, benchmark), and one EvaluationJob per version with results and
gates: 1,000 ModelVersions, 750 ConversionJobs, 1,000 EvaluationJobs. The pages read all three
kinds on every request (the model page: every version with its speed-up and latest verdict,
100 a page; the compare page: the latest release beside its variants, and accuracy across all
1,000 versions as a chart); the CLI reads the versions.

Both are timed as their users wait for them: the CLI as the command (`modelyard local get mv`,
a new process each time), a page as an HTTP request to `modelyard local console` (started
once, as a user starts it). Each is run `--repeat` times and the median kept; a page's first
request (templates compiled, nothing warm) is reported beside it. For the cost of the work
itself, the same is measured in one process too (the CLI's `main`, the app's test client):
`in_process_ratio`. Last line: JSON with `ratio` (the slower page's median over the CLI's) and
`versions`.

    python bench/console.py                 # 1,000 versions
    python bench/console.py --releases 1250 # 5,000 versions
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))

NS = "default"
MODEL = "bench"
VARIANTS = (("onnx", "cpu", "onnx"), ("onnx-int8", "arm", "onnx"), ("onnx-fp16", "gpu", "onnx"))
STAMP = "2026-11-22T10:00:00Z"


def _meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": NS, "uid": f"uid-{name}", "creationTimestamp": STAMP, "generation": 1, **extra}


def _ready(message: str) -> list[dict[str, Any]]:
    return [{"type": "Ready", "status": "True", "reason": "Ready", "message": message, "lastTransitionTime": STAMP}]


def _version(name: str, semver: str, fmt: str, parent: str | None, hardware: str | None, index: int) -> dict[str, Any]:
    signature = {"inputs": [{"name": "features", "dtype": "float32", "shape": [-1, 64]}],
                 "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 10]}]}
    lineage = {"parentVersion": parent, "conversionJob": name} if parent else {
        "trainingJob": f"train-{index}", "algorithm": "ClusterAlgorithm/tabular-mlp",
        "datasets": [{"name": "train", "uri": "s3://data/digits-train.npz", "sha256": "7" * 64}]}
    status: dict[str, Any] = {
        "phase": "Ready", "conditions": _ready(f"{name} ready"), "message": f"{name} ready",
        "artifact": {"uri": f"s3://models/{MODEL}/{semver}/", "digest": "sha256:" + f"{index:064x}", "sizeBytes": 36304 - index,
                     "files": [{"path": "model.onnx", "sizeBytes": 30000, "sha256": "a" * 64},
                               {"path": "reproduce.sh", "sizeBytes": 4969, "sha256": "b" * 64}]},
        "signature": signature}
    if hardware:
        status["hardware"] = hardware
    return {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelVersion",
            "metadata": _meta(name, labels={"modelyard.dev/model": MODEL}),
            "spec": {"modelRef": {"name": MODEL}, "version": semver, "format": fmt, "signature": signature,
                     "source": {"uri": f"s3://models/{MODEL}/{semver}/"}, "lineage": lineage},
            "status": status}


def _conversion(name: str, source: str, target: str, hardware: str) -> dict[str, Any]:
    return {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ConversionJob", "metadata": _meta(name),
            "spec": {"sourceRef": {"name": source}, "target": {"format": target, "hardware": hardware}},
            "status": {"phase": "Succeeded", "outputVersion": name, "conditions": _ready("verified"),
                       "verification": {"passed": True, "maxAbsDiff": 0.01, "maxRelDiff": 0.2, "top1Agreement": 0.99,
                                        "samples": 256, "shapes": [{"features": [1, 64]}, {"features": [16, 64]}],
                                        "outputs": [{"name": "logits", "judgedAs": "classifier", "maxAbsDiff": 0.01,
                                                     "maxRelDiff": 0.2, "top1Agreement": 0.99, "passed": True}]},
                       "benchmark": {"speedupBatch1": 3.1, "sizeRatio": 0.5, "source": {"latencyP50MsBatch1": 0.03},
                                     "output": {"latencyP50MsBatch1": 0.01}}}}


def _evaluation(version: str, index: int) -> dict[str, Any]:
    accuracy = 0.9 + (index % 97) / 1000
    return {"apiVersion": "modelyard.dev/v1alpha1", "kind": "EvaluationJob", "metadata": _meta(f"{version}-eval"),
            "spec": {"modelVersionRef": {"name": version}, "dataset": {"uri": "s3://data/digits-test.npz", "format": "npz"},
                     "gates": [{"metric": "accuracy", "op": ">=", "value": 0.9}]},
            "status": {"phase": "Succeeded", "passed": True, "conditions": _ready("all 1 gate(s) passed"),
                       "results": {"accuracy": accuracy, "f1": accuracy - 0.001, "precision": accuracy, "recall": accuracy,
                                   "latencyP50Ms": 0.04, "latencyP95Ms": 0.1 + index / 10000, "throughput": 100000.0},
                       "gates": [{"metric": "accuracy", "op": ">=", "value": 0.9, "actual": accuracy, "passed": True}]}}


def write_state(home: Path, releases: int) -> int:
    """The objects above in local mode's state under `home`; returns the number of versions."""
    from modelyard.local.state import LocalCluster

    cluster = LocalCluster(home / "state")
    cluster.write({"apiVersion": "modelyard.dev/v1alpha1", "kind": "Model", "metadata": _meta(MODEL),
                   "spec": {"task": "tabular-classification", "displayName": "Bench"},
                   "status": {"phase": "Ready", "latestReadyVersion": f"{MODEL}-{releases - 1}-0-0", "conditions": _ready("ok")}})
    count = 0
    for release in range(releases):
        source = f"{MODEL}-{release}-0-0"
        cluster.write(_version(source, f"{release}.0.0", "safetensors", None, None, count))
        cluster.write(_evaluation(source, count))
        count += 1
        for target, hardware, fmt in VARIANTS:
            name = f"{source}-{target}-{hardware}"
            cluster.write(_version(name, f"{release}.0.0+{target}.{hardware}", fmt, source, hardware, count))
            cluster.write(_conversion(name, source, target, hardware))
            cluster.write(_evaluation(name, count))
            count += 1
    return count


def median_seconds(action: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(median, first) wall-clock seconds of `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times[0]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as reply:
        assert reply.status == 200, (url, reply.status)
        return reply.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=250, help="trained releases, each with 3 variants (default 250: 1,000 versions)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    executable = Path(sys.executable).with_name("modelyard")
    with tempfile.TemporaryDirectory(prefix="modelyard-console-bench-") as scratch:
        home = Path(scratch) / "home"
        versions = write_state(home, args.releases)
        cli = [str(executable), "local", "get", "mv", "--home", str(home)]
        listed = subprocess.run(cli, check=True, capture_output=True, text=True).stdout
        assert len(listed.splitlines()) == versions + 1, "the CLI lists every version"
        cli_s, _ = median_seconds(lambda: subprocess.run(cli, check=True, capture_output=True), args.repeat)

        server = subprocess.Popen([str(executable), "local", "console", "--home", str(home), "--port", "0"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            base = server.stdout.readline().split("console: ", 1)[1].strip().rstrip("/")  # type: ignore[union-attr]
            pages = {"model": f"{base}/models/{NS}/{MODEL}", "compare": f"{base}/models/{NS}/{MODEL}/compare"}
            timed = {}
            for name, url in pages.items():
                median, first = median_seconds(lambda url=url: fetch(url), args.repeat + 1)
                timed[name] = {"median": median, "first": first}
            body = fetch(pages["model"]).decode()
            assert f"{versions} in all" in body, "the model page pages through every version"
        finally:
            server.terminate()
            server.wait(timeout=30)

        # the same work in one process, no process start and no HTTP
        from modelyard.cli import main as cli_main
        from modelyard.console.app import create_app
        from modelyard.console.reading import LocalObjects

        def quiet_cli() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                cli_main(["local", "get", "mv", "--home", str(home)])

        cli_in, _ = median_seconds(quiet_cli, args.repeat)
        client = create_app(LocalObjects(home)).test_client()
        paths = {name: url[len(base):] for name, url in pages.items()}
        pages_in = {name: median_seconds(lambda path=path: client.get(path), args.repeat)[0] for name, path in paths.items()}

    slowest = max(t["median"] for t in timed.values())
    line = {
        "versions": versions,
        "cli_seconds": round(cli_s, 3),
        "model_page_seconds": round(timed["model"]["median"], 3),
        "compare_page_seconds": round(timed["compare"]["median"], 3),
        "model_page_first_seconds": round(timed["model"]["first"], 3),
        "compare_page_first_seconds": round(timed["compare"]["first"], 3),
        "ratio": round(slowest / cli_s, 3),
        "in_process_cli_seconds": round(cli_in, 3),
        "in_process_model_page_seconds": round(pages_in["model"], 3),
        "in_process_compare_page_seconds": round(pages_in["compare"], 3),
        "in_process_ratio": round(max(pages_in.values()) / cli_in, 3),
    }
    print(f"{versions} versions: `modelyard local get mv` {cli_s:.3f} s; model page {timed['model']['median']:.3f} s "
          f"(first {timed['model']['first']:.3f} s), compare page {timed['compare']['median']:.3f} s "
          f"(first {timed['compare']['first']:.3f} s); in one process: CLI {cli_in:.3f} s, pages "
          f"{pages_in['model']:.3f} / {pages_in['compare']:.3f} s")
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
