"""Kubernetes resource quantities as exact numbers, so that requests and limits can be compared.

The grammar is the API server's (`k8s.io/apimachinery/pkg/api/resource`): a signed decimal
number followed by a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m k M G T P E)
or a decimal exponent (`e3`, `E-2`). Values are `Fraction`s: `500m` and `0.5` compare equal, and
no float rounding can turn a valid pair into an invalid one.
"""

from __future__ import annotations

import re
from fractions import Fraction

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_QUANTITY = re.compile(
    rf"(?P<number>{_NUMBER})(?:(?P<binary>[KMGTPE]i)|[eE](?P<exponent>[+-]?[0-9]+)|(?P<decimal>[numkMGTPE]?))"
)


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse_quantity(value: str | int) -> Fraction:
    """The exact value of a quantity: `"1Gi"` -> 1073741824, `"250m"` -> 1/4, `"1e3"` -> 1000."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, int):
        return Fraction(value)
    text = str(value).strip()
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise QuantityError(f"{value!r} is not a quantity (e.g. 2, 500m, 1.5Gi, 1e3)")
    number = Fraction(match["number"])
    if match["binary"]:
        return number * 1024 ** _BINARY[match["binary"]]
    # "1E" alone is an exa suffix; "1E3" is an exponent (the API server reads them the same way).
    exponent = int(match["exponent"]) if match["exponent"] is not None else _DECIMAL[match["decimal"]]
    return number * Fraction(10) ** exponent
