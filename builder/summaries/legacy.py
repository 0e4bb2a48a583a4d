"""Importing analytics.pulpproject.org's daily summaries from its ``dumpdata`` fixture (SPEC §10).

The old site kept each day's summary in rows of the ``pulpanalytics`` Django app: a
``dailysummary`` (its pk is the date), at most one ``deploymentstats`` (pk = the same date)
and any number of ``agecount``, ``postgresversioncount``, ``xyversioncount``,
``xyzversioncount`` and ``numbercount`` rows whose ``summary`` field names the day.
docs/legacy.md describes every field and what it becomes.

The import runs in two passes so that rows may come in any order and memory stays bounded:

1. :func:`spool_fixture` reads the fixture row by row (``builder.summaries.fixture``), checks
   each summary row and writes what it says into a temporary SQLite file, keyed by day. Rows
   of ``system`` and ``component`` (raw per-system reports with their system ids) are counted
   and dropped on the spot: they reach no file, temporary or not.
2. :func:`write_days` builds each day's :class:`Summary` from the spool, in date order,
   passes it through ``builder.summaries.publish.publishable`` (SPEC §8: unreviewed component
   names and small counts folded into ``"(other)"``, exactly as for summarized days) and
   writes it as a new file; a day that has a file
   already is left alone, a day with a malformed row is reported and not written at all.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from builder.days import date_ranges, span, span_count
from builder.metrics import RBAC_MEASURES
from builder.summaries.fixture import Row, read_rows
from builder.summaries.publish import min_count_for, publishable
from builder.summaries.summarize import DEFAULT_MIN_AGE, write_new
from builder.summaries.summary import Summary, UnwritableSummary, summary_path

SOURCE = "legacy"
APP = "pulpanalytics."
RAW_MODELS = ("system", "component")  # per-system rows: never imported, never copied
DAY_MARK = "day"  # the spool's record that the day has its dailysummary row
# deploymentstats field -> (summary key, mean)
MEANS = {
    "online_worker_processes_avg": ("online_workers", "processes__avg"),
    "online_worker_hosts_avg": ("online_workers", "hosts__avg"),
    "online_content_app_processes_avg": ("online_content_apps", "processes__avg"),
    "online_content_app_hosts_avg": ("online_content_apps", "hosts__avg"),
}
# count model -> (summary key, field naming the series or None, field of the map key, numeric)
COUNTS = {
    "agecount": ("age_count", None, "age", True),
    "postgresversioncount": ("postgresql_version", None, "version", True),
    "xyversioncount": ("xy_component", "name", "version", False),
    "xyzversioncount": ("xyz_component", "name", "version", False),
    "numbercount": ("rbac_stats", "name", "number", True),
}
KNOWN_FIELDS = {
    "dailysummary": set(),
    "deploymentstats": {"summary", *MEANS},
    "agecount": {"summary", "age", "count"},
    "postgresversioncount": {"summary", "version", "count"},
    "xyversioncount": {"summary", "name", "version", "count"},
    "xyzversioncount": {"summary", "name", "version", "count"},
    "numbercount": {"summary", "name", "number", "count"},
}
UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
SPOOL_ENTRIES = 100_000  # entries held in memory before they go to the spool file
MAX_NAMES = 100  # distinct unknown model or field names listed in the report


class LegacyError(RuntimeError):
    """The fixture cannot be imported at all; nothing was written."""


class Malformed(ValueError):
    """A row the old site could not have written; its day is not imported."""


@dataclass
class ImportReport:
    """What an import read and did, for the closing output and the commit message."""

    rows: int = 0
    days_in_fixture: int = 0
    written: list[date] = field(default_factory=list)
    existing: list[date] = field(default_factory=list)  # had a summary file: left untouched
    malformed: list[tuple[date, str]] = field(default_factory=list)  # not written, and why
    raw_rows: Counter[str] = field(default_factory=Counter)  # system / component rows dropped
    unknown_models: Counter[str] = field(default_factory=Counter)
    unknown_fields: Counter[str] = field(default_factory=Counter)  # "model.field"


# -- pass 1: the fixture into the spool --------------------------------------------------------


def day_text(value: Any, what: str) -> str:
    """A ``YYYY-MM-DD`` date as Django writes a DateField; raises Malformed otherwise."""
    day = valid_day(value) if type(value) is str else None
    if day is None:
        raise Malformed(f"{what} is not a date (YYYY-MM-DD): {short(value)}")
    return day


@lru_cache(maxsize=1 << 16)
def valid_day(value: str) -> str | None:
    """``value`` if it is a real date written ``YYYY-MM-DD``, else None (cached: a fixture
    names each of its few thousand days over and over)."""
    if not DATE_TEXT.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None


def whole(fields: dict[str, Any], name: str) -> int:
    """A PositiveIntegerField's value."""
    value = fields.get(name)
    if type(value) is not int or value < 0:  # bool is no int here
        raise Malformed(f"{name} is not a whole number >= 0: {short(fields.get(name, 'missing'))}")
    return value


