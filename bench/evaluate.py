"""Evaluation throughput and memory: run_evaluate against a bare onnxruntime loop.

1. Throughput: an MLP (ONNX, built here with random weights) evaluated on an npz dataset by
   run_evaluate (the loop as the worker runs it: streamed reads, shape checks, timing, metric
   tallies) and by a bare onnxruntime loop over the same batches already in memory, in the same
   process, alternating: each of our runs against the mean of the bare runs just before and
   after it. `ratio` = median of (our samples/s over the whole loop / bare samples/s) (target
   >= 0.9).
2. Memory: run_evaluate in a fresh process on the dataset and on one 10x larger (written
   streaming, never held in memory); `rss_growth` = peak RSS at 10x / peak RSS at 1x (target
   <= 1.10: batches are streamed, so memory does not follow the data).

    python bench/evaluate.py            # 32k samples (10x: 320k)
    python bench/evaluate.py --quick    # 16k samples (10x: 160k)

The model (3 Gemm layers, 2048 wide, ~19 MB) and batch (256) are sized so that one batch is a
few milliseconds of inference, as for models worth gating; the worker's own cost per batch
(reading, checks, tallies: about 40 us on two cores) is then a few percent. With a toy model
of well under a millisecond per batch that fixed cost shows up in the ratio.

Last line: a JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FEATURES, HIDDEN, CLASSES, BATCH = 256, 2048, 10, 256


def build_model(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    sizes = [(HIDDEN, FEATURES), (HIDDEN, HIDDEN), (CLASSES, HIDDEN)]
    weights, nodes, source = [], [], "input"
    for i, (rows, cols) in enumerate(sizes):
        weights += [numpy_helper.from_array((rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32), f"w{i}"),
                    numpy_helper.from_array(np.zeros(rows, np.float32), f"b{i}")]
        out = "logits" if i == len(sizes) - 1 else f"h{i}"
        nodes.append(helper.make_node("Gemm", [source, f"w{i}", f"b{i}"], [out], transB=1))
        if i < len(sizes) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"r{i}"]))
            source = f"r{i}"
    graph = helper.make_graph(nodes, "bench", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["b", FEATURES])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", CLASSES])], weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), str(path))
    return path


def write_dataset(path: Path, samples: int, chunk: int = 4096) -> Path:
    """An uncompressed npz (x float32 [samples, FEATURES], y int64), written chunk by chunk."""
    from numpy.lib import format as npy

    rng = np.random.default_rng(1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, shape, dtype in (("x", (samples, FEATURES), np.float32), ("y", (samples,), np.int64)):
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                npy.write_array_header_1_0(member, {"descr": npy.dtype_to_descr(np.dtype(dtype)),
                                                    "fortran_order": False, "shape": shape})
                for start in range(0, samples, chunk):
                    rows = min(chunk, samples - start)
                    block = (rng.standard_normal((rows, FEATURES)).astype(np.float32) if name == "x"
                             else rng.integers(0, CLASSES, rows).astype(np.int64))
                    member.write(block.tobytes())
    return path


def evaluate(store_root: Path, model: Path, dataset: Path, name: str) -> dict:
    """run_evaluate on `dataset`; returns the result and report.json's timing."""
    sys.path.insert(0, str(ROOT))
    from modelyard.api.validation import parse_object
    from modelyard.storage.fs import FileStore
    from modelyard.storage.layout import Manifest, VersionWriter, read_manifest, version_prefix
    from modelyard.worker.evaluate import EvaluateJob, run_evaluate

    store = FileStore(store_root)
    prefix = version_prefix("bench", "mlp", "1.0.0")
    if read_manifest(store, prefix) is None:
        writer = VersionWriter(store, prefix)
        with model.open("rb") as stream:
            writer.put_file(model.name, stream)
        writer.commit(Manifest(namespace="bench", model="mlp", name="mlp-1-0-0", version="1.0.0", format="onnx",
                               files=writer.written))
    meta = {"apiVersion": "modelyard.dev/v1alpha1", "metadata": {"name": "mlp-1-0-0", "namespace": "bench"}}
    version = parse_object({**meta, "kind": "ModelVersion", "spec": {
        "modelRef": {"name": "mlp"}, "version": "1.0.0", "format": "onnx", "source": {"uri": f"file://{model}"}}})
    job = parse_object({**meta, "kind": "EvaluationJob", "spec": {
        "modelVersionRef": {"name": "mlp-1-0-0"}, "batchSize": BATCH,
        "dataset": {"uri": f"file://{dataset}", "format": "npz"}}})
    with tempfile.TemporaryDirectory() as work:
        result = run_evaluate(EvaluateJob(namespace="bench", name=name, spec=job.spec, version=version, baseline=None,
                                          store=store, workdir=Path(work)))
    report = json.loads(store.get_bytes(f"bench/mlp/evaluations/{name}/report.json"))
    return {"result": result, "timing": report["timing"]}


