"""How a multipart upload is cut: part sizes that fit any object under S3's limits, and how
many parts may be in flight so memory stays flat whatever the size.

S3's limits (AWS, and what MinIO, Ceph RGW and OBS enforce too): at most 10,000 parts, each
5 MiB to 5 GiB (the last may be smaller), objects up to 5 TiB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIB = 1024 * 1024
MAX_PARTS = 10_000
MIN_PART = 5 * MIB
MAX_PART = 5 * 1024 * MIB
MAX_OBJECT = 5 * 1024 * 1024 * MIB
GROWTH_EVERY = 1_000
"""For a stream of unknown size, the part size doubles every this many parts."""


class ObjectTooLarge(ValueError):
    """The object cannot be stored as one S3 object."""


@dataclass(frozen=True)
class PartPlan:
    """Part sizes for one upload and how many parts may be uploading at once."""

    base: int
    """Size of the first part (and of every part when the object's size is known)."""
    budget: int
    """Bytes of parts that may be uploading at once (one part always may, however large)."""
    grows: bool = False
    """True when the size was unknown: sizes double every GROWTH_EVERY parts (capped at 5 GiB),
    so 10,000 parts still reach 5 TiB."""

    def size(self, number: int) -> int:
        """Size of part `number` (1-based); the last part may be shorter."""
        if not self.grows:
            return self.base
        return min(self.base << ((number - 1) // GROWTH_EVERY), MAX_PART)

    def may_add(self, in_flight: list[int], size: int, concurrency: int) -> bool:
        """Whether a part of `size` bytes may start while parts of `in_flight` sizes upload."""
        return not in_flight or (len(in_flight) < concurrency and sum(in_flight) + size <= self.budget)

    def capacity(self) -> int:
        """The largest object this plan can store in MAX_PARTS parts."""
        return sum(self.size(n) for n in range(1, MAX_PARTS + 1))


def plan_parts(object_size: int | None, part_size: int, concurrency: int) -> PartPlan:
    """The plan for an object of `object_size` bytes (None: unknown), starting from the configured
    `part_size` and `concurrency`.

    The part size grows with the object only as far as 10,000 parts need (rounded up to a MiB);
    fewer parts are in flight as parts grow (a byte budget of part_size x concurrency), so the
    memory held stays what the configured settings give, until a single part alone is larger
    (objects over about 1.2 TiB at the defaults).
    """
    if object_size is not None and object_size > MAX_OBJECT:
        raise ObjectTooLarge(f"{object_size} bytes is over S3's 5 TiB limit for one object")
    base = max(part_size, MIN_PART)
    grows = object_size is None
    if object_size is not None:
        needed = math.ceil(object_size / MAX_PARTS / MIB) * MIB
        base = min(max(base, needed), MAX_PART)
    return PartPlan(base=base, budget=max(part_size, MIN_PART) * concurrency, grows=grows)
