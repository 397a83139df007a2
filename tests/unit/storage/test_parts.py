"""Part sizes: any object up to S3's 5 TiB fits in 10,000 parts, memory stays bounded."""

from __future__ import annotations

import pytest

from modelyard.storage.parts import MAX_OBJECT, MAX_PART, MAX_PARTS, MIB, MIN_PART, ObjectTooLarge, plan_parts

GIB = 1024 * MIB
TIB = 1024 * GIB
SIZES = [0, 1, 5 * MIB, 64 * MIB, GIB, 100 * GIB, 156 * GIB, 157 * GIB, TIB, 3 * TIB, MAX_OBJECT]


@pytest.mark.parametrize("size", SIZES)
def test_every_size_up_to_5_tib_fits_in_10000_parts_within_the_part_limits(size: int):
    plan = plan_parts(size, 16 * MIB, 4)
    parts = -(-size // plan.base)
    assert parts <= MAX_PARTS
    assert MIN_PART <= plan.base <= MAX_PART
    assert plan.base % MIB == 0


def test_the_configured_part_size_stands_until_the_object_needs_larger_parts():
    assert plan_parts(100 * GIB, 16 * MIB, 4).base == 16 * MIB  # 6,400 parts
    assert plan_parts(200 * GIB, 16 * MIB, 4).base == 21 * MIB  # 20.48 MiB rounded up to a MiB
    assert plan_parts(MAX_OBJECT, 16 * MIB, 4).base == 525 * MIB
    assert plan_parts(MIB, 2 * MIB, 4).base == MIN_PART, "S3's 5 MiB minimum part"


def test_bytes_in_flight_stay_within_the_configured_budget_as_parts_grow():
    small = plan_parts(GIB, 16 * MIB, 4)
    assert small.budget == 64 * MIB
    assert small.may_add([16 * MIB] * 3, 16 * MIB, 4) and not small.may_add([16 * MIB] * 4, 16 * MIB, 4)
    large = plan_parts(TIB, 16 * MIB, 4)  # 105 MiB parts
    assert not large.may_add([large.base], large.base, 4), "one 105 MiB part at a time within 64 MiB"
    assert large.may_add([], large.base, 4), "a single part may always upload"


def test_a_stream_of_unknown_size_grows_its_parts_to_reach_5_tib():
    plan = plan_parts(None, 16 * MIB, 4)
    assert plan.grows
    assert [plan.size(n) // MIB for n in (1, 1000, 1001, 2001, 9000, 10_000)] == [16, 16, 32, 64, 4096, 5120]
    assert plan.capacity() >= MAX_OBJECT
    assert all(plan.size(n) <= MAX_PART for n in range(1, MAX_PARTS + 1))


def test_an_object_over_5_tib_is_refused():
    with pytest.raises(ObjectTooLarge, match="5 TiB"):
        plan_parts(MAX_OBJECT + 1, 16 * MIB, 4)
