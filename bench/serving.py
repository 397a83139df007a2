"""The built-in model server's throughput and latency against bare onnxruntime, in the same run.

A ResNet-18-sized CNN (bench/convert.py's, random weights) is exported to ONNX with a dynamic
batch and stored as a version in a file store (every file with its sha256 in a manifest). Then
`python -m modelyard.worker serve` runs it as a separate process on loopback with `--threads T`
(T = the CPUs this process may use), and, alternating in rounds:

1. Throughput at batch 1 and 8 with 4 concurrent callers for a fixed time: bare onnxruntime in
   this process (one session, the server's own session options: T intra-op threads, no spinning;
   4 threads calling `run`) against the server called with tritonclient over gRPC and over REST
   (binary tensor extension, tritonclient's default), one client per caller. `ratio` = server
   images/s / bare images/s; target `grpc_batch8_ratio >= 0.8`. The callers run on the same
   cores as the server: their serialisation is part of what is measured.
2. Latency at batch 1 with one caller: p50 and p99 of bare, gRPC and REST; overhead = server -
   bare (the protocol, the copy of the tensors, the network stack on loopback).
3. The server process's peak RSS (VmHWM) at the end.

Medians over rounds. Last line: a JSON object.

    python bench/serving.py --quick    # one round, 4 s per throughput point
    python bench/serving.py            # two rounds, 6 s per point
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT / "bench"))

CONCURRENCY = 4
BATCHES = (1, 8)
MODEL = "resnet18"
NAMESPACE = "bench"
SIGNATURE = {"inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 3, 224, 224]}],
             "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 1000]}]}


def export(path: Path) -> Path:
    """In a child process: torch stays out of this one, whose onnxruntime is the baseline."""
    subprocess.run([sys.executable, __file__, "--export", str(path)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return path


def _export(path: Path) -> None:
    import torch

    from convert import resnet18

    x = torch.randn(2, 3, 224, 224)
    torch.onnx.export(resnet18(), (x,), str(path), dynamo=True, opset_version=18, input_names=["input"],
                      output_names=["logits"], dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
                      external_data=False)


def publish(work: Path, onnx: Path) -> tuple[str, dict[str, Any]]:
    """The ONNX stored as version 1.0.0; returns the store URI and the ModelVersion."""
    from modelyard.storage.fs import FileStore
    from modelyard.storage.layout import Manifest, VersionWriter, version_prefix

    store = FileStore(work / "store")
    writer = VersionWriter(store, version_prefix(NAMESPACE, MODEL, "1.0.0"))
    entry = writer.put_file("model.onnx", io.BytesIO(onnx.read_bytes()))
    writer.commit(Manifest(namespace=NAMESPACE, model=MODEL, name=f"{MODEL}-1-0-0", version="1.0.0", format="onnx",
                           files=[entry], signature=SIGNATURE))
    version = {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelVersion",
               "metadata": {"name": f"{MODEL}-1-0-0", "namespace": NAMESPACE},
               "spec": {"modelRef": {"name": MODEL}, "version": "1.0.0", "format": "onnx", "signature": SIGNATURE,
                        "source": {"uri": "s3://models/model.onnx"}}, "status": {"phase": "Ready"}}
    return store.uri, version


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(work: Path, store: str, version: dict[str, Any], threads: int) -> tuple[subprocess.Popen, int, int]:
    http, grpc = free_port(), free_port()
    env = {**os.environ, "MODELYARD_OBJECT": json.dumps(version), "MODELYARD_WORKDIR": str(work),
           "MODELYARD_TERMINATION_LOG": str(work / "termination"), "PYTHONPATH": str(ROOT / "operator")}
    process = subprocess.Popen([sys.executable, "-m", "modelyard.worker", "serve", "--store", store, "--host",
                                "127.0.0.1", "--http-port", str(http), "--grpc-port", str(grpc), "--threads",
                                str(threads)], env=env, stdout=(work / "server.log").open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{(work / 'server.log').read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/v2/health/ready", timeout=2) as answer:
                if answer.status == 200:
                    return process, http, grpc
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server was not ready within 120 s")


def bare_session(onnx: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(onnx), options, providers=["CPUExecutionProvider"])


def grpc_caller(port: int) -> Callable[[np.ndarray], np.ndarray]:
    import tritonclient.grpc as api

    client = api.InferenceServerClient(f"127.0.0.1:{port}")

    def call(x: np.ndarray) -> np.ndarray:
        item = api.InferInput("input", list(x.shape), "FP32")
        item.set_data_from_numpy(x)
        return client.infer(MODEL, [item]).as_numpy("logits")

    return call


def rest_caller(port: int) -> Callable[[np.ndarray], np.ndarray]:
    import tritonclient.http as api

    client = api.InferenceServerClient(f"127.0.0.1:{port}", connection_timeout=120, network_timeout=120)

    def call(x: np.ndarray) -> np.ndarray:
        item = api.InferInput("input", list(x.shape), "FP32")
        item.set_data_from_numpy(x)
        return client.infer(MODEL, [item]).as_numpy("logits")

    return call


def throughput(make: Callable[[], Callable[[np.ndarray], Any]], x: np.ndarray, seconds: float) -> float:
    """Images per second with CONCURRENCY threads, each with its own caller (tritonclient's HTTP
    client is bound to the thread that made it), calling until the time is up."""
    counts = [0] * CONCURRENCY
    ready = threading.Barrier(CONCURRENCY + 1)
    window: list[float] = []

    def loop(i: int) -> None:
        call = make()
        call(x)  # connection open, first-call costs paid
        ready.wait()
        while time.perf_counter() < window[0]:
            call(x)
            counts[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(CONCURRENCY)]
    window.append(time.perf_counter() + seconds)
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    window[0] = start + seconds
    for thread in threads:
        thread.join()
    return sum(counts) * len(x) / (time.perf_counter() - start)


def latencies(call: Callable[[np.ndarray], Any], x: np.ndarray, count: int) -> dict[str, float]:
    call(x)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call(x)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": times[len(times) // 2], "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))]}


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round, 4 s per throughput point")
    parser.add_argument("--export", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export:
        _export(Path(args.export))
        return
    rounds, seconds, count = (1, 4.0, 40) if args.quick else (2, 6.0, 80)
    threads = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        onnx = export(work / "resnet18.onnx")
        store, version = publish(work, onnx)
        process, http, grpc = start_server(work, store, version, threads)
        try:
            session = bare_session(onnx, threads)

            def bare(x: np.ndarray) -> np.ndarray:
                return session.run(["logits"], {"input": x})[0]

            ways = {"bare": lambda: bare, "grpc": lambda: grpc_caller(grpc), "rest": lambda: rest_caller(http)}
            rng = np.random.default_rng(0)
            inputs = {b: rng.standard_normal((b, 3, 224, 224), dtype=np.float32) for b in BATCHES}
            reference = bare(inputs[1])
            for way in ("grpc", "rest"):
                answer = ways[way]()(inputs[1])
                assert np.allclose(answer, reference, rtol=1e-4, atol=1e-4), f"{way} answers differ from onnxruntime"
            measured: dict[str, list[float]] = {}
            for _ in range(rounds):
                for batch in BATCHES:
                    for way, make in ways.items():
                        rate = throughput(make, inputs[batch], seconds)
                        measured.setdefault(f"{way}_batch{batch}", []).append(rate)
                        print(f"{way} batch {batch}: {rate:.1f} images/s", file=sys.stderr)
            rates = {k: statistics.median(v) for k, v in measured.items()}
            latency = {"bare": latencies(bare, inputs[1], count), "grpc": latencies(grpc_caller(grpc), inputs[1], count),
                       "rest": latencies(rest_caller(http), inputs[1], count)}
            rss = peak_rss_mib(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)
    summary: dict[str, Any] = {
        "bench": "serving", "model": "resnet18-sized onnx (11.7 M parameters)", "threads": threads,
        "concurrency": CONCURRENCY, "rounds": rounds, "seconds_per_point": seconds,
        "images_per_s": {k: round(v, 2) for k, v in rates.items()},
        "latency_batch1_ms": {k: {m: round(v, 2) for m, v in d.items()} for k, d in latency.items()},
        "server_peak_rss_mib": round(rss, 1),
    }
    for way in ("grpc", "rest"):
        for batch in BATCHES:
            summary[f"{way}_batch{batch}_ratio"] = round(rates[f"{way}_batch{batch}"] / rates[f"bare_batch{batch}"], 3)
        for stat in ("p50_ms", "p99_ms"):
            summary[f"{way}_batch1_{stat.split('_')[0]}_overhead_ms"] = round(latency[way][stat] - latency["bare"][stat], 2)
    summary["ratio"] = summary["grpc_batch8_ratio"]
    summary["target"] = "grpc_batch8_ratio >= 0.8"
    summary["met"] = summary["ratio"] >= 0.8
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
