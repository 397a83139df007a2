"""Kubernetes quantities compared exactly, in every notation the API server accepts."""

from __future__ import annotations

from fractions import Fraction

import pytest

from modelyard.workloads.quantity import QuantityError, parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", 2),
        (3, 3),
        ("500m", Fraction(1, 2)),
        ("0.5", Fraction(1, 2)),
        ("1Ki", 1024),
        ("1Mi", 1024**2),
        ("1.5Gi", 3 * 1024**3 // 2),
        ("2Ti", 2 * 1024**4),
        ("1k", 1000),
        ("1M", 10**6),
        ("1G", 10**9),
        ("1E", 10**18),
        ("1e3", 1000),
        ("1E3", 1000),
        ("25e-1", Fraction(5, 2)),
        (".5", Fraction(1, 2)),
        ("+1", 1),
        ("100n", Fraction(1, 10**7)),
    ],
)
def test_every_notation_has_its_exact_value(text, value):
    assert parse_quantity(text) == value


def test_binary_and_decimal_suffixes_compare_as_the_api_server_does():
    assert parse_quantity("1Gi") > parse_quantity("1G")
    assert parse_quantity("1024Mi") == parse_quantity("1Gi")
    assert parse_quantity("2000m") == parse_quantity("2")


@pytest.mark.parametrize("text", ["", "Gi", "1GB", "1gi", "1.2.3", "one", "1 Gi x", True])
def test_what_is_not_a_quantity_is_refused(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)
