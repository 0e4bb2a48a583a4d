"""Chart data: pure functions from daily summaries to Chart.js ``{"labels", "datasets"}``.

Each transform answers what analytics.pulpproject.org's JSON view of the same chart answered
(SPEC §6), within limits that keep files and charts readable (docs/site.md explains them;
``individual`` groups older versions in any history, the others act only on long ones):

* ``full_days``: a time series keeps every day of its newest ``full_days``; before that it keeps
  one real day per ISO week (the newest day it has in that week). Values are never averaged.
* ``individual``: a version chart draws its newest versions (8) one by one and sums the older
  ones by range (``3.21.x``, ``3.2x``, ``3.x``), at most ``max_series`` datasets in all.
* ``fold_below``: on each day, a bucket counting fewer systems than this goes into ``"other"``
  (1, the default, folds nothing).

Nothing here knows about MkDocs or files; ``builder.site.pages`` decides which chart goes where.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from typing import Any, TypeVar

from builder.buckets import Bucket
from builder.components import OTHER as PUBLISHED_OTHER
from builder.metrics import (
    CountBuckets,
    CountBy,
    CountEach,
    MeanOf,
    Metric,
    Versions,
    VersionsAlongside,
)
from builder.summaries.summary import Summary, value_order, version_order

ChartData = dict[str, Any]
Counts = Mapping[Any, int]  # a value (version, number as text or int) -> systems
Day = tuple[date, Counts]
MeanDay = tuple[date, Mapping[str, float | None]]

OTHER = "other"
TIME_SERIES = (
    "versions_over_time",
    "buckets_over_time",
    "means_over_time",
    "systems_over_time",
    "shares_over_time",
    "percentiles_over_time",
)
PERCENT_DIGITS = 1  # percentages in chart data: 12.3, rounded as the decision tables round
T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    """How much one chart may hold before it is thinned; see the module docstring."""

    full_days: int = 400
    max_series: int = 14  # datasets of a version chart (versions, ranges, other); pie slices
    individual: int = 8  # a version chart's newest versions drawn one by one
    fold_below: int = 1
    max_points: int = 1500  # demography: beyond this, runs of zero keep only their two ends


class ChartError(ValueError):
    """A chart definition that cannot be drawn from its metric."""


# -- series: what one chart reads from the summaries ------------------------------------------


def count_series(
    summaries: Sequence[Summary], metric: Metric, name: str | None = None
) -> list[Day]:
    """Per day, the counts a chart of ``metric`` draws; ``name`` picks a component or field.

    A component's series has only the days on which it was reported (as the old site's
    ``plugin_stats``); a field of a :class:`CountEach` only the days on which some system
    reported it (as the old site's ``rbac_stats``).
    """
    agg = metric.aggregate
    named = Versions | VersionsAlongside | CountEach | CountBuckets
    if isinstance(agg, named) and name is None:
        raise ChartError(f"{metric.key}: a chart of this metric needs a name")
    out: list[Day] = []
    for summary in summaries:
        value = summary.metrics.get(metric.key)
        if value is None:
            continue
        if isinstance(agg, named):
            counts = value.get(name)
            if counts:
                out.append((summary.date, as_other(counts)))
        elif isinstance(agg, CountBy):
            out.append((summary.date, as_other(value)))
        else:
            raise ChartError(f"{metric.key}: means cannot be drawn as counts")
    return out


def as_other(counts: Counts) -> Counts:
    """``counts`` with the cell a summary publishes folded counts under (``"(other)"``, SPEC
    §8) renamed to the charts' own "other", so a chart has one such series, drawn last."""
    if PUBLISHED_OTHER not in counts:
        return counts
    out = {key: n for key, n in counts.items() if key != PUBLISHED_OTHER}
    out[OTHER] = out.get(OTHER, 0) + counts[PUBLISHED_OTHER]
    return out


def mean_series(summaries: Sequence[Summary], metric: Metric) -> list[MeanDay]:
    """Per day that has some mean of the metric, its means (``{"processes__avg": 2.5, ...}``).

    A day on which every mean is null is left out, as the old site's ``deployment_stats`` left
    out the days it had no deployment stats for.
    """
    if not isinstance(metric.aggregate, MeanOf):
        raise ChartError(f"{metric.key}: only a mean metric can be drawn as means")
    return [
        (s.date, means)
        for s in summaries
        if (means := s.metrics.get(metric.key)) and any(v is not None for v in means.values())
    ]


def age_series(summaries: Sequence[Summary]) -> list[Day]:
    """Per day, systems (all of them, not only persistent ones) by age in days."""
    return [(s.date, s.age_count) for s in summaries]


# -- thinning and folding -------------------------------------------------------------------


def kept_days(days: Sequence[date], full_days: int) -> set[date]:
    """Every day within ``full_days`` of the newest; before that the newest day of each week."""
    if not days:
        return set()
    cutoff = max(days) - timedelta(days=full_days)
    kept = {day for day in days if day > cutoff}
    weekly: dict[tuple[int, int], date] = {}
    for day in days:
        if day <= cutoff:
            week = day.isocalendar()[:2]
            if week not in weekly or day > weekly[week]:
                weekly[week] = day
    return kept | set(weekly.values())


def thin(series: Sequence[tuple[date, T]], full_days: int) -> list[tuple[date, T]]:
    """The days of ``series`` that :func:`kept_days` keeps, in their order."""
    kept = kept_days([day for day, _ in series], full_days)
    if len(kept) == len(series):
        return list(series)
    return [row for row in series if row[0] in kept]


def fold_small(counts: Counts, below: int) -> dict[Any, int]:
    """``counts`` with every value counting fewer than ``below`` systems summed as "other"."""
    if below <= 1:
        return dict(counts)
    out: dict[Any, int] = {}
    for key, n in counts.items():
        target = OTHER if n < below else key
        out[target] = out.get(target, 0) + n
    return out


def stacked(labels: list[str], columns: list[tuple[str, list[int]]]) -> ChartData:
    """Chart.js data for a stacked area: the first dataset fills to the axis, the rest to it."""
    datasets: list[dict[str, Any]] = [
        {"label": label, "data": data, "fill": "-1"} for label, data in columns
    ]
    if datasets:
        datasets[0]["fill"] = "origin"
    return {"labels": labels, "datasets": datasets}


def columns_of(
    rows: Sequence[Counts], order: Sequence[Any], groups: Mapping[Any, Any] | None = None
) -> list[tuple[Any, list[int]]]:
    """One zero-filled column per key of ``order``; counts of any other key go to "other".

    ``groups`` sends a key to the column of another (a version to its range).
    """
    index = {key: i for i, key in enumerate(order)}
    columns = [[0] * len(rows) for _ in order]
    other = [0] * len(rows)
    for day, counts in enumerate(rows):
        for key, n in counts.items():
            i = index.get(key if groups is None else groups.get(key, key))
            if i is None:
                other[day] += n
            else:
                columns[i][day] += n
    out = list(zip(order, columns, strict=True))
    if any(other):
        out.append((OTHER, other))
    return out


# -- version ranges -------------------------------------------------------------------------

VERSION_START = re.compile(r"(\d+)\.(\d+)(\.\d+)?")
LEVELS_XYZ = ("minor", "decade", "major")  # 3.21.x, 3.2x, 3.x
LEVELS_XY = ("decade", "major")
EN_DASH = "\u2013"


def range_label(version: str, level: str) -> str | None:
    """The range holding ``version`` at ``level``; None for a version not starting ``X.Y``.

    ``minor``: ``3.21.4`` -> ``3.21.x``; ``decade``: ``3.21`` -> ``3.2x`` (3.20 to 3.29; the
    first decade is written ``3.0-3.9`` with an en dash); ``major``: ``3.21`` -> ``3.x``.
    """
    match = VERSION_START.match(version)
    if match is None:
        return None
    major, minor = int(match[1]), int(match[2])
    if level == "minor":
        return f"{major}.{minor}.x"
    if level == "decade":
        return f"{major}.{minor // 10}x" if minor >= 10 else f"{major}.0{EN_DASH}{major}.9"
    return f"{major}.x"


def ranges_at(versions: Sequence[str], level: str) -> list[tuple[str, list[str]]]:
    """``versions`` (newest first) grouped by their range at ``level``, newest range first."""
    out: dict[str, list[str]] = {}
    for version in versions:
        out.setdefault(range_label(version, level) or OTHER, []).append(version)
    return list(out.items())


Range = tuple[str, list[str]]  # (label, versions newest first)
RECENT_DAYS = 7  # a version's peak over these newest days says how many systems run it now


def version_ranges(
    versions: Sequence[str], levels: Sequence[str], budget: int, recent: Counts
) -> list[Range]:
    """``versions`` (newest first, each starting ``X.Y``) in at most ``budget`` ranges.

    It starts from the ranges of the finest level (``levels[0]``) and, while there are too
    many, merges ranges: all the ranges inside one range of a coarser level (``3.21.x`` …
    ``3.20.x`` into ``3.2x``), or the oldest ones into ``<X>.x and older``. Ranges that no
    system runs any more (none in ``recent``, each version's peak over the newest days) are
    merged first; then always the oldest, as few ranges as possible, a range of a coarser
    level before ``and older``. So the newest versions keep the finest ranges, and long-gone
    versions do not take places from those that still run.
    """
    ranges = ranges_at(versions, levels[0])
    while len(ranges) > budget:
        candidates = [
            (start, end, label, 0) for start, end, label in coarser_spans(ranges, levels[1:])
        ]
        for start in range(len(ranges) - 1):
            label = f"{range_label(ranges[start][1][0], 'major')} and older"
            candidates.append((start, len(ranges), label, 1))
        start, end, label, _ = min(
            candidates,
            key=lambda c: (weight(ranges[c[0] : c[1]], recent) > 0, -c[1], c[1] - c[0], c[3]),
        )
        merged = [v for _, members in ranges[start:end] for v in members]
        ranges[start:end] = [(label, merged)]
    return ranges


def weight(ranges: Sequence[Range], recent: Counts) -> int:
    return sum(recent.get(v, 0) for _, members in ranges for v in members)


def coarser_spans(ranges: Sequence[Range], levels: Sequence[str]) -> Iterator[tuple[int, int, str]]:
    """(start, end, label): runs of at least two ``ranges`` that all lie in one range
    ``label`` of a coarser level, and are every range that does."""
    for level in levels:
        labels = [{range_label(v, level) for v in members} for _, members in ranges]
        start = 0
        while start < len(ranges):
            end = start + 1
            while end < len(ranges) and len(labels[start]) == 1 and labels[end] == labels[start]:
                end += 1
            if end - start > 1:
                yield start, end, str(next(iter(labels[start])))
            start = end


def version_columns(
    rows: Sequence[Counts], limits: Limits
) -> list[tuple[str, list[int], list[str]]]:
    """(label, data, versions summed) of each dataset of a version chart, newest first.

    See :func:`versions_over_time`; ``versions`` is empty for a single version. A range
    holding a single version is drawn as that version.
    """
    present = sorted(
        {key for counts in rows for key in counts if key != OTHER}, key=version_order, reverse=True
    )
    shown = present[: limits.individual]
    older = [v for v in present[len(shown) :] if VERSION_START.match(v)]
    unranged = len(present) - len(shown) - len(older) > 0 or any(OTHER in c for c in rows)
    budget = max(1, limits.max_series - len(shown) - unranged)
    deep = any(m and m[3] for m in map(VERSION_START.match, present))
    recent: dict[str, int] = {}
    for counts in rows[-RECENT_DAYS:]:
        for key, n in counts.items():
            recent[key] = max(n, recent.get(key, 0))
    ranges = version_ranges(older, LEVELS_XYZ if deep else LEVELS_XY, budget, recent)
    members = {label: m for label, m in ranges if len(m) > 1}
    groups = {v: label for label, m in members.items() for v in m}
    order = [*shown, *(label if label in members else m[0] for label, m in ranges)]
    return [(key, data, members.get(key, [])) for key, data in columns_of(rows, order, groups)]


# -- the chart kinds ------------------------------------------------------------------------


def versions_over_time(
    series: Sequence[Day], limits: Limits = Limits(), apart: Sequence[str] = ()
) -> ChartData:
    """Systems per version per day, newest version first (``plugin_stats``).

    The newest ``limits.individual`` versions (8) are datasets of their own; older ones are
    summed by range, newest range first, each such dataset listing its ``versions``: per X.Y
    (``3.21.x``) on an X.Y.Z chart, per minor decade (``3.2x``) on an X.Y chart, coarser
    (``3.2x``, then ``3.x``) for the oldest when there would be more than ``limits.max_series``
    datasets. Versions not starting with ``X.Y`` beyond the newest are summed as "other".
    Keys in ``apart`` (``(no core)``) are no version: each is a dataset of its own, drawn last.
    """
    days = thin(series, limits.full_days)
    rows = [fold_small(counts, limits.fold_below) for _, counts in days]
    kept = [key for key in apart if any(key in counts for counts in rows)]
    extra: list[tuple[str, list[int], list[str]]] = [
        (key, [counts.get(key, 0) for counts in rows], []) for key in kept
    ]
    rows = [{k: n for k, n in counts.items() if k not in apart} for counts in rows]
    data = stacked([day.isoformat() for day, _ in days], [])
    columns = [*version_columns(rows, limits), *extra]
    for i, (label, column, versions) in enumerate(columns):
        dataset = {"label": label, "data": column, "fill": "-1" if i else "origin"}
        data["datasets"].append(dataset | ({"versions": versions} if versions else {}))
    return data


def power_bucket(n: int, zero_alone: bool) -> tuple[int, int]:
    """The power-of-two bucket of ``n`` as (low, high): 0, 1, 2, 3-4, 5-8, 9-16, ...

    With ``zero_alone`` false (ages), 0 and 1 share the first bucket: 0-1, 2, 3-4, ...
    """
    if n == 0 and zero_alone:
        return (0, 0)
    if n <= 1:
        return (n if zero_alone else 0, 1)
    high = 1 << (n - 1).bit_length()
    return (high // 2 + 1, high)


def bucket_label(bucket: tuple[int, int]) -> str:
    low, high = bucket
    return str(low) if low == high else f"{low}-{high}"


def bucket_counts(counts: Counts, zero_alone: bool) -> dict[Any, int]:
    """``counts`` keyed by number, summed into power-of-two buckets; other keys go to "other"."""
    out: dict[Any, int] = {}
    for key, n in counts.items():
        try:
            number = int(key)
        except ValueError:
            number = -1
        bucket: Any = power_bucket(number, zero_alone) if number >= 0 else OTHER
        out[bucket] = out.get(bucket, 0) + n
    return out


def buckets_over_time(
    series: Sequence[Day],
    limits: Limits = Limits(),
    *,
    zero_alone: bool = True,
    largest_first: bool = False,
) -> ChartData:
    """Systems per power-of-two bucket per day, stacked (``rbac_stats``, ``systems_by_age``).

    Buckets have fixed boundaries; a bucket appears when some day has systems in it.
    """
    days = thin(series, limits.full_days)
    rows = [fold_small(bucket_counts(c, zero_alone), limits.fold_below) for _, c in days]
    present = sorted({b for counts in rows for b in counts if b != OTHER}, reverse=largest_first)
    labels = [day.isoformat() for day, _ in days]
    columns = [(bucket_label(b) if b != OTHER else b, d) for b, d in columns_of(rows, present)]
    return stacked(labels, columns)


def mean_label(field: str) -> str:
    """``processes__avg`` -> ``Mean Processes``, as the old site named its datasets."""
    return "Mean " + field.removesuffix("__avg").replace("_", " ").title()


def means_over_time(
    series: Sequence[MeanDay], fields: Sequence[str], limits: Limits = Limits()
) -> ChartData:
    """One line per mean (``deployment_stats``); null where nobody sent the field."""
    days = thin(series, limits.full_days)
    datasets = [
        {"label": mean_label(f), "data": [values.get(f"{f}__avg") for _, values in days]}
        for f in fields
    ]
    return {"labels": [day.isoformat() for day, _ in days], "datasets": datasets}


def postgresql_label(key: Any) -> str:
    """A ``server_version_num`` as people write it: 0 -> Unknown, 90200 -> 9.2.0, 140005 -> 14.5."""
    try:
        n = int(key)
    except ValueError:
        return str(key)
    if n == 0:
        return "Unknown"
    if n < 0:
        return str(key)
    if n < 100000:
        return f"{n // 10000}.{n // 100 % 100}.{n % 100}"
    return f"{n // 10000}.{n % 10000}"


LABELS: dict[str, Callable[[Any], str]] = {"postgresql": postgresql_label, "plain": str}


def newest_pie(
    series: Sequence[Day], limits: Limits = Limits(), *, labels: str = "plain"
) -> ChartData:
    """The newest day's systems per value, ascending by value (``postgresql_versions``)."""
    if not series:
        return {"labels": [], "datasets": []}
    counts = fold_small(series[-1][1], limits.fold_below)
    keys = [k for k in counts if k != OTHER]
    if len(keys) > limits.max_series:
        keys = sorted(keys, key=lambda k: -counts[k])[: limits.max_series]
    keys.sort(key=value_order)
    other = sum(n for k, n in counts.items() if k not in keys)
    label = LABELS[labels]
    names = [label(k) for k in keys] + ([OTHER] if other else [])
    data = [counts[k] for k in keys] + ([other] if other else [])
    return {"labels": names, "datasets": [{"data": data}]}


def demography(age_count: Counts, limits: Limits = Limits()) -> ChartData:
    """Systems by age on one day, oldest first, with the running total (``demography``).

    Ages run from the oldest + 1 down to the youngest, gaps filled with 0. Past
    ``limits.max_points`` ages, a run of zeros keeps only its two ends: on the linear axis
    the lines are the same.
    """
    ages = sorted(((int(age), n) for age, n in age_count.items()), reverse=True)
    if not ages:
        return {"datasets": []}
    data: list[dict[str, int]] = []
    age = ages[0][0] + 1
    for item_age, n in ages:
        data.extend({"age": a, "count": 0} for a in range(age, item_age, -1))
        data.append({"age": item_age, "count": n})
        age = item_age - 1
    running = list(
        accumulate(data, lambda prev, d: {"age": d["age"], "count": prev["count"] + d["count"]})
    )
    if len(data) > limits.max_points:
        keep = zero_run_ends(data)
        data = [d for i, d in enumerate(data) if i in keep]
        running = [d for i, d in enumerate(running) if i in keep]
    parsing = {"xAxisKey": "age", "yAxisKey": "count"}
    return {
        "datasets": [
            {"label": "count", "data": data, "parsing": parsing},
            {"label": "accumulated", "data": running, "parsing": parsing, "fill": True},
        ]
    }


def zero_run_ends(points: Sequence[Mapping[str, int]]) -> set[int]:
    """Indexes to keep: every non-zero point, and the first and last point of each zero run."""
    counts = [0, *(point["count"] for point in points), 0]  # counts[i + 1] is points[i]
    ends = {0, len(points) - 1}
    return {i for i in range(len(points)) if counts[i] or counts[i + 1] or counts[i + 2]} | ends


def systems_over_time(summaries: Sequence[Summary], limits: Limits = Limits()) -> ChartData:
    """Systems that reported each day, and how many of them were persistent."""
    days = thin([(s.date, s) for s in summaries], limits.full_days)
    return {
        "labels": [day.isoformat() for day, _ in days],
        "datasets": [
            {"label": "systems", "data": [s.systems for _, s in days]},
            {"label": "persistent systems", "data": [s.persistent_systems for _, s in days]},
        ],
    }


def as_percent(share: float | None) -> float | None:
    """A share (0..1) as a percentage with :data:`PERCENT_DIGITS` decimals; None stays None."""
    return None if share is None else round(share * 100, PERCENT_DIGITS)


def shares_over_time(
    rows: Sequence[tuple[date, Sequence[float | None]]],
    labels: Sequence[str],
    limits: Limits = Limits(),
) -> ChartData:
    """One line per label of percentages per day (PostgreSQL minimums: the share below each).

    ``rows`` holds each day's shares (0..1, or None for no share), one per label in order;
    the data holds them as percentages, null where there is no share.
    """
    days = thin(rows, limits.full_days)
    datasets = [
        {"label": label, "data": [as_percent(shares[i]) for _, shares in days]}
        for i, label in enumerate(labels)
    ]
    return {"labels": [day.isoformat() for day, _ in days], "datasets": datasets}


def percentiles_over_time(
    rows: Sequence[tuple[date, Sequence[Bucket | None]]],
    labels: Sequence[str],
    limits: Limits = Limits(),
) -> ChartData:
    """One line per percentile (median, 90th percentile) per day, each point the bucket the
    percentile lies in (``builder.site.decisions.percentile``).

    ``rows`` holds each day's buckets, one per label in order (None: no figure that day). A
    dataset's ``data`` is each bucket's lowest number, ``high`` its highest (null when it is
    open-ended, "33 or more"; the chart draws the band between them) and ``ranges`` the bucket
    as people write it (``9-16`` with an en dash, ``≥ 33``), which its table shows.
    """
    days = thin(rows, limits.full_days)
    datasets = []
    for i, label in enumerate(labels):
        points = [buckets[i] for _, buckets in days]
        datasets.append(
            {
                "label": label,
                "data": [None if b is None else b.low for b in points],
                "high": [None if b is None else b.high for b in points],
                "ranges": [None if b is None else b.label for b in points],
            }
        )
    return {"labels": [day.isoformat() for day, _ in days], "datasets": datasets}


def adoption_curves(
    curves: Sequence[tuple[str, Sequence[float | None]]], levels: Sequence[int] = ()
) -> ChartData:
    """The share of systems on each release per day since it was first seen, as percentages.

    ``curves`` are (release, shares from the day it was first seen on); labels are the days
    since first seen (0, 1, 2, ...) up to the longest curve, shorter curves padded with null.
    ``levels`` (percentages, such as 10 and 50) are a top-level list beside the datasets that
    the chart draws as lines across.
    """
    if not curves:
        return {"labels": [], "datasets": []}
    length = max(len(shares) for _, shares in curves)
    datasets = [
        {"label": release, "data": [*map(as_percent, shares), *[None] * (length - len(shares))]}
        for release, shares in curves
    ]
    return {"labels": list(range(length)), "datasets": datasets, "levels": list(levels)}


# -- marks on time charts ------------------------------------------------------------------

HISTORY_LABEL = "imported history ends"


def history_annotations(summaries: Sequence[Summary]) -> list[dict[str, str]]:
    """The mark where the history imported from the old site ends (SPEC §10), if any.

    ``[{"type": "history", "date": <newest imported day>, "label": "imported history ends"}]``,
    or ``[]`` when no summary was imported.
    """
    imported = [s.date for s in summaries if s.source == "legacy"]
    if not imported:
        return []
    return [{"type": "history", "date": max(imported).isoformat(), "label": HISTORY_LABEL}]


def annotate(kind: str, data: ChartData, annotations: Sequence[Mapping[str, str]]) -> ChartData:
    """A time chart's data with the ``annotations`` that fall on or after its first day, as a
    top-level ``annotations`` list beside ``labels`` and ``datasets`` (which stay as they are).
    Other charts, and time charts without such a mark, are returned unchanged."""
    labels = data.get("labels") or []
    if kind not in TIME_SERIES or not labels:
        return data
    marks = [dict(a) for a in annotations if a["date"] >= labels[0]]
    return {**data, "annotations": marks} if marks else data


# -- headline figures -----------------------------------------------------------------------


@dataclass(frozen=True)
class WindowMean:
    """Means per day over the days with a summary from ``first`` to ``last`` (inclusive)."""

    first: date
    last: date
    days: int  # days with a summary in the window
    systems: float
    persistent_systems: float


@dataclass(frozen=True)
class Headline:
    """The overview's figures: means over the newest 7 days, and the 7 days before them."""

    day: date  # the newest day with a summary
    systems: int  # on that day
    current: WindowMean
    previous: WindowMean | None = None  # None when no day of that window has a summary

    def change(self, field: str) -> tuple[float, float | None] | None:
        """(difference, relative difference or None) of a mean against the previous window."""
        if self.previous is None:
            return None
        now, before = getattr(self.current, field), getattr(self.previous, field)
        return now - before, (now - before) / before if before else None


def window_mean(summaries: Sequence[Summary], first: date, last: date) -> WindowMean | None:
    """The means of the summaries dated ``first`` to ``last``; None when there are none."""
    days = [s for s in summaries if first <= s.date <= last]
    if not days:
        return None
    return WindowMean(
        first=first,
        last=last,
        days=len(days),
        systems=sum(s.systems for s in days) / len(days),
        persistent_systems=sum(s.persistent_systems for s in days) / len(days),
    )


def headline(summaries: Sequence[Summary], days: int = 7) -> Headline | None:
    """Systems per day over the newest ``days`` days and over the ``days`` before them.

    Windows are calendar days ending on the newest summary; a mean is over the days of its
    window that have a summary (a missing day is not a day of zero systems).
    """
    if not summaries:
        return None
    newest = summaries[-1].date
    span = timedelta(days=days)
    first = newest - span + timedelta(days=1)
    current = window_mean(summaries, first, newest)
    assert current is not None  # the newest summary is in its own window
    previous = window_mean(summaries, first - span, first - timedelta(days=1))
    return Headline(newest, summaries[-1].systems, current, previous)


# -- tables and CSV -------------------------------------------------------------------------

Cell = str | int | float | None
STACKED = ("versions_over_time", "buckets_over_time")


@dataclass(frozen=True)
class Table:
    """A chart's data as rows: what the HTML table and the CSV file show."""

    header: list[str]
    rows: list[list[Cell]]
    footer: list[Cell] | None = None  # a row of totals under the table
    total_column: bool = False  # the last column is each row's total


FIRST_COLUMN = {"adoption_curves": "days since first seen"}  # otherwise "date"
ASCENDING = ("adoption_curves",)  # reading tables that keep the data's order
RANGED = ("percentiles_over_time",)  # tables that show each point's bucket (``ranges``)


def table(kind: str, data: ChartData, key_title: str = "value") -> Table:
    """The rows of a chart in the data's order: per day (time series), per age or per slice.

    This is what the CSV file holds, the same values as the JSON file.
    """
    datasets = data.get("datasets", [])
    if kind == "demography":
        if not datasets:
            return Table(["age", "count", "accumulated"], [])
        counts, running = datasets[0]["data"], datasets[1]["data"]
        rows: list[list[Cell]] = [
            [c["age"], c["count"], r["count"]] for c, r in zip(counts, running, strict=True)
        ]
        return Table(["age", "count", "accumulated"], rows)
    if kind == "newest_pie":
        values = datasets[0]["data"] if datasets else []
        return Table(
            [key_title, "systems"], [[k, v] for k, v in zip(data["labels"], values, strict=True)]
        )
    header = [FIRST_COLUMN.get(kind, "date"), *(d["label"] for d in datasets)]
    columns = [d["ranges"] if kind in RANGED else d["data"] for d in datasets]
    return Table(
        header, [[label, *(c[i] for c in columns)] for i, label in enumerate(data["labels"])]
    )


def reading_table(kind: str, data: ChartData, key_title: str = "value") -> Table:
    """The table people read: newest day (youngest age) first, a total column for stacked
    charts, and a total row under a pie's slices. Adoption curves keep their order: the day a
    release was first seen first."""
    tab = table(kind, data, key_title)
    if kind == "newest_pie":
        total = sum(row[1] for row in tab.rows if isinstance(row[1], int))
        return Table(tab.header, tab.rows, ["total", total] if tab.rows else None)
    rows = tab.rows if kind in ASCENDING else tab.rows[::-1]
    if kind in STACKED:
        totals = [[*row, row_total(row[1:])] for row in rows]
        return Table([*tab.header, "total"], totals, total_column=True)
    return Table(tab.header, rows)


def row_total(cells: Sequence[Cell]) -> int | float:
    return sum(c for c in cells if isinstance(c, int | float))


# A cell starting with one of these runs as a formula in some spreadsheet (the full-width
# forms in some East Asian locales); control characters split rows (universal newlines) or
# cells (tab) in some parsers; ',', ';' and '|' are the cell separators of some locales.
FORMULA_START = "=+-@\uff1d\uff0b\uff0d\uff20"
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
PIECE_START = re.compile(f'(^|[,;|])([\\s"\ufffd]*)(?=[{re.escape(FORMULA_START)}])')


def csv_text(tab: Table) -> str:
    """RFC 4180 CSV in which no cell can start a formula, whatever the reader's locale.

    See :func:`safe_cell`.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([safe_cell(h) for h in tab.header])
    for row in tab.rows:
        writer.writerow(["" if c is None else safe_cell(c) for c in row])
    return out.getvalue()


def safe_cell(cell: Cell) -> Cell:
    """Text a spreadsheet cannot run: control characters become U+FFFD, and a ``'`` goes
    before every formula character that starts the text or follows a separator (``,`` ``;``
    ``|``) and blanks, quotes or U+FFFD. So ``=1+1`` is written ``'=1+1``, ``1;=1+1`` is written
    ``1;'=1+1`` (in a ``;`` locale the second cell starts with ``'``), and a bare CR can no
    longer start a row. Numbers are left alone.
    """
    if not isinstance(cell, str):
        return cell
    return PIECE_START.sub(r"\1\2'", CONTROL.sub("\ufffd", cell))