def text(fields: dict[str, Any], name: str) -> str:
    """A TextField's value that names something: a string that is not empty."""
    value = fields.get(name)
    if type(value) is not str or not value:
        raise Malformed(f"{name} is not a non-empty string: {short(fields.get(name, 'missing'))}")
    return value


def mean(fields: dict[str, Any], name: str) -> float | None:
    """A nullable FloatField's value: a finite number >= 0, or null."""
    if name not in fields:
        raise Malformed(f"{name} is missing")
    value = fields[name]
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value):
        raise Malformed(f"{name} is not a number or null: {short(value)}")
    if value < 0:
        raise Malformed(f"{name} is negative: {value}")
    return float(value)


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


Entry = tuple[str, str, str, Any]  # (summary key, series name, map key, value)


def row_day(model: str, row: Row) -> str:
    """The day a summary row belongs to; LegacyError when it names none (it could be any)."""
    try:
        if model == "dailysummary" or (model == "deploymentstats" and "summary" not in row.fields):
            return day_text(row.pk, "pk")
        return day_text(row.fields.get("summary"), "summary")
    except Malformed as exc:
        raise LegacyError(
            f"row {row.number} ({row.model} pk={short(row.pk)}) names no day: {exc};"
            " nothing was written"
        ) from None


def entries(model: str, fields: dict[str, Any]) -> list[Entry]:
    """What one summary row says about its day; raises Malformed for a row out of shape."""
    count = COUNTS.get(model)
    if count is None:
        if model == "dailysummary":
            return [(DAY_MARK, "", "", None)]
        return [(key, "", average, mean(fields, name)) for name, (key, average) in MEANS.items()]
    key, series_field, item_field, numeric = count
    series = text(fields, series_field) if series_field else ""
    if key == "rbac_stats" and series not in RBAC_MEASURES:
        raise Malformed(f"name is not one of {', '.join(RBAC_MEASURES)}: {short(series)}")
    item = str(whole(fields, item_field)) if numeric else text(fields, item_field)
    return [(key, series, item, whole(fields, "count"))]


