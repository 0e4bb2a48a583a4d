"""The figures the maintainers decide with, computed from daily summaries.

Shares of components and versions, window means and their trend, "this version or older", the
share of systems a PostgreSQL minimum would leave behind, how fast a release is taken up (and
its adoption curve), medians and percentiles of bucket counts (workers, content apps), and
numbers and shares rounded for people. The public JSON API
(``builder.site.api``) and the site's decision views (``builder.site.panels`` and the charts
beside them) are both built on these functions, so a figure is computed in one place only.
Nothing here knows about MkDocs or files.

Conventions, the same for every function:

* Summaries come oldest first (as ``load_all`` gives them); the newest day is the last one.
* Every count is of *persistent* systems, as in the summary files, except ``Summary.systems``.
* A share is a float in 0..1, or None when its denominator is zero ("no figure": a share of
  0 would claim that nobody runs something when there was nobody to ask). Shares are not
  rounded here; the API rounds them when it writes them.
* ``(other)`` is the key under which summaries fold versions too rare to publish (SPEC §8). It
  has no place in version order, so version figures leave it out and report its systems apart
  (``other_systems``); version shares are of the systems whose version is listed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from builder.buckets import Bucket, ordered
from builder.components import OTHER
from builder.metrics import METRICS, MeanOf, Metric, VersionsAlongside, metric
from builder.site.charts import postgresql_label
from builder.summaries.summary import Summary, version_order

XY = "xy_component"  # summary keys of the metrics read here (never renamed once published)
XYZ = "xyz_component"
POSTGRESQL = "postgresql_version"
CORE_XY = "core_xy_by_component"


def _alongside() -> VersionsAlongside:
    aggregate = metric(CORE_XY).aggregate
    assert isinstance(aggregate, VersionsAlongside)
    return aggregate


ALONGSIDE = _alongside()  # the core versions beside each component: core is its ``of``
NO_CORE = ALONGSIDE.missing  # the key of the systems that did not report core
FOLDED = OTHER
WINDOWS = (7, 30, 90, 365)  # days of the window means
TREND_WINDOW = 30  # days of the mean whose change the components index shows
PACE_PERCENTS = (10, 50)  # the shares of upgrade pace, in percent
UNKNOWN_POSTGRESQL = 0  # server_version_num 0: the client did not know its PostgreSQL

Counts = Mapping[str, int]


def ratio(part: int | float, whole: int | float) -> float | None:
    """``part / whole``, or None when ``whole`` is zero."""
    return part / whole if whole else None


# -- one component on one day ---------------------------------------------------------------


def component_counts(summary: Summary, name: str, key: str = XY) -> Counts:
    """Systems per version of component ``name`` on that day (``{}`` when it is absent)."""
    counts: Counts = summary.metrics.get(key, {}).get(name, {})
    return counts


def component_systems(summary: Summary, name: str) -> int:
    """Persistent systems running component ``name`` that day: its X.Y counts added up."""
    return sum(component_counts(summary, name).values())


@dataclass(frozen=True)
class Usage:
    """How many persistent systems run a component on one day, and their share of all."""

    day: date
    systems: int
    persistent_systems: int

    @property
    def share(self) -> float | None:
        return ratio(self.systems, self.persistent_systems)


def usage(summary: Summary, name: str) -> Usage:
    """The component's systems and share on the day of ``summary`` (0 when it is absent)."""
    return Usage(summary.date, component_systems(summary, name), summary.persistent_systems)


def rank(summary: Summary | None, names: Iterable[str]) -> list[str]:
    """``names``, most systems on the day of ``summary`` first, ties in name order."""
    if summary is None:
        return sorted(names)
    return sorted(names, key=lambda n: (-component_systems(summary, n), n))


# -- window means ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowMean:
    """Means over the ``length`` days ending on the newest day, of the days with a summary.

    ``days`` counts the summaries in the window: a missing day is skipped, not counted as
    zero systems. ``mean_share`` averages the daily shares of the days that had persistent
    systems at all (``share_days`` of them; a day with none has no share).
    """

    length: int
    days: int
    mean_systems: float | None
    share_days: int
    mean_share: float | None


