"""Lists of days as people read them: runs of consecutive days rather than every date."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date


def date_ranges(days: Iterable[date]) -> list[tuple[date, date, int]]:
    """Runs of consecutive days as (first, last, count), in order."""
    runs: list[tuple[date, date, int]] = []
    for day in sorted(days):
        if runs and (day - runs[-1][1]).days == 1:
            first, _, count = runs[-1]
            runs[-1] = (first, day, count + 1)
        else:
            runs.append((day, day, 1))
    return runs


def span(first: date, last: date, count: int) -> str:
    """One run: ``2026-11-02`` or ``2026-11-02..2026-11-05 (4 days)``."""
    return str(first) if count == 1 else f"{first}..{last} ({span_count(count)})"


def span_count(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


def describe_days(days: list[date]) -> str:
    """Days as runs: ``2026-11-02``, ``2026-11-02..2026-11-05 (4 days)``, or runs joined by
    commas when there are gaps, with the number of days in all."""
    runs = date_ranges(days)
    text = ", ".join(str(first) if n == 1 else f"{first}..{last}" for first, last, n in runs)
    return text if len(days) == 1 else f"{text} ({len(days)} days)"
