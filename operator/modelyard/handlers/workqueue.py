"""Watch events become work: the latest body of each object and its key in a queue, taken by a
few threads, as an informer's work queue does.

Kopf hands every event of an object to its handler, one after the other. Reconciling each in
turn did the work of every stale body (each object has half a dozen events, most of them our
own writes coming back), and under a burst (thousands of objects applied at once) the events
waiting for a thread were all held, in full, at once: the operator's memory grew with the
burst (5,000 versions: 535 MiB), and a version waited minutes behind the stale bodies of
others. Here an object waits at most once however many events it has, with its newest body.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger("modelyard.workqueue")
Key = tuple[str, str, str]
"""Kind, namespace, name."""


@dataclass
class Work:
    """What is waiting for one object: its newest body (or none: reconcile it as last seen),
    whether it was added (or listed) meanwhile, whether it was asked for by name."""

    body: dict[str, Any] | None = None
    added: bool = False
    named: bool = False


WORKERS = 16
"""Threads reconciling at once (the API client's connection pool is sized for them)."""


class WorkQueue:
    """Keys in the order they first became due; a key being processed is not taken again
    until it is done, and work that arrived meanwhile makes it due again then."""

    def __init__(self, process: Callable[[Key, Work], None], workers: int = WORKERS) -> None:
        self.process, self.workers = process, workers
        self._work: dict[Key, Work] = {}
        self._order: deque[Key] = deque()
        self._active: set[Key] = set()
        self._wake = threading.Condition()
        self._stopped = False
        self._threads: list[threading.Thread] = []

    def add(self, key: Key, body: dict[str, Any] | None = None, added: bool = False, named: bool = False) -> None:
        with self._wake:
            work = self._work.get(key)
            if work is None:
                work = self._work[key] = Work()
                if key not in self._active:
                    self._order.append(key)
                    self._wake.notify()
            if body is not None:
                work.body = body
            work.added |= added
            work.named |= named

    def forget(self, key: Key, uid: Any) -> None:
        """The object `uid` was deleted: a body of it still waiting is not reconciled."""
        with self._wake:
            work = self._work.get(key)
            if work is not None and work.body is not None and (work.body.get("metadata") or {}).get("uid") == uid:
                work.body, work.added = None, False

    def waiting(self) -> int:
        with self._wake:
            return len(self._work)

    def take(self) -> tuple[Key, Work] | None:
        """The next due key and its work (marked active), or None once stopped."""
        with self._wake:
            while not self._order and not self._stopped:
                self._wake.wait()
            if self._stopped:
                return None
            key = self._order.popleft()
            self._active.add(key)
            return key, self._work.pop(key)

    def done(self, key: Key) -> None:
        with self._wake:
            self._active.discard(key)
            if key in self._work:
                self._order.append(key)
                self._wake.notify()

    def _loop(self) -> None:
        while (taken := self.take()) is not None:
            key, work = taken
            try:
                self.process(key, work)
            except Exception:  # noqa: BLE001 - process reports its own errors; never lose a thread
                log.exception("reconciling %s %s/%s failed", *key)
            finally:
                self.done(key)

    def start(self) -> None:
        for number in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"reconcile-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """No more work is taken; reconciles under way get `timeout` seconds in all to end
        (the threads are daemons: one stuck on the API does not hold the process)."""
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
