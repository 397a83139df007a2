"""Reconciles asked for later: a Job whose worker has not started changes nothing a watch
would deliver (its pod is unschedulable, cannot pull its image, misses a Secret), so the
object that waits on it is looked at again after a delay instead of at the next resync."""

from __future__ import annotations

import heapq
import logging
import threading
import time
from typing import Callable

log = logging.getLogger("modelyard.recheck")
Key = tuple[str, str, str]


class Rechecks:
    """One thread, one heap; an object is due at most once at a time (its earliest request)."""

    def __init__(self, run: Callable[[str, str, str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.run, self.clock = run, clock
        self._heap: list[tuple[float, Key]] = []
        self._due: dict[Key, float] = {}
        self._wake = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def after(self, delay: float, kind: str, namespace: str, name: str) -> None:
        key, when = (kind, namespace, name), self.clock() + delay
        with self._wake:
            if key in self._due and self._due[key] <= when:
                return
            self._due[key] = when
            heapq.heappush(self._heap, (when, key))
            self._wake.notify()

    def pending(self) -> dict[Key, float]:
        with self._wake:
            return dict(self._due)

    def due_now(self) -> list[Key]:
        """Pop every request that is due (stale heap entries of re-requested keys skipped)."""
        now, ready = self.clock(), []
        with self._wake:
            while self._heap and self._heap[0][0] <= now:
                when, key = heapq.heappop(self._heap)
                if self._due.get(key) == when:
                    del self._due[key]
                    ready.append(key)
        return ready

    def _loop(self) -> None:
        while True:
            with self._wake:
                if self._stopped:
                    return
                timeout = max(0.0, self._heap[0][0] - self.clock()) if self._heap else None
                self._wake.wait(timeout)
                if self._stopped:
                    return
            for kind, namespace, name in self.due_now():
                try:
                    self.run(kind, namespace, name)
                except Exception:  # noqa: BLE001 - infrastructure errors: the resync retries
                    log.exception("recheck of %s %s/%s failed", kind, namespace, name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="rechecks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(10)
