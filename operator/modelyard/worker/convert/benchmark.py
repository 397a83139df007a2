"""Latency (p50 at batch 1 and at BATCH_N) and size of the source and the converted model, on
the job's own hardware, so the status shows a speed-up or a slow-down before anyone ships it.

When the user gave inputs (verify.inputsUri, or calibration data) to a model with a dynamic
batch, latency is measured on them, at their own sizes (32 tokens stay 32), batch N being at
most the samples given; otherwise on inputs generated from the signature."""

from __future__ import annotations

import statistics
import time
from typing import Any

from modelyard.api.common import Signature
from modelyard.core.speed import speed_phrase
from modelyard.worker.convert.inputs import Batch, samples_in, take
from modelyard.worker.convert.layout import Layout
from modelyard.worker.convert.runners import Runner
from modelyard.worker.convert.shapes import Bounds, example, random_inputs

BATCH_N = 4
BUDGET_S = 0.25
"""Time spent timing the models at one batch size, beyond MIN_RUNS each."""
MIN_RUNS = 3
"""At least three runs: the median then discards a slow first run (lazy initialisation,
allocation for a new shape) without a separate warm-up, which would cost a ResNet-18 in torch
eager most of a second at the larger batch on two cores."""
MAX_RUNS = 25


def p50_ms(runners: list[Runner], inputs: Batch) -> list[float]:
    """Median latency of each runner on `inputs`, their runs alternating: what slows the machine
    meanwhile slows each alike, so their ratio (the speed-up) holds within one shared budget."""
    times: list[list[float]] = [[] for _ in runners]
    deadline = time.perf_counter() + BUDGET_S
    while len(times[0]) < MAX_RUNS and (len(times[0]) < MIN_RUNS or time.perf_counter() < deadline):
        for runner, taken in zip(runners, times, strict=True):
            start = time.perf_counter()
            runner(inputs)
            taken.append(time.perf_counter() - start)
    return [round(1000 * statistics.median(taken), 4) for taken in times]


def inputs(signature: Signature, layout: Layout, given: Batch | None = None,
           bounds: Bounds | None = None, batch_n: bool = True) -> list[Batch]:
    """What latency is measured on: batch 1, then batch N when the batch is dynamic. The user's
    inputs at their own sizes when given (cut on each input's batch axis); otherwise generated at
    the signature's sizes (dynamic axes other than the batch at shapes.SMALL, within the
    source's bounds). Without `batch_n` (the batch was verified at 1 only), batch 1 alone."""
    if given is not None and layout.batched:
        largest = min(BATCH_N if batch_n else 1, samples_in(given, layout.inputs))
        return [{name: take(array, layout.inputs.get(name), 0, batch) for name, array in given.items()}
                for batch in sorted({1, largest})]
    if given is not None:
        return [{name: array[0] for name, array in given.items()}]
    sizes = [1, BATCH_N] if layout.batched and batch_n else [1]
    return [random_inputs(signature, example(signature, bounds, batch, layout)) for batch in sizes]


def performance(runners: list[Runner], sizes_bytes: list[int], measured_on: list[Batch]) -> list[dict[str, Any]]:
    """api.conversionjob.Performance as camelCase fields, one per runner, over `inputs(...)`."""
    figures: list[dict[str, Any]] = [{"sizeBytes": size} for size in sizes_bytes]
    for key, batch in zip(("latencyP50MsBatch1", "latencyP50MsBatchN"), measured_on, strict=False):  # batch N only where measured
        for figure, latency in zip(figures, p50_ms(runners, batch), strict=True):
            figure[key] = latency
    if len(measured_on) > 1:
        for figure in figures:
            figure["batchSize"] = len(next(iter(measured_on[1].values())))
    return figures


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def benchmark(source: dict[str, Any], output: dict[str, Any], measured_on: list[Batch] | None = None,
              given: bool = False) -> dict[str, Any]:
    """api.conversionjob.Benchmark: speed-up is source latency / converted latency; with the
    inputs, the shapes measured at and whether they were the user's."""
    body: dict[str, Any] = {"source": source, "output": output}
    if measured_on:
        body["inputs"] = "given" if given else "generated"
        body["shapes"] = [{name: list(array.shape) for name, array in batch.items()} for batch in measured_on]
    for key, field in (("speedupBatch1", "latencyP50MsBatch1"), ("speedupBatchN", "latencyP50MsBatchN")):
        value = _ratio(source.get(field), output.get(field))
        if value is not None:
            body[key] = value
    size = _ratio(output.get("sizeBytes"), source.get("sizeBytes"))
    if size is not None:
        body["sizeRatio"] = size
    body["measuredOn"] = machine()
    return body


def machine() -> str:
    """This machine as the benchmark saw it, e.g. `x86_64, 2 CPUs, Intel(R) Xeon(R) ...`."""
    import os
    import platform
    import sys

    parts = [platform.machine() or "unknown", f"{os.cpu_count() or 0} CPUs"]
    model = _cpu_model()
    if model:
        parts.append(model)
    torch = sys.modules.get("torch")  # a GPU is named only where torch is loaded already
    if torch is not None and torch.cuda.is_available():
        parts.append(torch.cuda.get_device_name(0))
    return ", ".join(parts)[:256]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.lower().startswith(("model name", "cpu model", "hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def summary(bench: dict[str, Any]) -> str:
    """One line for the result message: '1.80x faster at batch 1', '5.60x slower ...'."""
    parts = []
    for key, label in (("speedupBatch1", "batch 1"), ("speedupBatchN", f"batch {bench['output'].get('batchSize', BATCH_N)}")):
        value = bench.get(key)
        if value:
            parts.append(f"{speed_phrase(value)} at {label}")
    if bench.get("sizeRatio"):
        parts.append(f"size x{bench['sizeRatio']:.2f}")
    return ", ".join(parts)