def bare_loop(model: Path, dataset: Path) -> float:
    """Samples per second of a plain onnxruntime loop over the dataset's batches (in memory)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    data = np.load(dataset)
    x = data["x"]
    batches = [x[i:i + BATCH] for i in range(0, len(x), BATCH)]
    for _ in range(3):
        session.run(["logits"], {"input": batches[0]})
    started = time.perf_counter()
    for batch in batches:
        session.run(["logits"], {"input": batch})
    return len(x) / (time.perf_counter() - started)


CHILD = r"""
import json, resource, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench.evaluate import evaluate
evaluate(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[5])
print(json.dumps({"maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def peak_rss(store: Path, model: Path, dataset: Path, name: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(store), str(model), str(dataset), name],
                         check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])["maxrss_kib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="16k samples instead of 32k")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the best of each side counts")
    args = parser.parse_args()
    samples = 16_384 if args.quick else 32_768
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = build_model(folder / "mlp.onnx")
        small = write_dataset(folder / "small.npz", samples)
        # Each of our runs sits between two bare runs and is compared with their mean: neighbours
        # in time share whatever else the machine is doing. The median ratio is reported.
        ours, bare, ratios = [], [bare_loop(model, small)], []
        for i in range(args.rounds):
            run = evaluate(folder / "store", model, small, f"throughput-{i}")
            ours.append(run["result"]["metrics"]["samples"] / run["timing"]["loopSeconds"])
            bare.append(bare_loop(model, small))
            ratios.append(ours[-1] / ((bare[-2] + bare[-1]) / 2))
        ratio = float(np.median(ratios))
        print(f"throughput: run_evaluate loop {np.median(ours):,.0f} samples/s, bare onnxruntime "
              f"{np.median(bare):,.0f} samples/s (medians); ratio {ratio:.3f} (median of {', '.join(f'{r:.3f}' for r in ratios)};"
              f" target >= 0.9); {samples} samples, batch {BATCH}")
        large = write_dataset(folder / "large.npz", samples * 10)
        rss_small = peak_rss(folder / "store", model, small, "rss-1x")
        rss_large = peak_rss(folder / "store", model, large, "rss-10x")
        growth = rss_large / rss_small
        print(f"peak RSS: {rss_small / 1024:.1f} MiB at {samples} samples ({small.stat().st_size / 2**20:.0f} MiB), "
              f"{rss_large / 1024:.1f} MiB at {samples * 10} ({large.stat().st_size / 2**20:.0f} MiB): growth {growth:.3f} "
              "(target <= 1.10)")
    print(json.dumps({"ratio": round(ratio, 4), "rss_growth": round(growth, 4), "samples": samples, "batch": BATCH,
                      "ours_samples_per_s": round(float(np.median(ours))), "bare_samples_per_s": round(float(np.median(bare))),
                      "peak_rss_mib_1x": round(rss_small / 1024, 1), "peak_rss_mib_10x": round(rss_large / 1024, 1)}))


if __name__ == "__main__":
    main()
