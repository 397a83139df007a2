"""Latency and throughput of the inference calls alone (data loading and metrics excluded).

Warm-up: the first batch is run `WARMUP` times untimed before measuring, so lazy
initialisation (kernel selection, allocator growth, connection setup) does not land in the
percentiles. `latencyP50Ms`/`P95`/`P99` are per batch (one call with `batchSize` samples, what a
client sending such a batch waits); `latencyPerSample*Ms` divide each call by its samples;
`throughput` is samples per second of inference time.
"""

from __future__ import annotations

from array import array

import numpy as np

WARMUP = 3


class LatencyTally:
    def __init__(self) -> None:
        # Compact arrays: one entry per batch, so memory stays small as the dataset grows.
        self.seconds = array("d")
        self.samples = array("q")

    def add(self, seconds: float, samples: int) -> None:
        self.seconds.append(seconds)
        self.samples.append(samples)

    def per_batch_ms(self) -> np.ndarray:
        return np.asarray(self.seconds) * 1000.0

    def summary(self) -> dict[str, float]:
        if not self.seconds:
            return {}
        batch = self.per_batch_ms()
        sample = batch / np.asarray(self.samples, dtype=np.float64)
        p50, p95, p99 = np.percentile(batch, [50, 95, 99])
        s50, s95, s99 = np.percentile(sample, [50, 95, 99])
        total = float(np.sum(self.seconds))
        return {
            "latencyP50Ms": float(p50), "latencyP95Ms": float(p95), "latencyP99Ms": float(p99),
            "latencyMeanMs": float(batch.mean()),
            "latencyPerSampleP50Ms": float(s50), "latencyPerSampleP95Ms": float(s95),
            "latencyPerSampleP99Ms": float(s99), "latencyPerSampleMs": total * 1000.0 / sum(self.samples),
            "throughput": sum(self.samples) / total if total > 0 else 0.0,
        }
