"""Read ahead on a helper thread while the model runs.

Inference releases the GIL (onnxruntime, torch, a network call), so the next batch can be read,
decoded and checked meanwhile. Without it the work between two inference calls also lets the
runtime's thread pool go idle, and waking it costs more than the work itself (bench/evaluate.py
on a 16-core node: 0.87-0.90 of a bare onnxruntime loop without read-ahead, 0.94-0.96 with it).
At most `depth` batches wait, so memory stays flat.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator, TypeVar

T = TypeVar("T")
_END = object()


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """`items` in order, produced up to `depth` ahead; an error raised while producing is
    raised here, at the point in the sequence where it happened."""
    waiting: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                waiting.put((item, None))
                if stop.is_set():
                    return
            waiting.put((_END, None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            waiting.put((_END, error))

    worker = threading.Thread(target=produce, name="evaluate-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = waiting.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        # The consumer stopped (done, failed or abandoned): unblock the producer and wait for it,
        # so the dataset's files are not closed under its feet.
        stop.set()
        while worker.is_alive():
            try:
                waiting.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()
