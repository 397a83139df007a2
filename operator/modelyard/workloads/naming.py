"""Deterministic, length-safe names and label values for child objects."""

from __future__ import annotations

import hashlib

MAX_JOB_NAME = 63  # the Job's pods get a suffix, and the job-name label must fit in 63
MAX_LABEL_VALUE = 63


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    head = text[: limit - len(digest) - 1].rstrip("-.")
    return f"{head}-{digest}"


def job_name(prefix: str, name: str) -> str:
    """`<prefix>-<name>`, truncated with a hash of the full name when too long."""
    return _shorten(f"{prefix}-{name}".replace(".", "-"), MAX_JOB_NAME)


def label_value(value: str) -> str:
    """A label value of at most 63 characters that still identifies `value`."""
    return _shorten(value, MAX_LABEL_VALUE)
