from __future__ import annotations

from dataclasses import replace

import numpy as np

from modelyard.api.common import Signature
import pytest

from modelyard.worker.convert.errors import ConversionError
from modelyard.worker.convert.shapes import axes_checked, cases, example, fit, generate, one_size_note

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


def test_given_data_is_checked_at_its_own_sizes_and_at_twice_them_where_the_source_takes_it():
    ids = np.arange(5 * 32).reshape(5, 32)
    given = {"input_ids": ids, "attention_mask": np.ones((5, 32), dtype=np.int64)}
    small, large, grown = cases(TOKENS, 6, given=given)
    assert small.shapes["input_ids"] == (1, 32) and large.shapes["input_ids"] == (5, 32), "the user's 5 x 32 tokens"
    assert grown.shapes["input_ids"] == (1, 64) and grown.optional and grown.samples == 4
    assert large.samples == 5, "6 asked, 5 given: the user's own, never copies"
    cycled = fit(given, replace(large, samples=6))
    assert cycled["input_ids"].shape == (6, 32) and (cycled["input_ids"][5] == ids[0]).all(), "cycled where asked"
    padded = fit(given, grown)
    assert padded["attention_mask"].shape == (4, 64) and (padded["attention_mask"][:, 32:] == 0).all(), "zero-padded"


DETECTOR = Signature.model_validate({"inputs": [{"name": "images", "shape": [-1, 3, -1, -1]}]})


def test_an_image_model_is_never_cropped_below_the_users_image_size():
    given = {"images": np.zeros((4, 3, 320, 320), dtype=np.float32)}
    chosen = cases(DETECTOR, 4, given=given)
    assert [c.shapes["images"] for c in chosen] == [(1, 3, 320, 320), (4, 3, 320, 320), (1, 3, 640, 640)]
    axes = axes_checked(DETECTOR, chosen[:2])
    assert axes == [{"input": "images", "axis": 0, "sizes": [1, 4], "batch": True},
                    {"input": "images", "axis": 2, "sizes": [320]}, {"input": "images", "axis": 3, "sizes": [320]}]
    assert one_size_note(axes).startswith("checked at one size only: images[2] at 320, images[3] at 320")


def test_without_data_the_sizes_are_those_the_source_runs_at():
    multiple_of_32 = lambda shapes: shapes["images"][2] % 32 == 0  # noqa: E731 - a stride-32 detector
    small, large = cases(DETECTOR, 4, accepts=multiple_of_32)
    assert small.shapes["images"] == (1, 3, 64, 64) and large.shapes["images"] == (4, 3, 32, 32)
    only_224 = lambda shapes: shapes["images"][2] == 224  # noqa: E731
    assert {c.shapes["images"][2] for c in cases(DETECTOR, 4, accepts=only_224)} == {224}
    with pytest.raises(ConversionError, match="fails at every size tried"):
        cases(DETECTOR, 4, accepts=lambda shapes: False)


STATEFUL = Signature.model_validate({"inputs": [
    {"name": "input", "shape": [-1, -1]}, {"name": "state", "shape": [2, -1, 128]},
    {"name": "sr", "dtype": "int64", "shape": []}]})


def test_samples_are_split_along_each_inputs_own_batch_axis():
    given = {"input": np.arange(4 * 6, dtype=np.float32).reshape(4, 6), "state": np.zeros((2, 4, 128), np.float32),
             "sr": np.array(16000)}
    small, large, _ = cases(STATEFUL, 4, given=given)
    assert small.shapes == {"input": (1, 6), "state": (2, 1, 128), "sr": ()}
    assert large.shapes == {"input": (4, 6), "state": (2, 4, 128), "sr": ()}
    runs = list(small.runs(fit(given, small)))
    assert len(runs) == 4 and runs[3]["state"].shape == (2, 1, 128) and int(runs[3]["sr"]) == 16000
    assert (runs[3]["input"] == given["input"][3:4]).all()
