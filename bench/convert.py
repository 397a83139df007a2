"""Conversion cost and what it buys, measured in the same run on this machine.

A ResNet-18-sized CNN (defined here, random weights, 11.7 M parameters) is saved as a
torch.export archive (.pt2) and published as a Ready source version in a file store. Then:

- bare: a process that loads the .pt2 and runs `torch.onnx.export(dynamo=True)` with a dynamic
  batch, no checks (the same exporter path modelyard takes);
- modelyard: a process running `python -m modelyard.worker convert` to format onnx: fetch and
  verify the source, export, onnx.checker, onnxslim, enforced verification on 16 samples, a
  latency profile of source and output at batch 1 and 8, upload with manifest and reproduce.sh.

Both are process wall times (interpreter start, imports and the exporter's warm-up included on
both sides, as in the peer figures of issue 4); `ratio` = modelyard / bare. Stage times come from
the worker's log. Then, in this process, latency p50 at batch 1 and size of: torch eager, FP32
onnxruntime, and INT8 three ways (dynamic MatMul-only = modelyard's cpu default, dynamic on every
operator including convolutions, static QDQ). Last line: a JSON object.

    python bench/convert.py --quick    # one run of each process, 30 timed inferences per variant
    python bench/convert.py            # best of three runs of each process, 100 inferences
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))

BARE = r"""
import sys, torch
program = torch.export.load(sys.argv[1])
x = torch.randn(2, 3, 224, 224)
torch.onnx.export(program.module(), (x,), sys.argv[2], dynamo=True, opset_version=18, input_names=["input"],
                  output_names=["logits"], dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
"""


def resnet18():
    """ResNet-18's shape (basic blocks 2-2-2-2, 64..512 channels, 1000 classes), random weights."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.down = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
                         if stride != 1 or c_in != c_out else nn.Identity())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))) + self.down(x))

    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    width = 64
    for channels, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(width, channels, stride), Block(channels, channels, 1)]
        width = channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    torch.manual_seed(0)
    return nn.Sequential(*layers).eval()


SIGNATURE = {"inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 3, 224, 224]}],
             "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 1000]}]}


def publish(work: Path) -> tuple[Path, Path, str]:
    """The .pt2, the source ModelVersion file and the store URI."""
    import io

    import torch
    import yaml

    from modelyard.storage.fs import FileStore
    from modelyard.storage.layout import Manifest, VersionWriter, version_prefix

    model = resnet18()
    program = torch.export.export(model, (torch.randn(2, 3, 224, 224),),
                                  dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    pt2 = work / "resnet18.pt2"
    torch.export.save(program, str(pt2))
    store = FileStore(work / "store")
    writer = VersionWriter(store, version_prefix("bench", "resnet18", "1.0.0"))
    entry = writer.put_file("resnet18.pt2", io.BytesIO(pt2.read_bytes()))
    writer.commit(Manifest(namespace="bench", model="resnet18", name="resnet18-1-0-0", version="1.0.0",
                           format="pytorch-exportedprogram", files=[entry], signature=SIGNATURE))
    source = {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelVersion",
              "metadata": {"name": "resnet18-1-0-0", "namespace": "bench"},
              "spec": {"modelRef": {"name": "resnet18"}, "version": "1.0.0", "format": "pytorch-exportedprogram",
                       "signature": SIGNATURE, "source": {"uri": "s3://models/resnet18.pt2"}},
              "status": {"phase": "Ready"}}
    (work / "source.yaml").write_text(yaml.safe_dump(source))
    return pt2, work / "source.yaml", store.uri


def run_bare(pt2: Path, work: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE, str(pt2), str(work / "bare.onnx")], check=True,
                   capture_output=True, cwd=work)
    return time.perf_counter() - start


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO (export|optimise|quantize|verify|benchmark|upload)$")


def run_modelyard(source: Path, store: str, work: Path, version: str) -> tuple[float, dict, dict]:
    import yaml

    job = {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ConversionJob",
           "metadata": {"name": f"resnet18-onnx-{version}", "namespace": "bench"},
           "spec": {"sourceRef": {"name": "resnet18-1-0-0"}, "target": {"format": "onnx"},
                    "output": {"version": version}}}
    job_file = work / f"job-{version}.yaml"
    job_file.write_text(yaml.safe_dump(job))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "operator")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "modelyard.worker", "convert", "--object", str(job_file),
                           "--source-version", str(source), "--store", store, "--workdir", str(work),
                           "--termination-log", str(work / "termination")], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"modelyard convert failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    stamps = [(m.group(2), datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f"))
              for m in map(_STAMP.match, done.stderr.splitlines()) if m]
    stages = {}
    for (name, at), (_, until) in zip(stamps, stamps[1:] + [(None, stamps[-1][1])], strict=True):
        stages[name] = round((until - at).total_seconds(), 3)
    stages.pop("upload", None)
    return seconds, result, stages


