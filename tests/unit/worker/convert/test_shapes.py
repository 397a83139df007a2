from __future__ import annotations

import numpy as np

from modelyard.api.common import Signature
from modelyard.worker.convert.shapes import cases, example, fit, generate

TOKENS = Signature.model_validate({"inputs": [{"name": "input_ids", "dtype": "int64", "shape": [-1, -1]},
                                             {"name": "attention_mask", "dtype": "int64", "shape": [-1, -1]}]})


def test_every_dynamic_axis_is_checked_small_and_large():
    small, large = cases(TOKENS, 16)
    assert small.shapes == {"input_ids": (1, 8), "attention_mask": (1, 8)} and small.run == 1
    assert large.shapes == {"input_ids": (16, 64), "attention_mask": (16, 64)} and large.run == 16
    assert small.samples == large.samples == 16
    assert [len(list(c.runs(generate(TOKENS, c)))) for c in (small, large)] == [16, 1]


def test_sizes_stay_within_the_sources_bounds():
    bounds = {"input_ids": {1: (16, 32)}, "attention_mask": {1: (16, 32)}}
    small, large = cases(TOKENS, 4, bounds)
    assert small.shapes["input_ids"] == (1, 16) and large.shapes["input_ids"] == (4, 32)
    assert example(TOKENS, bounds) == {"input_ids": (2, 16), "attention_mask": (2, 16)}


def test_a_static_signature_is_one_case_and_a_fixed_batch_runs_per_sample():
    static = Signature.model_validate({"inputs": [{"name": "x", "dtype": "float32", "shape": [1, 4]}]})
    (only,) = cases(static, 3)
    assert only.shapes == {"x": (1, 4)} and not only.batched and only.sample_shape("x") == (3, 1, 4)
    runs = list(only.runs(generate(static, only)))
    assert len(runs) == 3 and all(r["x"].shape == (1, 4) for r in runs)


def test_given_data_is_cropped_for_the_small_case_and_kept_for_the_large():
    ids = np.arange(5 * 32).reshape(5, 32)
    given = {"input_ids": ids, "attention_mask": np.ones((5, 32), dtype=np.int64)}
    small, large = cases(TOKENS, 6, given=given)
    assert small.shapes["input_ids"] == (1, 8) and large.shapes["input_ids"] == (6, 32), "the user's 32 tokens"
    cropped = fit(given, small)
    assert cropped["input_ids"].shape == (6, 8) and (cropped["input_ids"][5] == ids[0, :8]).all(), "cycled, cropped"
    short = {name: array[:, :4] for name, array in given.items()}
    small, large = cases(TOKENS, 2, given=short)
    padded = fit(short, large)
    assert large.shapes["input_ids"] == (2, 64) and (padded["attention_mask"][:, 4:] == 0).all(), "zero-padded"
