"""Turning raw submissions into one canonical summary file per complete UTC day.

The counting happens in SQL. For each day the fields every metric reads are pulled out of the
JSON once into a temporary table (:class:`Columns`): each scalar field, each repeated field
such as ``components`` as its JSON array, and the version of the item a
:class:`VersionsAlongside` metric pairs the others with (core), looked up once per
submission. Then each metric is one ``GROUP BY`` (or ``avg``) over that table; the items of
a repeated field are grouped from ``json_each`` with their partner's version, in one pass
that every metric of the field shares (:func:`item_pairs`, :func:`count_day`). Before a day
is written, each metric's publishing rule folds what may not be published (SPEC §8,
``builder.summaries.publish``; :func:`summarize_day`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from builder import buckets
from builder.days import describe_days
from builder.metrics import (
    METRICS,
    CountBuckets,
    CountBy,
    CountEach,
    MeanOf,
    Metric,
    Versions,
    VersionsAlongside,
)
from builder.summaries.publish import MinCountError, min_count_for, publishable
from builder.summaries.sources import Availability, DayRows, Source
from builder.summaries.summary import (
    Summary,
    UnwritableSummary,
    first_problem,
    iter_summary_files,
    newest_day,
    parse,
    summary_path,
    utc_today,
)

DEFAULT_MIN_AGE = {"prod": 1, "dev": 0}


class SummarizeError(RuntimeError):
    """The run cannot go on without losing or inventing data; nothing was written."""


@dataclass
class RunResult:
    today: date  # the days before it were summarized
    written: list[Summary] = field(default_factory=list)
    skipped: list[date] = field(default_factory=list)  # existing files left untouched


def scalar_paths() -> list[str]:
    """Every scalar field some metric reads, in a fixed order (the temp table's columns)."""
    paths: list[str] = []
    for metric in METRICS:
        agg = metric.aggregate
        if isinstance(agg, CountBy):
            paths.append(agg.path)
        elif isinstance(agg, CountEach | MeanOf | CountBuckets):
            paths.extend(f"{agg.path}.{name}" for name in agg.fields)
    return list(dict.fromkeys(paths))


def partner_of(path: str) -> VersionsAlongside | None:
    """The first :class:`VersionsAlongside` aggregate over ``path``, or None: the
    :class:`Versions` metrics of ``path`` count in its pass."""
    for metric in METRICS:
        agg = metric.aggregate
        if isinstance(agg, VersionsAlongside) and agg.path == path:
            return agg
    return None


def json_path(path: str) -> str:
    return "$." + ".".join(f'"{part}"' for part in path.split("."))


@dataclass(frozen=True)
class Columns:
    """The columns of the day's temporary table ``day_values``, besides ``age``: ``c<n>`` per
    scalar path, ``r<n>`` per repeated path (its JSON array) and ``p<n>`` per pairing of a
    repeated path's items with one of them (the version of ``of`` in that submission, looked
    up once per submission)."""

    scalar: dict[str, str]
    repeated: dict[str, str]
    partner: dict[tuple[str, str], str]  # (path, of) -> column
    pairings: tuple[VersionsAlongside, ...]

    @classmethod
    def of_metrics(cls) -> Columns:
        paths = scalar_paths()
        listed = [m.aggregate for m in METRICS]
        pairings = tuple(a for a in listed if isinstance(a, VersionsAlongside))
        repeated = [a.path for a in listed if isinstance(a, Versions | VersionsAlongside)]
        keys = list(dict.fromkeys((a.path, a.of) for a in pairings))
        return cls(
            {path: f"c{i}" for i, path in enumerate(paths)},
            {path: f"r{i}" for i, path in enumerate(dict.fromkeys(repeated))},
            {key: f"p{i}" for i, key in enumerate(keys)},
            tuple({(a.path, a.of): a for a in pairings}.values()),
        )

    def select(self) -> tuple[str, tuple[str, ...]]:
        """The SELECT list that fills them from a submission's ``data``, and its parameters
        (the names of the paired items)."""
        parts = [f"json_extract(data, '{json_path(p)}') AS {c}" for p, c in self.scalar.items()]
        parts += [f"json_extract(data, '{json_path(p)}') AS {c}" for p, c in self.repeated.items()]
        for agg in self.pairings:
            name, version = json_path(agg.name_field), json_path(agg.version_field)
            column = self.partner[agg.path, agg.of]
            parts.append(
                f"(SELECT json_extract(item.value, '{version}')"
                f" FROM json_each(data, '{json_path(agg.path)}') AS item"
                f" WHERE json_extract(item.value, '{name}') = ?) AS {column}"
            )
        return ", ".join(["age_days AS age", *parts]), tuple(a.of for a in self.pairings)


@dataclass(frozen=True)
class Counted:
    """One day as counted, before the publishing rules: the summary with every cell, and per
    mean the number of systems behind it (``{"online_workers": {"processes": 97, ...}}``)."""

    summary: Summary
    mean_systems: dict[str, dict[str, int]]


def count_day(
    rows: DayRows,
    day: date,
    deployment: str,
    min_age: int,
    rejected: tuple[int, int] | None = None,
) -> Counted:
    """Count one day of submissions; nothing is folded yet (see :func:`summarize_day`)."""
    conn = rows.conn
    columns = Columns.of_metrics()
    selected, names = columns.select()
    conn.execute("DROP TABLE IF EXISTS temp.day_values")
    conn.execute(
        f"CREATE TEMP TABLE day_values AS SELECT {selected} FROM {rows.relation}",
        (*names, *rows.params),
    )
    mean_systems: dict[str, dict[str, int]] = {}
    passes: Passes = {}
    try:
        systems, persistent = conn.execute(
            "SELECT count(*), coalesce(sum(age >= ?), 0) FROM day_values", (min_age,)
        ).fetchone()
        age_count = dict(conn.execute("SELECT age, count(*) FROM day_values GROUP BY age"))
        values = {
            metric.key: _aggregate(conn, metric, columns, min_age, mean_systems, passes)
            for metric in METRICS
        }
    finally:
        conn.execute("DROP TABLE temp.day_values")
    duplicate, ignored = rejected if rejected is not None else (None, None)
    summary = Summary(
        date=day,
        deployment=deployment,
        systems=systems,
        persistent_systems=persistent,
        age_count=age_count,
        metrics=values,
        duplicate_submissions=duplicate,
        ignored_submissions=ignored,
    )
    return Counted(summary, mean_systems)


def summarize_day(
    rows: DayRows,
    day: date,
    deployment: str,
    min_age: int,
    min_count: int,
    rejected: tuple[int, int] | None = None,
) -> Summary:
    """One day of submissions as its summary file publishes it: counted, then folded by each
    metric's rule at ``min_count`` (``builder.summaries.publish``)."""
    counted = count_day(rows, day, deployment, min_age, rejected)
    return publishable(counted.summary, min_count, counted.mean_systems)


Pair = tuple[str, Any, int]  # (item as JSON text, version of its partner or None, systems)
Passes = dict[tuple[str, str | None, int], list[Pair]]  # (path, partner, threshold) -> pairs


def _aggregate(
    conn: Any,
    metric: Metric,
    columns: Columns,
    min_age: int,
    mean_systems: dict[str, dict[str, int]],
    passes: Passes,
) -> Any:
    threshold = min_age if metric.persistent_only else 0
    agg, column = metric.aggregate, columns.scalar
    if isinstance(agg, CountBy):
        return _count_by(conn, column[agg.path], threshold)
    if isinstance(agg, CountEach):
        return {
            name: _count_by(conn, column[f"{agg.path}.{name}"], threshold) for name in agg.fields
        }
    if isinstance(agg, CountBuckets):
        return {
            name: buckets.count_map(
                _count_by(conn, column[f"{agg.path}.{name}"], threshold).items(), agg.exact
            )
            for name in agg.fields
        }
    if isinstance(agg, MeanOf):
        names = [column[f"{agg.path}.{name}"] for name in agg.fields]
        selected = ", ".join(f"avg({c}), count({c})" for c in names)
        row = conn.execute(
            f"SELECT {selected} FROM day_values WHERE age >= ?", (threshold,)
        ).fetchone()
        mean_systems[metric.key] = dict(zip(agg.fields, row[1::2], strict=True))
        return {f"{name}__avg": mean for name, mean in zip(agg.fields, row[::2], strict=True)}
    partner = agg if isinstance(agg, VersionsAlongside) else partner_of(agg.path)
    key = (agg.path, partner.of if partner else None, threshold)
    if key not in passes:
        paired = columns.partner[agg.path, partner.of] if partner else None
        passes[key] = item_pairs(conn, columns.repeated[agg.path], paired, threshold)
    if isinstance(agg, VersionsAlongside):
        return _versions_alongside(passes[key], agg)
    return _versions(passes[key], agg)


def _count_by(conn: Any, column: str, threshold: int) -> dict[Any, int]:
    return dict(
        conn.execute(
            f"SELECT {column}, count(*) FROM day_values"
            f" WHERE age >= ? AND {column} IS NOT NULL GROUP BY {column}",
            (threshold,),
        )
    )


def item_pairs(conn: Any, items: str, partner: str | None, threshold: int) -> list[Pair]:
    """Systems per (item of the repeated field in column ``items``, its partner's version in
    column ``partner``, None when the submission has none), grouped on each item's JSON text;
    without a partner column, per item alone."""
    paired = partner or "NULL"
    return list(
        conn.execute(
            f"SELECT item.value, {paired}, count(*) FROM day_values, json_each({items}) AS item"
            f" WHERE age >= ? GROUP BY item.value, {paired}",
            (threshold,),
        )
    )


def leading(version: Any, parts: int | None) -> str:
    """``version`` as text, cut to its first ``parts`` dot-separated parts (None: whole)."""
    text = str(version)
    return text if parts is None else ".".join(text.split(".")[:parts])


def _versions(pairs: list[Pair], agg: Versions) -> dict[str, dict[str, int]]:
    """Systems per (name, version), whatever their partner: each item decoded once."""
    items: dict[str, tuple[str, str]] = {}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for text, _, count in pairs:
        if text not in items:
            item = json.loads(text)
            items[text] = (str(item[agg.name_field]), leading(item[agg.version_field], agg.parts))
        name, version = items[text]
        counts[name][version] += count
    return {name: dict(versions) for name, versions in counts.items()}


def _versions_alongside(pairs: list[Pair], agg: VersionsAlongside) -> dict[str, dict[str, int]]:
    """Systems per (name, version of ``agg.of`` beside it), every item but ``agg.of`` itself."""
    names: dict[str, str] = {}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for text, partner, count in pairs:
        if text not in names:
            names[text] = str(json.loads(text)[agg.name_field])
        name = names[text]
        if name != agg.of:
            key = agg.missing if partner is None else leading(partner, agg.parts)
            counts[name][key] += count
    return {name: dict(keys) for name, keys in counts.items()}


def days_between(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def latest_today(available: Availability, real_today: date) -> tuple[date, str]:
    """The latest ``today`` a run may use, and whose date that is.

    The real UTC date, or the receiver's own date when its export reports an earlier one: the
    receiver decides which days are complete there (its clock may be set back for a backfill or
    a test), and no day after the real date has ended anywhere (a typo such as 2027 for 2026).
    """
    if available.today is not None and available.today < real_today:
        return available.today, "the receiver's date, as its export reports it"
    return real_today, "today's date (UTC)"


def check_today(
    source: Source, available: Availability, today: date | None, since: date | None
) -> tuple[date, date]:
    """(``today`` or, when None, the latest allowed day; that latest day). SummarizeError for a
    ``today`` after the latest day or a ``since`` that leaves nothing to summarize."""
    limit, whose = latest_today(available, utc_today())
    if today is None:
        today = limit
    elif today > limit:
        raise SummarizeError(
            f"--today {today} is after {whose} ({limit}) at {source.describe()}: only days"
            " that have ended can be summarized; nothing was written"
        )
    if since is not None and since >= today:
        raise SummarizeError(
            f"--since {since} is not before --today {today}: there is no complete day to"
            " summarize; nothing was written"
        )
    return today, limit


def check_newest(root: Path, deployment: str, limit: date) -> None:
    """A summary file dated ``limit`` or later cannot describe a complete day (a typo in an
    earlier --today wrote it); left alone it would make every later run skip the real days."""
    paths = iter_summary_files(root, deployment)
    future = [p for p in paths if date.fromisoformat(p.stem) >= limit]
    if future:
        raise SummarizeError(
            f"{future[0]}: a summary of {future[0].stem}, a day that has not ended"
            f" ({len(future)} such files, up to {future[-1].name}); remove them from git,"
            " then re-run"
        )


def plan_days(
    source: Source,
    available: Availability,
    root: Path,
    deployment: str,
    today: date,
    since: date | None,
) -> tuple[list[date], list[date]]:
    """(days to write, days skipped because their file exists); raises when data is gone."""
    newest = newest_day(root, deployment)
    if since is not None:
        first = since
    elif newest is not None:
        first = newest + timedelta(days=1)
    elif available.first_raw_day is not None:
        first = available.first_raw_day
    else:
        return [], []
    todo: list[date] = []
    skipped: list[date] = []
    for day in days_between(first, today - timedelta(days=1)):
        (skipped if summary_path(root, deployment, day).exists() else todo).append(day)
    kept = available.oldest_kept_day
    lost = [d for d in todo if kept is None or d < kept]
    if lost:
        raise SummarizeError(
            f"raw data for {describe_days(lost)} is no longer kept by {source.describe()}"
            f" (oldest kept day: {kept or 'none'}); a summary would have to claim zero systems."
            f" Re-run with --since {kept or 'DAY'} to skip those days knowingly."
        )
    return todo, skipped


def summarize(
    source: Source,
    root: Path,
    deployment: str,
    today: date | None = None,
    min_age: int | None = None,
    since: date | None = None,
    progress: Callable[[Summary], None] | None = None,
    min_count: int | None = None,
) -> RunResult:
    """Write the summary of every missing complete day; never overwrite an existing file.

    ``today`` defaults to the latest day allowed (:func:`latest_today`); a later one is refused.
    ``min_count`` defaults to the deployment's minimum; a smaller one is refused
    (``builder.summaries.publish.min_count_for``).
    """
    min_age = DEFAULT_MIN_AGE[deployment] if min_age is None else min_age
    try:
        min_count = min_count_for(deployment, min_count)
    except MinCountError as exc:
        raise SummarizeError(str(exc)) from None
    available = source.availability()
    today, limit = check_today(source, available, today, since)
    check_newest(root, deployment, limit)
    todo, skipped = plan_days(source, available, root, deployment, today, since)
    result = RunResult(today=today, skipped=skipped)
    for day in todo:
        with source.day(day) as rows:
            summary = summarize_day(
                rows, day, deployment, min_age, min_count, available.rejected_on(day)
            )
        expected = available.systems.get(day, 0)
        if summary.systems != expected:
            raise SummarizeError(
                f"{source.describe()} gave {summary.systems} submissions for {day} but listed"
                f" {expected}; nothing written for {day} or later"
            )
        write_new(summary_path(root, deployment, day), summary.to_json())
        result.written.append(summary)
        if progress:
            progress(summary)
    return result


def remove_stale_temp_files(root: Path, deployment: str) -> list[Path]:
    """Delete the temporary files a run killed inside :func:`write_new` left behind.

    Call it only while holding the checkout's lock: then no other run is writing one.
    """
    base = root / deployment
    stale = sorted(base.glob("[0-9][0-9][0-9][0-9]/.*.json.*.tmp")) if base.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def write_new(path: Path, text: str) -> None:
    """Create ``path`` atomically with ``text``, a summary that passes every check the readers
    (check-summaries, build) apply; UnwritableSummary for one that would not, SummarizeError if
    the file already exists. Nothing is written in either case."""
    problem = first_problem(parse(text), path)
    if problem:
        raise UnwritableSummary(path, problem)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # unlike rename, never replaces an existing file
    except FileExistsError:
        raise SummarizeError(f"{path} already exists; summaries are never overwritten") from None
    finally:
        os.unlink(tmp)
