"""A speed ratio reads the way round that is above one."""

from __future__ import annotations

import pytest

from modelyard.core.speed import speed_phrase


@pytest.mark.parametrize(
    ("speedup", "phrase"),
    [(1.8, "1.80x faster"), (0.72, "1.39x slower"), (0.5, "2.00x slower"), (2.634, "2.63x faster"),
     (1.0, "as fast"), (0.999, "as fast"), (1.004, "as fast")],
)
def test_a_slow_down_is_said_as_one(speedup, phrase):
    assert speed_phrase(speedup) == phrase


@pytest.mark.parametrize("speedup", [0, -1.5])
def test_a_ratio_that_is_not_positive_is_refused(speedup):
    with pytest.raises(ValueError):
        speed_phrase(speedup)
