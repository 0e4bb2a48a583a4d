"""Value buckets: the fixed boundaries that :class:`builder.metrics.CountBuckets` counts in.

Every whole number from 0 up to ``exact`` (8 by default) is a bucket of its own; above it the
buckets double: ``9-16``, ``17-32``, ``33-64`` and so on, so that small installations are
counted exactly and any number, however large, has a bucket. A summary file keys each bucket
by its range: ``"3"``, ``"9-16"``; publishing may merge neighbours (``"0-4"``) and make the
highest one open-ended (``"33+"``, see ``builder.metrics.MergeBuckets``). The same keys read
back as :class:`Bucket`; ``builder.site.decisions`` reads medians and percentiles from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KEY = re.compile(r"(0|[1-9][0-9]{0,17})(?:(-)([1-9][0-9]{0,17})|(\+))?")
KEY_PATTERN = r"^((0|[1-9][0-9]{0,17})(-[1-9][0-9]{0,17}|\+)?|\(other\))$"  # JSON Schema
EN_DASH = "\u2013"


@dataclass(frozen=True)
class Bucket:
    """The whole numbers from ``low`` to ``high`` (both included); ``high`` None: no end."""

    low: int
    high: int | None

    @property
    def key(self) -> str:
        """As a summary file writes it: ``3``, ``9-16``, ``33+``."""
        if self.high is None:
            return f"{self.low}+"
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"

    @property
    def label(self) -> str:
        """For people: ``3``, ``9-16`` written with an en dash, ``≥ 33``."""
        if self.high is None:
            return f"\u2265 {self.low}"
        return str(self.low) if self.low == self.high else f"{self.low}{EN_DASH}{self.high}"

    @property
    def order(self) -> tuple[int, float]:
        """Sort key: by the first number, then by the last (no end last)."""
        return (self.low, float("inf") if self.high is None else self.high)

    def span(self, other: Bucket) -> Bucket:
        """From this bucket's low to ``other``'s high: the range both lie in (``other`` is
        not below this one)."""
        return Bucket(self.low, other.high)


def bucket_of(number: int, exact: int = 8) -> Bucket:
    """The bucket counting ``number`` (>= 0): itself up to ``exact``, then 9-16, 17-32, ..."""
    if number < 0:
        raise ValueError(f"{number} is not a whole number >= 0")
    if number <= exact:
        return Bucket(number, number)
    high = 1 << (number - 1).bit_length()
    return Bucket(high // 2 + 1, high)


def parse(key: str) -> Bucket:
    """A bucket from its key; ValueError for anything else (``"(other)"`` included)."""
    match = KEY.fullmatch(key)
    if match is None:
        raise ValueError(f"{key[:40]!r} is not a bucket (such as 3, 9-16 or 33+)")
    low = int(match[1])
    if match[4]:
        return Bucket(low, None)
    high = int(match[3]) if match[2] else low
    if high <= low and match[2]:
        raise ValueError(f"{key!r} is not a bucket: its range ends before it starts")
    return Bucket(low, high)


def is_fixed_range(bucket: Bucket, exact: int = 8) -> bool:
    """Whether ``bucket`` is made of whole fixed buckets: it starts where one starts and ends
    where one ends (or has no end), so no count had to be split to write it."""
    starts = bucket_of(bucket.low, exact).low == bucket.low
    ends = bucket.high is None or bucket_of(bucket.high, exact).high == bucket.high
    return starts and ends


def ordered(counts: Mapping[str, int]) -> list[tuple[Bucket, int]]:
    """The buckets of a map (every key but ``"(other)"``) in order, lowest first."""
    pairs = [(parse(key), n) for key, n in counts.items() if key != "(other)"]
    return sorted(pairs, key=lambda pair: pair[0].order)


def first_overlap(buckets: Iterable[Bucket]) -> tuple[Bucket, Bucket] | None:
    """Two buckets that share a number, or None when they are disjoint."""
    previous: Bucket | None = None
    for bucket in sorted(buckets, key=lambda b: b.order):
        if previous is not None and (previous.high is None or previous.high >= bucket.low):
            return previous, bucket
        previous = bucket
    return None


def count_map(values: Iterable[tuple[int, int]], exact: int = 8) -> dict[str, int]:
    """Counts per value (``(value, systems)``, as SQL groups them) summed per bucket."""
    out: dict[Bucket, int] = {}
    for value, n in values:
        bucket = bucket_of(whole(value), exact)
        out[bucket] = out.get(bucket, 0) + n
    return {bucket.key: out[bucket] for bucket in sorted(out, key=lambda b: b.order)}


def whole(value: object) -> int:
    """A count that a report holds as a whole number; ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)
