"""Latency percentiles are per batch and per sample; throughput counts inference time only."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.worker.evaluate.latency import LatencyTally


def test_percentiles_and_throughput() -> None:
    tally = LatencyTally()
    for ms in range(1, 101):
        tally.add(ms / 1000, 10)
    got = tally.summary()
    assert got["latencyP50Ms"] == pytest.approx(np.percentile(np.arange(1, 101), 50))
    assert got["latencyP99Ms"] == pytest.approx(np.percentile(np.arange(1, 101), 99))
    assert got["latencyPerSampleP50Ms"] == pytest.approx(got["latencyP50Ms"] / 10)
    assert got["throughput"] == pytest.approx(1000 / (5050 / 1000))
    assert got["latencyPerSampleMs"] == pytest.approx(5050 / 1000)


def test_no_batches_no_numbers() -> None:
    assert LatencyTally().summary() == {}
