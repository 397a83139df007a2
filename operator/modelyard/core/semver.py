"""Semantic version precedence (semver.org §11), for picking the latest Ready version."""

from __future__ import annotations

from functools import total_ordering


@total_ordering
class SemVer:
    """A parsed version; build metadata is ignored for precedence."""

    def __init__(self, text: str):
        core, _, _build = text.partition("+")
        core, _, pre = core.partition("-")
        self.release = tuple(int(part) for part in core.split("."))
        self.pre = tuple(int(p) if p.isdigit() else p for p in pre.split(".")) if pre else ()
        self.text = text

    def _key(self) -> tuple:
        # A release sorts after its pre-releases; numeric identifiers sort before alphanumeric.
        pre = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.release, 0 if self.pre else 1, pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SemVer) and self._key() == other._key()

    def __lt__(self, other: "SemVer") -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"SemVer({self.text!r})"
