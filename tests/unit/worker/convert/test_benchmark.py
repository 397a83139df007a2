"""Benchmark figures: source versus converted, speed-ups and the one-line summary."""

from __future__ import annotations

import numpy as np

from modelyard.api.common import Signature
from modelyard.api.conversionjob import Benchmark
from modelyard.worker.convert.benchmark import benchmark, inputs, performance, summary
from modelyard.worker.convert.layout import find

SIGNATURE = Signature.model_validate({"inputs": [{"name": "x", "shape": [-1, 4]}]})
STATIC = Signature.model_validate({"inputs": [{"name": "x", "shape": [1, 4]}]})


def test_performance_measures_both_batch_sizes():
    seen: list[int] = []

    def runner(batch):
        seen.append(len(batch["x"]))
        return [np.zeros(1)]

    [figures] = performance([runner], [1234], inputs(SIGNATURE, find(SIGNATURE)))
    assert figures["sizeBytes"] == 1234 and figures["batchSize"] == 4
    assert figures["latencyP50MsBatch1"] >= 0 and figures["latencyP50MsBatchN"] >= 0
    assert set(seen) == {1, 4}
    assert "latencyP50MsBatchN" not in performance([runner], [1], inputs(STATIC, find(STATIC)))[0]


def test_source_and_converted_runs_alternate_so_a_slower_machine_slows_both_alike():
    order: list[str] = []

    def runner(name):
        return lambda batch: order.append(name) or [np.zeros(1)]

    source, converted = performance([runner("source"), runner("converted")], [10, 5], inputs(SIGNATURE, find(SIGNATURE)))
    assert order[:6] == ["source", "converted"] * 3
    assert order.count("source") == order.count("converted")
    assert (source["sizeBytes"], converted["sizeBytes"]) == (10, 5)


def test_latency_is_measured_on_the_users_inputs_at_their_own_sizes():
    seen: list[tuple[int, ...]] = []

    def runner(batch):
        seen.append(batch["x"].shape)
        return [np.zeros(1)]

    given = {"x": np.ones((3, 32), dtype=np.float32)}
    dynamic = Signature.model_validate({"inputs": [{"name": "x", "shape": [-1, -1]}]})
    measured_on = inputs(dynamic, find(dynamic), given)
    [figures] = performance([runner], [1], measured_on)
    assert set(seen) == {(1, 32), (3, 32)} and figures["batchSize"] == 3, "batch N is at most the samples given"
    body = benchmark(figures, figures, measured_on, given=True)
    assert body["inputs"] == "given" and body["shapes"] == [{"x": [1, 32]}, {"x": [3, 32]}]
    assert Benchmark.model_validate(body).shapes == [{"x": [1, 32]}, {"x": [3, 32]}]
    seen.clear()
    assert "batchSize" not in performance([runner], [1], inputs(SIGNATURE, find(SIGNATURE), given={"x": np.ones((1, 4), np.float32)}))[0]
    assert set(seen) == {(1, 4)}


def test_generated_inputs_respect_the_sources_bounds():
    signature = Signature.model_validate({"inputs": [{"name": "tokens", "dtype": "int64", "shape": [-1, -1]}]})
    measured_on = inputs(signature, find(signature), bounds={"tokens": {1: (16, 512)}})
    assert [b["tokens"].shape for b in measured_on] == [(1, 16), (4, 16)], "8 tokens is below the source's least"
    assert benchmark({}, {}, measured_on)["inputs"] == "generated"


def test_speedups_and_summary():
    source = {"latencyP50MsBatch1": 12.0, "latencyP50MsBatchN": 40.0, "batchSize": 8, "sizeBytes": 1000}
    output = {"latencyP50MsBatch1": 70.0, "latencyP50MsBatchN": 20.0, "batchSize": 8, "sizeBytes": 250}
    body = benchmark(source, output)
    assert body["speedupBatch1"] == round(12 / 70, 3) and body["speedupBatchN"] == 2.0 and body["sizeRatio"] == 0.25
    assert Benchmark.model_validate(body).speedup_batch_n == 2.0
    assert summary(body) == "5.85x slower at batch 1, 2.00x faster at batch 8, size x0.25"


def test_the_benchmark_says_where_it_was_measured():
    import platform

    from modelyard.worker.convert.benchmark import benchmark

    body = benchmark({"latencyP50MsBatch1": 2.0}, {"latencyP50MsBatch1": 1.0})
    assert body["speedupBatch1"] == 2.0
    assert body["measuredOn"].startswith(platform.machine()) and "CPUs" in body["measuredOn"]