def window(summaries: Sequence[Summary], length: int, end: date | None = None) -> list[Summary]:
    """The summaries of the ``length`` days ending on ``end`` (both ends included); ``end``
    defaults to the newest day."""
    if not summaries:
        return []
    last = summaries[-1].date if end is None else end
    start = last - timedelta(days=length - 1)
    out = []
    for summary in reversed(summaries):
        if summary.date < start:
            break
        if summary.date <= last:
            out.append(summary)
    return out[::-1]


def window_mean(
    summaries: Sequence[Summary], name: str, length: int, end: date | None = None
) -> WindowMean:
    """Mean systems and mean share of component ``name`` over the ``length`` days ending on
    ``end`` (the newest day by default); see WindowMean."""
    days = [usage(s, name) for s in window(summaries, length, end)]
    shares = [u.share for u in days if u.share is not None]
    return WindowMean(
        length=length,
        days=len(days),
        mean_systems=ratio(sum(u.systems for u in days), len(days)),
        share_days=len(shares),
        mean_share=ratio(sum(shares), len(shares)),
    )


def window_means(
    summaries: Sequence[Summary], name: str, lengths: Sequence[int] = WINDOWS
) -> list[WindowMean]:
    """:func:`window_mean` for each window length, in the order given."""
    return [window_mean(summaries, name, length) for length in lengths]


@dataclass(frozen=True)
class Trend:
    """A window mean against the same window just before it: is a component gaining systems?

    ``previous`` covers the ``length`` days before ``current`` began. ``change`` is the
    difference of their mean systems and ``relative`` that difference over the previous mean;
    both are None when a window has no summary (no mean to compare), and ``relative`` also
    when the previous mean is 0.
    """

    current: WindowMean
    previous: WindowMean

    @property
    def change(self) -> float | None:
        now, before = self.current.mean_systems, self.previous.mean_systems
        return None if now is None or before is None else now - before

    @property
    def relative(self) -> float | None:
        change, before = self.change, self.previous.mean_systems
        return None if change is None or before is None else ratio(change, before)


def trend(summaries: Sequence[Summary], name: str, length: int = TREND_WINDOW) -> Trend:
    """Component ``name``'s mean over the newest ``length`` days and over the ``length`` days
    before them; see Trend."""
    current = window_mean(summaries, name, length)
    if not summaries:
        return Trend(current, current)
    end = summaries[-1].date - timedelta(days=length)
    return Trend(current, window_mean(summaries, name, length, end))


# -- versions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionShare:
    """One version on one day: its systems, their share of the component's systems, and the
    share on this version or an older one ("can I drop it?" is one lookup)."""

    version: str
    systems: int
    share: float | None
    share_this_or_older: float | None


def version_shares(counts: Counts) -> list[VersionShare]:
    """Each version of ``counts``, newest first, with its share and share on it or older.

    "Older" is version order (``builder.summaries.summary.version_order``). Shares are of the
    systems whose version is listed, so they add up to 1; ``share_this_or_older`` is exactly 1
    on the newest version (every system runs it or an older one) and shrinks down the list to
    the oldest version's own share. ``(other)`` is left out (see :func:`other_systems`), and
    so are versions counting nobody.
    """
    listed = {v: n for v, n in counts.items() if v != FOLDED and n > 0}
    total = sum(listed.values())
    out = []
    running = 0
    for version in sorted(listed, key=version_order):
        running += listed[version]
        out.append(
            VersionShare(
                version, listed[version], ratio(listed[version], total), ratio(running, total)
            )
        )
    return out[::-1]


def other_systems(counts: Counts) -> int:
    """Systems on versions too rare to publish, folded into ``(other)`` by the summaries."""
    return counts.get(FOLDED, 0)


@dataclass(frozen=True)
class CoreVersions:
    """The core X.Y versions among the systems running a component on one day: shares of the
    systems whose core version is listed, and those folded or without core, apart."""

    versions: tuple[VersionShare, ...]
    other_systems: int  # on a core version too rare to publish among them
    no_core_systems: int  # that did not report core