class Spool:
    """A temporary SQLite file of summary rows by day; deleted with its folder on close.

    Entries wait in memory, grouped by day, until ``SPOOL_ENTRIES`` have come; then each
    day's waiting entries become one row (a JSON list, in file order) of the ``chunks`` table.
    A day is read back by concatenating its chunks in the order they were written.
    """

    def __init__(self, workdir: Path | None = None) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="pulp-analytics-legacy-", dir=workdir)
        self.path = Path(self.dir.name) / "spool.sqlite3"
        self.conn = sqlite3.connect(self.path)
        self.conn.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE chunks (day TEXT, entries TEXT);
            CREATE TABLE problems (day TEXT, message TEXT);
            """
        )
        self.waiting: dict[str, list[tuple[Any, ...]]] = {}
        self.count = 0

    def add(self, day: str, row: int, items: Iterable[Entry]) -> None:
        bucket = self.waiting.setdefault(day, [])
        for item in items:
            bucket.append((*item, row))
            self.count += 1
        if self.count >= SPOOL_ENTRIES:
            self.flush()

    def problem(self, day: str, message: str) -> None:
        self.conn.execute("INSERT INTO problems VALUES (?, ?)", (day, message))

    def flush(self) -> None:
        self.conn.executemany(
            "INSERT INTO chunks VALUES (?, ?)",
            (
                (day, json.dumps(items, separators=(",", ":")))
                for day, items in self.waiting.items()
            ),
        )
        self.waiting.clear()
        self.count = 0

    def finish(self) -> None:
        """Done adding: index by day for the second pass."""
        self.flush()
        self.conn.execute("CREATE INDEX chunks_day ON chunks (day)")
        self.conn.execute("CREATE INDEX problems_day ON problems (day)")
        self.conn.commit()

    def days(self) -> list[str]:
        query = "SELECT day FROM chunks UNION SELECT day FROM problems ORDER BY day"
        return [day for (day,) in self.conn.execute(query)]

    def problems(self, day: str) -> list[str]:
        query = "SELECT message FROM problems WHERE day = ? ORDER BY rowid"
        return [message for (message,) in self.conn.execute(query, (day,))]

    def entries(self, day: str) -> list[list[Any]]:
        """The day's entries ``[key, series, item, value, row]`` in file order."""
        query = "SELECT entries FROM chunks WHERE day = ? ORDER BY rowid"
        out: list[list[Any]] = []
        for (chunk,) in self.conn.execute(query, (day,)):
            out.extend(json.loads(chunk))
        return out

    def close(self) -> None:
        self.conn.close()
        self.dir.cleanup()


@contextmanager
def spooled(fixture: Path, report: ImportReport, workdir: Path | None = None) -> Iterator[Spool]:
    """The fixture's summary rows in a spool, removed afterwards whatever happens."""
    spool = Spool(workdir)
    try:
        spool_fixture(fixture, spool, report)
        yield spool
    finally:
        spool.close()


def spool_fixture(fixture: Path, spool: Spool, report: ImportReport) -> None:
    """Pass 1: check every summary row and spool it by day; count what is not imported."""
    for row in read_rows(fixture):
        report.rows += 1
        model = row.model.removeprefix(APP) if row.model.startswith(APP) else None
        if model in RAW_MODELS:
            report.raw_rows[model] += 1
            continue
        if model not in KNOWN_FIELDS:
            note(report.unknown_models, row.model)
            continue
        if not row.fields.keys() <= KNOWN_FIELDS[model]:
            for name in row.fields.keys() - KNOWN_FIELDS[model]:
                note(report.unknown_fields, f"{row.model}.{name}")
        day = row_day(model, row)
        try:
            spool.add(day, row.number, entries(model, row.fields))
        except Malformed as exc:
            spool.problem(day, f"row {row.number} ({row.model} pk={short(row.pk)}): {exc}")
        if model == "dailysummary":
            report.days_in_fixture += 1
    spool.finish()


def note(counter: Counter[str], name: str) -> None:
    """Count ``name`` (made printable); past MAX_NAMES distinct names, the rest together."""
    name = UNPRINTABLE.sub("?", name[:80])
    if name in counter or len(counter) < MAX_NAMES:
        counter[name] += 1
    else:
        counter["(others)"] += 1


# -- pass 2: one summary per day -----------------------------------------------------------


