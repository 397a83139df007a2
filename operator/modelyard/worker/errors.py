"""The base of every worker failure a user can act on."""

from __future__ import annotations


class WorkerError(Exception):
    """A failure with a CamelCase `reason` for programs and a message for people.

    The worker reports it as `{"ok": false, "reason": ..., "message": ...}` and exits 1; the
    operator copies both into the object's conditions.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message