def p50_ms(run, runs: int) -> float:
    for _ in range(3):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 3)


def latencies(model_onnx: Path, work: Path, runs: int) -> dict:
    import numpy as np
    import torch

    from modelyard.worker.convert import quantize
    from modelyard.worker.convert.inputs import generate
    from modelyard.worker.convert.runners import onnx_session

    calibration = generate(__import__("modelyard.api.common", fromlist=["Signature"]).Signature.model_validate(SIGNATURE), 16)
    variants = {"fp32": model_onnx}
    variants["int8_dynamic_matmul"] = work / "int8-matmul.onnx"
    quantize.quantize_dynamic(model_onnx, variants["int8_dynamic_matmul"], "cpu")
    variants["int8_dynamic_all"] = work / "int8-all.onnx"
    quantize.quantize_dynamic(model_onnx, variants["int8_dynamic_all"], "gpu")  # gpu: every operator, ConvInteger included
    variants["int8_static_qdq"] = work / "int8-qdq.onnx"
    quantize.quantize_static(model_onnx, variants["int8_static_qdq"], calibration)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    figures = {}
    for name, path in variants.items():
        session = onnx_session(path)
        figures[f"{name}_ms"] = p50_ms(lambda s=session: s.run(None, {"input": x}), runs)
        figures[f"{name}_bytes"] = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + ".data"))
        del session
    model = resnet18()
    tensor = torch.from_numpy(x)
    with torch.inference_mode():
        figures["torch_eager_ms"] = p50_ms(lambda: model(tensor), runs)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each process, fewer timed inferences")
    args = parser.parse_args()
    repeats, runs = (1, 30) if args.quick else (3, 100)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        pt2, source, store = publish(work)
        bare, mine = [], []
        for index in range(repeats):
            bare.append(run_bare(pt2, work))
            seconds, result, stages = run_modelyard(source, store, work, f"2.0.{index}")
            mine.append((seconds, result, stages))
        bare_s = min(bare)
        convert_s, result, stages = min(mine, key=lambda item: item[0])
        from modelyard.storage.fs import FileStore

        model_onnx = work / "fp32.onnx"
        model_onnx.write_bytes(FileStore(work / "store").get_bytes(f"bench/resnet18/{result['outputVersion']['version']}/1/model.onnx"))
        figures = latencies(model_onnx, work, runs)
    verification, benchmark = result["verification"], result["benchmark"]
    print(f"bare torch.onnx.export(dynamo=True), process wall:          {bare_s:7.2f} s")
    print(f"modelyard convert to onnx (export+optimise+verify+profile):  {convert_s:7.2f} s   ratio {convert_s / bare_s:.2f}")
    print(f"  worker stages (s): {stages}; exporter {result['exporter']}")
    print(f"  verification: max abs diff {verification['maxAbsDiff']:.3g} on {verification['samples']} samples, "
          f"top-1 agreement {verification.get('top1Agreement')}")
    print(f"  worker's own profile: source {benchmark['source']}; output {benchmark['output']}")
    print(f"latency p50 at batch 1 (ms): torch eager {figures['torch_eager_ms']:.2f}, onnxruntime fp32 {figures['fp32_ms']:.2f} "
          f"(x{figures['torch_eager_ms'] / figures['fp32_ms']:.2f} vs eager)")
    for name in ("int8_dynamic_matmul", "int8_dynamic_all", "int8_static_qdq"):
        print(f"  {name:20s} {figures[f'{name}_ms']:8.2f} ms  ({figures['fp32_ms'] / figures[f'{name}_ms']:.2f}x fp32 speed)  "
              f"{figures[f'{name}_bytes'] / 1e6:6.1f} MB (fp32 {figures['fp32_bytes'] / 1e6:.1f} MB)")
    summary = {"ratio": round(convert_s / bare_s, 3), "convert_s": round(convert_s, 3), "bare_export_s": round(bare_s, 3),
               "stages_s": stages, "exporter": result["exporter"], "max_abs_diff": verification["maxAbsDiff"], **figures}
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
