"""The evaluation loop: every batch through the model, timed, and into the metric tallies.

Batches are read and checked one or two ahead on a helper thread (prefetch.py) while the model
runs; the timed section is the inference call alone."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from itertools import chain
from typing import Callable, Iterator

import numpy as np

from modelyard.worker.evaluate.backends.base import Backend
from modelyard.worker.evaluate.conform import conform
from modelyard.worker.evaluate.datasets.base import Batch, Dataset
from modelyard.worker.evaluate.errors import EvaluationError, empty_dataset
from modelyard.worker.evaluate.latency import WARMUP, LatencyTally
from modelyard.worker.evaluate.metrics import ClassificationTally, RegressionTally, tally_for
from modelyard.worker.evaluate.prefetch import prefetched

PROGRESS_STEPS = 20


@dataclass
class Measurement:
    """What one model did on the dataset."""

    tally: ClassificationTally | RegressionTally
    latency: LatencyTally = field(default_factory=LatencyTally)
    samples: int = 0
    loop_seconds: float = 0.0
    """Wall time of the whole loop: reading, conforming, inference and tallying."""


def measure(backend: Backend, dataset: Dataset, batch_size: int, task: str, where: str,
            progress: Callable[[str], None] | None = None, label: str = "") -> Measurement:
    """Run `backend` over `dataset`; `task` is regression, classification or '' (from the output)."""
    if dataset.count == 0:
        raise empty_dataset(where.removeprefix("dataset "))
    total = math.ceil(dataset.count / batch_size)
    ready = ((batch, conform(batch, backend.inputs, where)) for batch in dataset.batches(batch_size))
    batches = prefetched(ready)
    try:
        first = next(batches, None)
        if first is None:
            raise empty_dataset(where.removeprefix("dataset "))
        for _ in range(WARMUP):
            output = backend.run(first[1])
        return _timed(backend, chain([first], batches), Measurement(tally_for(task, output)), total, progress, label)
    finally:
        batches.close()


def _timed(backend: Backend, batches: Iterator[tuple[Batch, dict[str, np.ndarray]]], result: Measurement, total: int,
           progress: Callable[[str], None] | None, label: str) -> Measurement:
    every = max(1, total // PROGRESS_STEPS)
    clock = time.perf_counter
    started = clock()
    for i, (batch, feed) in enumerate(batches, start=1):
        t0 = clock()
        output = backend.run(feed)
        result.latency.add(clock() - t0, len(batch))
        if len(output) != len(batch):
            raise EvaluationError("UnsupportedOutput", f"the model returned {len(output)} results for a batch of "
                                  f"{len(batch)} samples; its first output must have one row per sample")
        result.tally.add(output, batch.labels, batch.start)
        result.samples += len(batch)
        if progress and (i % every == 0 or i == total):
            progress(f"{label}batch {i}/{total}")
    result.loop_seconds = clock() - started
    return result
