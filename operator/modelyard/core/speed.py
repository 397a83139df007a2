"""How a measured speed ratio reads: "1.80x faster", "1.39x slower".

A speed-up below one is a slow-down; "0.72x speed-up" makes the reader do the division, so
the ratio is always said the way round that is above one.
"""

from __future__ import annotations


def speed_phrase(speedup: float) -> str:
    """`source latency / converted latency` in words: 1.8 -> "1.80x faster", 0.72 -> "1.39x slower"."""
    if speedup <= 0:
        raise ValueError(f"a speed-up is a positive ratio, not {speedup!r}")
    ratio = speedup if speedup >= 1 else 1 / speedup
    if f"{ratio:.2f}" == "1.00":
        return "as fast"
    return f"{ratio:.2f}x {'faster' if speedup > 1 else 'slower'}"