def day_summary(day: date, deployment: str, rows: Iterable[Sequence[Any]]) -> Summary:
    """One day's spooled rows as a Summary; raises Malformed for duplicates or a missing
    dailysummary. Means the day has no deploymentstats for stay null."""
    metrics: dict[str, Any] = {
        "xy_component": {},
        "xyz_component": {},
        "postgresql_version": {},
        "online_workers": {"processes__avg": None, "hosts__avg": None},
        "online_content_apps": {"processes__avg": None, "hosts__avg": None},
        "rbac_stats": {measure: {} for measure in RBAC_MEASURES},
    }
    ages: dict[int, int] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for key, series, item, value, row in rows:
        ident = (key, series, item)
        if ident in seen:
            raise Malformed(f"rows {seen[ident]} and {row} both give {describe(*ident)}")
        seen[ident] = row
        if key == DAY_MARK:
            continue
        if key == "age_count":
            ages[int(item)] = value
        elif key in ("online_workers", "online_content_apps", "postgresql_version"):
            metrics[key][item] = value
        else:
            metrics[key].setdefault(series, {})[item] = value
    if (DAY_MARK, "", "") not in seen:
        raise Malformed("rows refer to this day, but the fixture has no dailysummary for it")
    min_age = DEFAULT_MIN_AGE[deployment]
    return Summary(
        date=day,
        deployment=deployment,
        systems=sum(ages.values()),
        persistent_systems=sum(n for age, n in ages.items() if age >= min_age),
        age_count=ages,
        metrics=metrics,
        source=SOURCE,
    )


def describe(key: str, series: str, item: str) -> str:
    if key == DAY_MARK:
        return "the dailysummary"
    if key in ("online_workers", "online_content_apps"):
        return "deploymentstats"
    return f"{key} {series + ' ' if series else ''}{item}".rstrip()


def write_days(
    spool: Spool,
    root: Path,
    deployment: str,
    report: ImportReport,
    min_count: int | None = None,
) -> None:
    """Pass 2: write each new, well-formed day's summary file, oldest first, as it may be
    published at ``min_count`` (default: the deployment's). A day that has a file already is
    left alone, whatever its rows; a malformed one is reported, not written."""
    min_count = min_count_for(deployment, min_count)
    for text_day in spool.days():
        day = date.fromisoformat(text_day)
        path = summary_path(root, deployment, day)
        if path.exists():
            report.existing.append(day)
            continue
        problems = spool.problems(text_day)
        try:
            if problems:
                more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                raise Malformed(problems[0] + more)
            summary = day_summary(day, deployment, spool.entries(text_day))
            write_new(path, publishable(summary, min_count).to_json())
        except Malformed as exc:
            report.malformed.append((day, str(exc)))
            continue
        except UnwritableSummary as exc:  # a value the old site allowed that no summary may hold
            report.malformed.append((day, exc.problem))
            continue
        report.written.append(day)


def import_fixture(
    fixture: Path,
    root: Path,
    deployment: str,
    workdir: Path | None = None,
    min_count: int | None = None,
) -> ImportReport:
    """Import the old site's fixture into ``root``; see the module docstring.

    Raises FixtureError or LegacyError, having written nothing, for a file that cannot be
    imported at all, and MinCountError for a ``min_count`` below the deployment's; a day with
    a malformed row is listed in the report instead.
    """
    min_count = min_count_for(deployment, min_count)
    report = ImportReport()
    with spooled(fixture, report, workdir) as spool:
        write_days(spool, root, deployment, report, min_count)
    return report


# -- the words around it ---------------------------------------------------------------------


def commit_message(deployment: str, fixture: Path, report: ImportReport) -> str:
    """Subject: how many days from which range; body: each run of days, then what was left."""
    days = report.written
    lines = [
        f"summaries({deployment}): import {len(days)} days of analytics.pulpproject.org history,"
        f" {days[0]}..{days[-1]}",
        "",
        f"Imported with `pulp-analytics import-legacy {fixture.name} --deployment {deployment}`",
        "from the old site's `manage.py dumpdata pulpanalytics`. Days imported:",
        "",
        *(f"- {span(*run)}" for run in date_ranges(days)),
    ]
    if report.existing:
        count = len(report.existing)
        lines += ["", f"Left untouched, a summary existed already: {span_count(count)}."]
    if report.malformed:
        lines += ["", "Not imported (malformed rows):"]
        lines += [f"- {day}: {why}" for day, why in report.malformed]
    return "\n".join(lines) + "\n"
