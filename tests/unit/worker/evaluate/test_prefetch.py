"""Read-ahead keeps order, raises the producer's error in place, and stops when abandoned."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest

from modelyard.worker.evaluate.prefetch import prefetched


def test_order_is_kept() -> None:
    assert list(prefetched(iter(range(100)), depth=3)) == list(range(100))


def test_an_error_arrives_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("bad batch 3")

    seen = []
    with pytest.raises(ValueError, match="bad batch 3"):
        for item in prefetched(items()):
            seen.append(item)
    assert seen == [1, 2]


def test_abandoning_the_consumer_stops_the_producer() -> None:
    produced = []

    def items() -> Iterator[int]:
        for i in range(1000):
            produced.append(i)
            yield i

    stream = prefetched(items(), depth=2)
    assert next(stream) == 0
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "evaluate-prefetch"]
    assert len(produced) < 10
