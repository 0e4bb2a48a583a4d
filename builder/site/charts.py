"""Chart data: pure functions from daily summaries to Chart.js ``{"labels", "datasets"}``.

Each transform answers what analytics.pulpproject.org's JSON view of the same chart answered
(SPEC §6), with three limits that only change the output beyond an ordinary history
(docs/site.md explains them):

* ``full_days``: a time series keeps every day of its newest ``full_days``; before that it keeps
  one real day per ISO week (the newest day it has in that week). Values are never averaged.
* ``max_series``: a version chart keeps at most that many versions: half of them the most run
  on the newest day, the rest the highest daily peaks; the others are summed as ``"other"``.
* ``fold_below``: on each day, a bucket counting fewer systems than this goes into ``"other"``
  (1, the default, folds nothing).

Nothing here knows about MkDocs or files; ``builder.site.pages`` decides which chart goes where.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from typing import Any, TypeVar

from builder.metrics import CountBy, CountEach, MeanOf, Metric, Versions
from builder.summaries.summary import Summary, value_order, version_order

ChartData = dict[str, Any]
Counts = Mapping[Any, int]  # a value (version, number as text or int) -> systems
Day = tuple[date, Counts]
MeanDay = tuple[date, Mapping[str, float | None]]

OTHER = "other"
TIME_SERIES = ("versions_over_time", "buckets_over_time", "means_over_time", "systems_over_time")
T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    """How much one chart may hold before it is thinned; see the module docstring."""

    full_days: int = 400
    max_series: int = 20
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
    if isinstance(agg, Versions | CountEach) and name is None:
        raise ChartError(f"{metric.key}: a chart of this metric needs a name")
    out: list[Day] = []
    for summary in summaries:
        value = summary.metrics.get(metric.key)
        if value is None:
            continue
        if isinstance(agg, Versions | CountEach):
            counts = value.get(name)
            if counts:
                out.append((summary.date, counts))
        elif isinstance(agg, CountBy):
            out.append((summary.date, value))
        else:
            raise ChartError(f"{metric.key}: means cannot be drawn as counts")
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


def series_to_keep(rows: Sequence[Counts], cap: int) -> list[str]:
    """At most ``cap`` versions of a chart whose rows hold more: see :func:`versions_over_time`."""
    peak: dict[str, int] = {}
    for counts in rows:
        for key, n in counts.items():
            if key != OTHER and n > peak.get(key, 0):
                peak[key] = n
    if len(peak) <= cap:
        return list(peak)
    newest = rows[-1]
    by_version = sorted(peak, key=version_order, reverse=True)  # ties: the newer version first
    current = sorted((v for v in by_version if newest.get(v)), key=lambda v: -newest[v])
    kept = current[: (cap + 1) // 2]
    rest = sorted((v for v in by_version if v not in kept), key=lambda v: -peak[v])
    return kept + rest[: cap - len(kept)]


def stacked(labels: list[str], columns: list[tuple[str, list[int]]]) -> ChartData:
    """Chart.js data for a stacked area: the first dataset fills to the axis, the rest to it."""
    datasets: list[dict[str, Any]] = [
        {"label": label, "data": data, "fill": "-1"} for label, data in columns
    ]
    if datasets:
        datasets[0]["fill"] = "origin"
    return {"labels": labels, "datasets": datasets}


def columns_of(rows: Sequence[Counts], order: Sequence[Any]) -> list[tuple[Any, list[int]]]:
    """One zero-filled column per key of ``order``; counts of any other key go to "other"."""
    index = {key: i for i, key in enumerate(order)}
    columns = [[0] * len(rows) for _ in order]
    other = [0] * len(rows)
    for day, counts in enumerate(rows):
        for key, n in counts.items():
            i = index.get(key)
            if i is None:
                other[day] += n
            else:
                columns[i][day] += n
    out = list(zip(order, columns, strict=True))
    if any(other):
        out.append((OTHER, other))
    return out


# -- the chart kinds ------------------------------------------------------------------------


def versions_over_time(series: Sequence[Day], limits: Limits = Limits()) -> ChartData:
    """Systems per version per day, newest version first (``plugin_stats``).

    Beyond ``limits.max_series`` versions, half the places go to the versions with the most
    systems on the newest day and the rest to the highest daily peaks; the others are summed
    as "other" (a long tail of versions with a system or two each would otherwise push out
    every version that was once widely run).
    """
    days = thin(series, limits.full_days)
    rows = [fold_small(counts, limits.fold_below) for _, counts in days]
    keep = sorted(series_to_keep(rows, limits.max_series), key=version_order, reverse=True)
    labels = [day.isoformat() for day, _ in days]
    return stacked(labels, columns_of(rows, keep))


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
class Headline:
    """The overview's figures: the newest day, and the day 30 days before it when there is one."""

    day: date
    systems: int
    persistent_systems: int
    before: date | None = None
    systems_before: int | None = None

    @property
    def change(self) -> int | None:
        return None if self.systems_before is None else self.systems - self.systems_before


def headline(summaries: Sequence[Summary], days: int = 30) -> Headline | None:
    """The newest day's figures and the change since the newest day at least ``days`` older."""
    if not summaries:
        return None
    newest = summaries[-1]
    limit = newest.date - timedelta(days=days)
    before = [s for s in summaries if s.date <= limit]
    base = before[-1] if before else None
    return Headline(
        day=newest.date,
        systems=newest.systems,
        persistent_systems=newest.persistent_systems,
        before=base.date if base else None,
        systems_before=base.systems if base else None,
    )


# -- tables and CSV -------------------------------------------------------------------------

Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    """A chart's data as rows: what the HTML table and the CSV file show."""

    header: list[str]
    rows: list[list[Cell]]


def table(kind: str, data: ChartData, key_title: str = "value") -> Table:
    """The rows of a chart: one per day (time series), per age (demography) or per slice."""
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
    header = ["date", *(d["label"] for d in datasets)]
    columns = [d["data"] for d in datasets]
    return Table(
        header, [[label, *(c[i] for c in columns)] for i, label in enumerate(data["labels"])]
    )


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(tab: Table) -> str:
    """RFC 4180 CSV; text that a spreadsheet would run as a formula gets a leading quote."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([safe_cell(h) for h in tab.header])
    for row in tab.rows:
        writer.writerow(["" if c is None else safe_cell(c) for c in row])
    return out.getvalue()


def safe_cell(cell: Cell) -> Cell:
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell
    return cell