def core_versions(summary: Summary, name: str) -> CoreVersions | None:
    """The core versions among the systems running ``name`` on the day of ``summary``; None
    for core itself and for a day without the metric (days imported from the old site)."""
    counts = summary.metrics.get(CORE_XY)
    if counts is None or name == ALONGSIDE.of:
        return None
    mine: Counts = counts.get(name, {})
    listed = {v: n for v, n in mine.items() if v != NO_CORE}
    return CoreVersions(tuple(version_shares(listed)), other_systems(listed), mine.get(NO_CORE, 0))


# -- PostgreSQL -----------------------------------------------------------------------------


def postgresql_number(key: str) -> int | None:
    """A summary key as a ``server_version_num``; None for any other key (``(other)``)."""
    return int(key) if key.isdigit() and key.isascii() else None


def postgresql_major(number: int) -> int:
    """The first ``server_version_num`` of ``number``'s major version: 90620 -> 90600 (9.6),
    140005 -> 140000 (14). Before PostgreSQL 10, a major version was X.Y."""
    return number - number % (10000 if number >= 100000 else 100)


def major_label(major: int) -> str:
    """A major version as people write it: 90600 -> 9.6, 140000 -> 14."""
    if major < 100000:
        return f"{major // 10000}.{major // 100 % 100}"
    return str(major // 10000)


@dataclass(frozen=True)
class PostgresqlVersion:
    """One PostgreSQL version on one day; shares are of the systems whose version is known."""

    version: str
    server_version_num: int
    systems: int
    share: float | None
    share_this_or_older: float | None


@dataclass(frozen=True)
class PostgresqlDay:
    """A day's PostgreSQL versions, ascending, and the systems they leave out.

    ``unknown_systems`` sent 0 (unknown: older pulpcore, or a server that would not say) and
    ``other_systems`` were folded into ``(other)``; neither has a place in version order, so
    neither is below or above any version: both are left out of every share and reported here.
    """

    versions: tuple[PostgresqlVersion, ...]
    known_systems: int
    unknown_systems: int
    other_systems: int


def postgresql_day(counts: Counts) -> PostgresqlDay:
    """The versions of one day's ``postgresql_version`` counts; see PostgresqlDay."""
    known = sorted(
        (number, n)
        for key, n in counts.items()
        if (number := postgresql_number(key)) and n > 0  # leaves out 0 = unknown
    )
    total = sum(n for _, n in known)
    versions = []
    running = 0
    for number, n in known:
        running += n
        versions.append(
            PostgresqlVersion(
                postgresql_label(number), number, n, ratio(n, total), ratio(running, total)
            )
        )
    unknown = sum(n for k, n in counts.items() if postgresql_number(k) == UNKNOWN_POSTGRESQL)
    other = sum(n for k, n in counts.items() if postgresql_number(k) is None)
    return PostgresqlDay(tuple(versions), total, unknown, other)


@dataclass(frozen=True)
class Minimum:
    """What a minimum PostgreSQL version would leave behind on one day."""

    minimum: str  # the major version, as people write it: "13", "9.6"
    server_version_num: int  # its first release: 130000, 90600
    systems_below: int
    share_below: float | None  # of the systems whose version is known


def candidate_minimums(counts: Counts) -> list[int]:
    """Each major version present in ``counts``, ascending, as its first server_version_num."""
    numbers = (postgresql_number(k) for k, n in counts.items() if n > 0)
    return sorted({postgresql_major(number) for number in numbers if number})


def below(counts: Counts, minimum: int) -> Minimum:
    """The systems on a known version below ``minimum`` (a server_version_num), and their share.

    Unknown (0) and folded versions are not below any minimum and are not in the share.
    """
    return below_on(postgresql_day(counts), minimum)


def below_on(day: PostgresqlDay, minimum: int) -> Minimum:
    """:func:`below` on a day already sorted out by :func:`postgresql_day`."""
    under = sum(v.systems for v in day.versions if v.server_version_num < minimum)
    label = major_label(postgresql_major(minimum))
    return Minimum(label, minimum, under, ratio(under, day.known_systems))


def minimums(counts: Counts) -> list[Minimum]:
    """:func:`below` for each :func:`candidate_minimums` of one day, ascending."""
    day = postgresql_day(counts)
    return [below_on(day, m) for m in candidate_minimums(counts)]


def below_over_time(
    summaries: Sequence[Summary], candidates: Sequence[int]
) -> list[tuple[date, list[float | None]]]:
    """Per day that has PostgreSQL counts, the share below each of ``candidates`` (in order).

    The candidates usually come from the newest day (``candidate_minimums``), so that every
    day of the chart answers the same question.
    """
    out = []
    for summary in summaries:
        counts = summary.metrics.get(POSTGRESQL)
        if counts is not None:
            day = postgresql_day(counts)
            out.append((summary.date, [below_on(day, m).share_below for m in candidates]))
    return out


# -- upgrade pace ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pace:
    """How fast one X.Y release of a component was taken up.

    ``first_seen`` is the first day with a summary on which some system ran it. ``days_to``
    maps each percent of :data:`PACE_PERCENTS` to the days from ``first_seen`` to the first day
    on which it ran on at least that share of the component's systems, or None ("not yet").
    ``before_history`` is true when it already ran on the first day of the summaries: its
    release came earlier, so its days count from the start of the history, not its release.
    """

    version: str
    first_seen: date
    days_to: Mapping[int, int | None]
    before_history: bool


def upgrade_pace(
    summaries: Sequence[Summary], name: str, percents: Sequence[int] = PACE_PERCENTS
) -> list[Pace]:
    """The pace of every X.Y release of component ``name``, newest release first.

    Shares are of the component's systems whose version is listed (``(other)`` left out), as
    in :func:`version_shares`.
    """
    first: dict[str, date] = {}
    reached: dict[tuple[str, int], date] = {}
    for summary in summaries:
        counts = {v: n for v, n in component_counts(summary, name).items() if v != FOLDED}
        total = sum(counts.values())
        for version, n in counts.items():
            if n <= 0:
                continue
            first.setdefault(version, summary.date)
            for percent in percents:
                if n * 100 >= percent * total:
                    reached.setdefault((version, percent), summary.date)
    start = summaries[0].date if summaries else None
    return [
        Pace(
            version=version,
            first_seen=seen,
            days_to={p: days_between(seen, reached.get((version, p))) for p in percents},
            before_history=seen == start,
        )
        for version, seen in sorted(first.items(), key=lambda i: version_order(i[0]), reverse=True)
    ]


def days_between(start: date, end: date | None) -> int | None:
    return None if end is None else (end - start).days


@dataclass(frozen=True)
class Curve:
    """How one X.Y release was taken up: its share of the component's systems on each day
    from the day it was first seen (``shares[0]``) on; None on a day without a summary, or on
    which no system of the component had a listed version."""

    version: str
    first_seen: date
    shares: tuple[float | None, ...]


def adoption_curves(
    summaries: Sequence[Summary], name: str, releases: Sequence[Pace], days: int
) -> list[Curve]:
    """The adoption curve of each of ``releases`` (from :func:`upgrade_pace`), in their order,
    over at most ``days`` days after it was first seen and up to the newest day.

    Shares are those of :func:`upgrade_pace`: of the component's systems whose version is
    listed, so a curve crosses 10 % and 50 % on the days its pace says.
    """
    if not summaries:
        return []
    listed: dict[date, tuple[Counts, int]] = {}
    for summary in summaries:
        own = {v: n for v, n in component_counts(summary, name).items() if v != FOLDED}
        listed[summary.date] = (own, sum(own.values()))
    newest = summaries[-1].date
    curves = []
    for release in releases:
        length = min(days, (newest - release.first_seen).days) + 1
        shares = []
        for offset in range(length):
            counts, total = listed.get(release.first_seen + timedelta(days=offset), ({}, 0))
            shares.append(ratio(counts.get(release.version, 0), total))
        curves.append(Curve(release.version, release.first_seen, tuple(shares)))
    return curves


# -- sizes: medians and percentiles of bucket counts ----------------------------------------

PERCENTILES = ((50, "median"), (90, "90th percentile"))  # (percent, name), as the site shows them


def percentile(counts: Counts, percent: int) -> Bucket | None:
    """Where the ``percent``-th percentile of the systems counted in ``counts`` (one field of a
    ``CountBuckets`` metric: ``{"1": 40, "2": 30, "9-16": 10}``) lies, as a bucket; None when
    no system is in a bucket.

    As numpy's default percentile (linear between the closest ranks): of ``n`` systems in
    order, it lies between those at ranks ``floor(h)`` and ``ceil(h)`` (counted from 0),
    ``h = (n - 1) * percent / 100``. When both are in one bucket, that bucket is the answer
    (``3``, ``9-16``, ``33+``); when they are in two neighbours, the range from the first's
    low to the second's high (a median between 8 and 9-16 is ``8-16``): a bucket tells no more.
    ``(other)`` (too few systems to publish in order) is left out.
    """
    listed = [(bucket, n) for bucket, n in ordered(counts) if n > 0]
    total = sum(n for _, n in listed)
    if not total or not 0 <= percent <= 100:
        return None
    scaled = (total - 1) * percent
    below, above = scaled // 100, -(-scaled // 100)  # the two closest ranks
    first = last = None
    running = 0
    for bucket, n in listed:
        if first is None and below < running + n:
            first = bucket
        if above < running + n:
            last = bucket
            break
        running += n
    assert first is not None and last is not None  # both ranks are below total
    return first if first == last else first.span(last)


def percentiles(counts: Counts) -> tuple[Bucket | None, ...]:
    """:func:`percentile` for each of :data:`PERCENTILES`, in order."""
    return tuple(percentile(counts, percent) for percent, _ in PERCENTILES)


def percentiles_over_time(
    summaries: Sequence[Summary], key: str, field: str
) -> list[tuple[date, tuple[Bucket | None, ...]]]:
    """Per day that has bucket counts of ``field`` under the metric ``key``, its percentiles;
    days without them (before the metric, or imported history) are left out."""
    out = []
    for summary in summaries:
        value = summary.metrics.get(key)
        if value is not None and value.get(field):
            out.append((summary.date, percentiles(value[field])))
    return out


def followed_means(bucket_metric: Metric) -> str | None:
    """The key of the metric of means that a bucket metric follows (``online_workers`` for
    ``online_workers_buckets``), whose means the site and the API show beside the percentiles;
    None when it follows none."""
    followed = next((m for m in METRICS if m.key == bucket_metric.follows), None)
    return followed.key if followed and isinstance(followed.aggregate, MeanOf) else None


def systems_in_buckets(counts: Counts) -> int:
    """The systems a field's buckets count, ``(other)`` included: those that sent the number."""
    return sum(counts.values())


# -- numbers for people ---------------------------------------------------------------------

SUFFIXES = ((Decimal(1000), "k"), (Decimal(1000000), "M"), (Decimal(1000000000), "G"))


def people(number: float) -> str:
    """A count rounded for people, as badges show it: 950, 1.2k, 12k, 1.2M.

    Below 1,000 the whole number (half up: 999.5 is "1k"); then one decimal below 10 of a unit
    and none above ("1.2k", "12k", "120k"), a trailing ".0" dropped ("1k"); a value that rounds
    up to the next unit takes it (999,999 is "1M", not "1000k").
    """
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"not a count: {number!r}")
    value = Decimal(repr(float(number)))
    whole = value.quantize(Decimal(1), ROUND_HALF_UP)
    if whole < 1000:
        return str(whole)
    text = ""
    for unit, suffix in SUFFIXES:
        scaled = value / unit
        places = Decimal("0.1") if scaled < 10 else Decimal(1)
        shown = scaled.quantize(places, ROUND_HALF_UP)
        text = f"{shown.normalize():f}{suffix}"
        if shown < 1000:
            break
    return text


def percent(share: float | None) -> str:
    """A share for people, with one decimal: "12.3%"; "n/a" for no share.

    A share that is neither 0 nor 1 never reads as either: "<0.1%" and ">99.9%" where one
    decimal would round it to "0.0%" or "100.0%" (a minimum that leaves 3 systems of 10,000
    behind does leave some).
    """
    if share is None:
        return "n/a"
    if 0 < share < 0.0005:
        return "<0.1%"
    if 0.9995 <= share < 1:
        return ">99.9%"
    return f"{share * 100:.1f}%"
