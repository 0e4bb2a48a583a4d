"""SQLite storage for submissions: schema migrations, writes, export reads and retention.

Days are stored as whole days since 1970-01-01 (UTC), so a system's age on a day is a plain
subtraction. Tables:

* ``systems``: one row per system seen within its lifetime: the keyed hash of its id (never
  the id: ``receiver.identity``), the first and the last day it reported. Kept beyond the raw
  retention so that ``age_days`` stays right after old submissions are pruned; ``prune``
  forgets a system not seen for ``SYSTEM_LIFETIME_DAYS``.
* ``submissions``: one row per system per day (the first report of the day wins): the decoded
  fields as JSON and the raw message bytes without field 1 (the system id), unknown fields
  included.
* ``outcomes``: how many POSTs of each day were answered ``duplicate`` or ``ignored`` (the
  accepted ones are the day's submissions).
* ``meta``: ``collecting_since`` (the first day this database could have received data) and
  ``pruned_before`` (every day before it was deleted by retention).
* ``fetched_days``: the complete days whose raw data has been read by the nightly job (the
  export streamed completely) or summarized from this file; ``prune`` deletes no other day
  before it is ``max_keep_days`` old.

Each connection runs in WAL mode. A submission answered ``accepted`` has been committed, so it
survives the server process being killed at any moment. With ``synchronous=NORMAL`` (the
default) the last commits before a power loss or kernel crash may be lost; ``FULL`` syncs the
log on every commit and survives those too, at about half the throughput (BENCHMARKS.md).

A write that fails (a read-only file, a full disk) closes its connection, so the next request
opens a fresh one and the receiver recovers by itself once the fault is gone; the time of the
failure is kept in memory shared by every worker process, for ``/healthz``.
"""

from __future__ import annotations

import json
import mmap
import os
import sqlite3
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from receiver import rawfields
from receiver.contract import SYSTEM_ID_FIELD, Submission

EPOCH = date(1970, 1, 1)
BUSY_TIMEOUT_MS = 10_000
HEALTH_TIMEOUT_MS = 1_000
PRUNE_BATCH = 5_000
MIGRATION_BATCH = 10_000  # rows per transaction when a migration converts a table
FAILED_AT = struct.Struct("d")

SystemHash = Callable[[str], bytes]  # canonical UUID text -> what is stored instead


class Conversion:
    """A migration done by code, in many short transactions, rather than by statements."""

    def __init__(self, run: Callable[[sqlite3.Connection, str, SystemHash], None]) -> None:
        self.run = run  # (connection, migration name, hash); records the name when done


MIGRATIONS: tuple[tuple[str, tuple[str, ...] | Conversion], ...] = (
    (
        "0001_initial",
        (
            """CREATE TABLE systems (
                id INTEGER PRIMARY KEY,
                system_id TEXT NOT NULL UNIQUE,
                first_seen INTEGER NOT NULL
            )""",
            """CREATE TABLE submissions (
                id INTEGER PRIMARY KEY,
                day INTEGER NOT NULL,
                system INTEGER NOT NULL REFERENCES systems (id),
                received_at TEXT NOT NULL,
                data TEXT NOT NULL,
                raw BLOB NOT NULL,
                UNIQUE (day, system)
            )""",
            """CREATE TABLE outcomes (
                day INTEGER NOT NULL,
                status TEXT NOT NULL,
                count INTEGER NOT NULL,
                PRIMARY KEY (day, status)
            ) WITHOUT ROWID""",
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
        ),
    ),
    (
        "0002_fetched_days",
        (
            """CREATE TABLE fetched_days (
                day INTEGER PRIMARY KEY,
                fetched_at TEXT NOT NULL,
                reader TEXT NOT NULL
            ) WITHOUT ROWID""",
        ),
    ),
    ("0003_keyed_system_ids", Conversion(lambda *args: _key_system_ids(*args))),  # below
)
READERS = ("export", "local")  # who read a day: the HTTP export, or summarize --db


def to_day(value: date) -> int:
    """The day number stored for a calendar date."""
    return (value - EPOCH).days


def from_day(number: int) -> date:
    """The calendar date of a stored day number."""
    return EPOCH + timedelta(days=number)


class StoreError(RuntimeError):
    """The database cannot be used (missing, not ours, unwritable)."""


@dataclass(frozen=True)
class DayCount:
    day: date
    systems: int
    duplicate: int
    ignored: int
    fetched: bool = False  # read completely by an export or a local summarize


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    oldest_kept_day: date
    kept_unfetched: list[date]  # old enough to go, but never fetched: kept
    deleted_unfetched: list[date]  # never fetched, but past max_keep_days: deleted
    forgotten: int = 0  # systems not seen within their lifetime, forgotten
    kept_systems: int = 0  # past their lifetime, but raw submissions of theirs are kept


SYNCHRONOUS_MODES = ("NORMAL", "FULL")


def connect(
    path: Path, *, readonly: bool = False, synchronous: str = "NORMAL"
) -> sqlite3.Connection:
    """A connection in autocommit mode; transactions are opened explicitly."""
    if readonly:
        if not path.is_file():
            raise StoreError(f"no database at {path}")
        uri = f"{path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if synchronous not in SYNCHRONOUS_MODES:
        raise StoreError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken up front so concurrent writers queue on the busy timeout."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection, today: date, system_hash: SystemHash) -> list[str]:
    """Apply the migrations this database lacks, in order; return their names.

    A migration of statements runs in one transaction; a :class:`Conversion` in many short
    ones, resuming where it stopped when it was interrupted. ``system_hash`` turns a stored
    system id into its keyed hash (``0003_keyed_system_ids``).
    """
    _enable_wal(conn)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
    )
    applied = []
    for name, step in MIGRATIONS:
        if isinstance(step, Conversion):
            if not _applied(conn, name):
                step.run(conn, name, system_hash)
                applied.append(name)
            continue
        with transaction(conn):
            if _applied(conn, name):
                continue
            for statement in step:
                conn.execute(statement)
            _record_migration(conn, name)
            if name == "0001_initial":
                _set_meta(conn, "collecting_since", to_day(today))
            applied.append(name)
    if _get_meta(conn, "scrub_pending"):  # also after a run stopped between swap and scrub
        scrub(conn)
    return applied


def _applied(conn: sqlite3.Connection, name: str) -> bool:
    done = conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,))
    return done.fetchone() is not None


def _record_migration(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("INSERT INTO schema_migrations VALUES (?, datetime('now'))", (name,))


def _key_system_ids(conn: sqlite3.Connection, name: str, system_hash: SystemHash) -> None:
    """Replace each system id by its keyed hash and cut field 1 out of every raw report.

    Each system keeps its row id, so the day's first report (the one stored), first seen and
    age are untouched. Its last-seen day is the day of its newest kept report; for a system
    without one (its reports were pruned), the last day that could have been pruned, which
    errs on the side of keeping it. Then the old table is dropped, and the whole file is
    rewritten (``scrub``) so that no id is left in a free page or the write-ahead log.

    Every batch is a transaction of its own that first checks the migration is still to do, so
    an interrupted run resumes where it stopped, and two processes starting on one database at
    once (each runs the migrations) do the work once between them.
    """
    conn.execute("PRAGMA secure_delete = ON")
    with transaction(conn):
        if _applied(conn, name):
            return
        conn.execute(
            """CREATE TABLE IF NOT EXISTS systems_keyed (
                id INTEGER PRIMARY KEY,
                system_hash BLOB NOT NULL UNIQUE,
                first_seen INTEGER NOT NULL,
                last_seen INTEGER NOT NULL
            )"""
        )
    conn.execute("DROP TABLE IF EXISTS temp.newest_report")
    conn.execute("CREATE TEMP TABLE newest_report (system INTEGER PRIMARY KEY, day INTEGER)")
    conn.execute(  # one pass over the reports, kept on this connection only
        "INSERT INTO newest_report SELECT system, max(day) FROM submissions GROUP BY system"
    )
    while _copy_systems(conn, name, system_hash):
        pass
    conn.execute("DROP TABLE temp.newest_report")
    after: int | None = 0
    while after is not None:
        after = _strip_raw_system_ids(conn, name, after)
    conn.execute("PRAGMA foreign_keys = OFF")  # dropping the old table is no deletion
    try:
        with transaction(conn):
            if not _applied(conn, name):
                conn.execute("DROP TABLE systems")
                conn.execute("ALTER TABLE systems_keyed RENAME TO systems")
                if conn.execute("PRAGMA foreign_key_check").fetchone():
                    raise StoreError("a stored report belongs to no system; the file is damaged")
                _record_migration(conn, name)
                _set_meta(conn, "scrub_pending", 1)
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _copy_systems(conn: sqlite3.Connection, name: str, system_hash: SystemHash) -> int:
    """Copy the next batch of systems into ``systems_keyed``, hashed; how many were copied."""
    with transaction(conn):
        if _applied(conn, name):
            return 0
        after = conn.execute("SELECT coalesce(max(id), 0) FROM systems_keyed").fetchone()[0]
        rows = conn.execute(
            "SELECT y.id, y.system_id, y.first_seen, r.day FROM systems AS y"
            " LEFT JOIN temp.newest_report AS r ON r.system = y.id"
            " WHERE y.id > ? ORDER BY y.id LIMIT ?",
            (after, MIGRATION_BATCH),
        ).fetchall()
        pruned = _get_meta(conn, "pruned_before")
        keyed = [
            (row_id, system_hash(_canonical(system_id)), first_seen,
             newest if newest is not None else max(first_seen, (pruned or first_seen) - 1))
            for row_id, system_id, first_seen, newest in rows
        ]  # fmt: skip
        try:
            conn.executemany("INSERT INTO systems_keyed VALUES (?, ?, ?, ?)", keyed)
        except sqlite3.IntegrityError:
            raise StoreError(
                "two stored system ids are the same UUID written differently; the database"
                " was not made by this receiver"
            ) from None
    return len(rows)


def _canonical(system_id: str) -> str:
    """The canonical text of a stored id (the receiver always stored it so)."""
    try:
        return str(uuid.UUID(system_id))
    except ValueError:
        return system_id


def _strip_raw_system_ids(conn: sqlite3.Connection, name: str, after: int) -> int | None:
    """Cut field 1 out of the raw reports of the next batch after row ``after``; the last row
    done, or None when there is none left. Cutting twice changes nothing."""
    with transaction(conn):
        if _applied(conn, name):
            return None
        rows = conn.execute(
            "SELECT id, raw FROM submissions WHERE id > ? ORDER BY id LIMIT ?",
            (after, MIGRATION_BATCH),
        ).fetchall()
        changed = []
        for row_id, raw in rows:
            stripped = rawfields.without_field(raw, SYSTEM_ID_FIELD)
            if stripped != raw:
                changed.append((stripped, row_id))
        conn.executemany("UPDATE submissions SET raw = ? WHERE id = ?", changed)
    return rows[-1][0] if rows else None


def scrub(conn: sqlite3.Connection) -> None:
    """Rewrite the whole file and empty the write-ahead log, so that nothing deleted survives
    in a free page or an old log frame. Needs the database to itself for a moment."""
    conn.execute("VACUUM")
    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    if busy:
        raise StoreError(
            "another process has the database open, so deleted system ids may remain in its"
            " free pages; stop it (prune, summarize --db) and start the receiver again"
        )
    with transaction(conn):
        conn.execute("DELETE FROM meta WHERE key = 'scrub_pending'")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def open_existing(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection to a receiver database that must already exist and be migrated."""
    if not path.is_file():
        raise StoreError(f"no database at {path}")
    try:
        conn = connect(path, readonly=readonly)
        check_schema(conn)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: {exc}") from None
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL mode, waiting for other processes that are opening the same new file.

    The switch needs the database to itself for a moment; when several server workers start at
    once it can answer "database is locked" without waiting, so it is retried here.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def check_schema(conn: sqlite3.Connection) -> None:
    """Raise StoreError unless ``conn`` holds a fully migrated receiver database."""
    try:
        names = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"not a receiver database ({exc})") from None
    missing = [name for name, _ in MIGRATIONS if name not in names]
    if missing:
        raise StoreError(f"database lacks migrations {', '.join(missing)}; start the receiver once")


def _set_meta(conn: sqlite3.Connection, key: str, value: int) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _get_meta(conn: sqlite3.Connection, key: str) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


class Store:
    """The receiver's database, with one connection per thread of each server process.

    Under the gevent worker every greenlet of a process runs in its one thread and shares that
    connection; that is safe because no SQLite call yields to another greenlet, so no two
    transactions ever interleave on it.
    """

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._local = threading.local()
        self._collecting_since: int | None = None
        # When a write last failed (0.0: never, or a write succeeded since). Anonymous shared
        # memory made before gunicorn forks, so every worker sees every worker's failures.
        self._failed_at = mmap.mmap(-1, FAILED_AT.size)

    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, synchronous=self.synchronous)
            self._local.conn = conn
        return conn

    def reset(self) -> None:
        """Close this thread's connection; the next use opens a fresh one.

        A connection that met a fault can stay broken after the fault is gone (one opened while
        the file was read-only stays read-only), so a failed one is never used again.
        """
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with suppress(sqlite3.Error):
                conn.close()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The connection for one write; a failure resets it and is remembered for health."""
        try:
            yield self.conn()
        except sqlite3.Error:
            self.reset()
            FAILED_AT.pack_into(self._failed_at, 0, time.time())
            raise
        if self.failing():
            FAILED_AT.pack_into(self._failed_at, 0, 0.0)

    def failing(self) -> bool:
        """Whether the last write in any worker failed."""
        failed_at: float = FAILED_AT.unpack_from(self._failed_at, 0)[0]
        return failed_at > 0

    def migrate(self, today: date, system_hash: SystemHash) -> list[str]:
        """Bring the schema up to date on a connection of its own, closed afterwards, so that
        no connection made before a server forks its workers is shared with them."""
        conn = connect(self.path)
        try:
            return migrate(conn, today, system_hash)
        finally:
            conn.close()
            restrict_modes(self.path)

    def record(self, system: bytes, submission: Submission, now: datetime) -> str:
        """Store one submission of the system whose keyed hash is ``system`` unless it already
        reported today; return the outcome. ``submission.system_id`` is never stored."""
        day = to_day(now.date())
        with self._writing() as conn, transaction(conn):
            row = conn.execute(
                "INSERT INTO systems (system_hash, first_seen, last_seen) VALUES (?, ?, ?)"
                " ON CONFLICT (system_hash) DO UPDATE"
                " SET first_seen = min(first_seen, excluded.first_seen),"
                " last_seen = max(last_seen, excluded.last_seen) RETURNING id",
                (system, day, day),
            ).fetchone()[0]
            inserted = conn.execute(
                "INSERT INTO submissions (day, system, received_at, data, raw)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (day, system) DO NOTHING",
                (day, row, now.isoformat(timespec="seconds"), _json(submission), submission.raw),
            ).rowcount
            if inserted:
                self._note_day(conn, day)
                return "accepted"
            self._count(conn, day, "duplicate")
        return "duplicate"

    def count_outcome(self, now: datetime, status: str) -> None:
        """Count a submission that was answered but not stored (``ignored``)."""
        with self._writing() as conn, transaction(conn):
            self._count(conn, to_day(now.date()), status)

    @staticmethod
    def _count(conn: sqlite3.Connection, day: int, status: str) -> None:
        conn.execute(
            "INSERT INTO outcomes (day, status, count) VALUES (?, ?, 1)"
            " ON CONFLICT (day, status) DO UPDATE SET count = count + 1",
            (day, status),
        )

    def _note_day(self, conn: sqlite3.Connection, day: int) -> None:
        """Move ``collecting_since`` back when a backfill stores a day before it."""
        if self._collecting_since is None:
            self._collecting_since = _get_meta(conn, "collecting_since")
        if self._collecting_since is not None and day < self._collecting_since:
            conn.execute(
                "UPDATE meta SET value = min(value, ?) WHERE key = 'collecting_since'", (day,)
            )
            self._collecting_since = day

    def check_writable(self) -> None:
        """Raise sqlite3.Error unless a write can be committed within a second."""
        with self._writing() as conn:
            conn.execute(f"PRAGMA busy_timeout = {HEALTH_TIMEOUT_MS}")
            try:
                with transaction(conn):
                    conn.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('checked_at', ?)",
                        (datetime.now().isoformat(),),
                    )
            finally:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def problem(self) -> str | None:
        """Why reports cannot be stored right now (for the log, not the public), or None.

        Cheap while writes succeed: a read and a look at the filesystem. Only after a write
        failed, in any worker, does it try a write of its own, to notice the recovery.
        """
        try:
            if self.failing():
                self.check_writable()
            else:
                self.conn().execute("SELECT count(*) FROM schema_migrations").fetchone()
        except sqlite3.Error as exc:
            self.reset()
            return str(exc)
        return filesystem_problem(self.path)


def restrict_modes(path: Path) -> None:
    """Take group and other permissions off the database and its -wal and -shm files, which
    hold every report (files made by an older version or under a lax umask). Best effort: a
    file owned by another user is left as it is."""
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        with suppress(OSError):
            mode = (path.parent / name).stat().st_mode & 0o777
            if mode & 0o077:
                (path.parent / name).chmod(mode & 0o700)


def filesystem_problem(path: Path) -> str | None:
    """A read-only or full filesystem under ``path``, seen without writing anything."""
    try:
        stat = os.statvfs(path.parent)
    except OSError as exc:
        return str(exc)
    if stat.f_flag & os.ST_RDONLY:
        return f"{path.parent} is on a read-only filesystem"
    if stat.f_bavail == 0:
        return f"the disk holding {path.parent} is full"
    return None


def _json(submission: Submission) -> str:
    return json.dumps(submission.data, separators=(",", ":"), ensure_ascii=False)


def oldest_kept_day(conn: sqlite3.Connection) -> date | None:
    """The first day whose raw submissions are all still stored, or None for an empty store."""
    since = _get_meta(conn, "collecting_since")
    pruned = _get_meta(conn, "pruned_before")
    candidates = [day for day in (since, pruned) if day is not None]
    return from_day(max(candidates)) if candidates else None


def day_counts(conn: sqlite3.Connection) -> list[DayCount]:
    """Stored systems and rejected posts per day, for every day still kept."""
    rows = conn.execute(
        """
        WITH kept AS (
            SELECT day, count(*) AS systems FROM submissions GROUP BY day
        ), rejected AS (
            SELECT day,
                   sum(CASE status WHEN 'duplicate' THEN count ELSE 0 END) AS duplicate,
                   sum(CASE status WHEN 'ignored' THEN count ELSE 0 END) AS ignored
            FROM outcomes GROUP BY day
        )
        SELECT day, coalesce(systems, 0), coalesce(duplicate, 0), coalesce(ignored, 0),
               day IN (SELECT day FROM fetched_days)
        FROM (SELECT day FROM kept UNION SELECT day FROM rejected)
        LEFT JOIN kept USING (day) LEFT JOIN rejected USING (day)
        ORDER BY day
        """
    )
    return [DayCount(from_day(d), s, dup, ign, bool(f)) for d, s, dup, ign, f in rows]


def mark_fetched(conn: sqlite3.Connection, day: date, reader: str, now: datetime) -> None:
    """Record that the raw data of the complete ``day`` was read by ``reader`` (see READERS)."""
    with transaction(conn):
        conn.execute(
            "INSERT INTO fetched_days (day, fetched_at, reader) VALUES (?, ?, ?)"
            " ON CONFLICT (day) DO NOTHING",
            (to_day(day), now.isoformat(timespec="seconds"), reader),
        )


def mark_fetched_in(path: Path, day: date, reader: str, now: datetime) -> None:
    """``mark_fetched`` on a short connection of its own, for a reader whose connection is
    read-only. Raises sqlite3.Error when the file cannot be written (it is never created)."""
    uri = f"{path.resolve().as_uri()}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        mark_fetched(conn, day, reader, now)
    finally:
        conn.close()


DAY_ROWS_SQL = (
    "SELECT s.day - y.first_seen AS age_days, s.data AS data"
    " FROM submissions AS s JOIN systems AS y ON y.id = s.system WHERE s.day = ?"
)


def export_lines(conn: sqlite3.Connection, day: date) -> Iterator[str]:
    """One JSON line per stored submission of ``day``: date, age and the decoded fields.

    The system id and the raw bytes never leave the database: the line is built from the
    decoded JSON only.
    """
    prefix = f'{{"date":"{day.isoformat()}","age_days":'
    for age, data in conn.execute(DAY_ROWS_SQL + " ORDER BY s.id", (to_day(day),)):
        yield f"{prefix}{age},{data[1:]}\n"  # data is a non-empty JSON object


def unfetched_days(conn: sqlite3.Connection, before: date) -> list[date]:
    """Days before ``before`` that still hold raw data (reports or counted posts) that no
    export and no local summarize has read."""
    rows = conn.execute(
        "SELECT day FROM (SELECT day FROM submissions WHERE day < :before"
        " UNION SELECT day FROM outcomes WHERE day < :before)"
        " WHERE day NOT IN (SELECT day FROM fetched_days) ORDER BY day",
        {"before": to_day(before)},
    )
    return [from_day(row[0]) for row in rows]


def prune(
    conn: sqlite3.Connection,
    today: date,
    keep_days: int,
    max_keep_days: int,
    lifetime_days: int,
) -> PruneResult:
    """Delete the raw data of days before ``today - keep_days`` once they have been fetched,
    then forget the systems not seen for ``lifetime_days``.

    The kept days stay one unbroken range from ``oldest_kept_day`` on (the export and the
    summarizer rely on it), so deleting stops at the first day nobody has fetched, unless that
    day is more than ``max_keep_days`` old: such days go whether fetched or not. Raw reports go
    first, so a system whose last reports were just deleted can be forgotten in the same run;
    a system with reports still kept is never forgotten. Deleted rows are overwritten
    (``secure_delete``), not left in free pages.
    """
    conn.execute("PRAGMA secure_delete = ON")
    boundary = today - timedelta(days=keep_days)
    hard_limit = today - timedelta(days=max(keep_days, max_keep_days))
    unfetched = unfetched_days(conn, boundary)
    waiting = [day for day in unfetched if day >= hard_limit]
    cut = to_day(waiting[0] if waiting else boundary)
    deleted = 0
    while True:
        with transaction(conn):
            count = conn.execute(
                "DELETE FROM submissions WHERE id IN"
                " (SELECT id FROM submissions WHERE day < ? LIMIT ?)",
                (cut, PRUNE_BATCH),
            ).rowcount
            if count < PRUNE_BATCH:
                conn.execute("DELETE FROM outcomes WHERE day < ?", (cut,))
                conn.execute("DELETE FROM fetched_days WHERE day < ?", (cut,))
                previous = _get_meta(conn, "pruned_before")
                _set_meta(conn, "pruned_before", max(cut, previous or cut))
        deleted += count
        if count < PRUNE_BATCH:
            break
    forgotten, kept_systems = forget_systems(conn, today, lifetime_days)
    kept = oldest_kept_day(conn)
    assert kept is not None
    return PruneResult(
        deleted=deleted,
        oldest_kept_day=kept,
        kept_unfetched=waiting,
        deleted_unfetched=[day for day in unfetched if day < hard_limit],
        forgotten=forgotten,
        kept_systems=kept_systems,
    )


def forget_systems(conn: sqlite3.Connection, today: date, lifetime_days: int) -> tuple[int, int]:
    """Delete the systems whose last report is more than ``lifetime_days`` before ``today``
    and that have no raw report kept; return (forgotten, past their lifetime but kept).

    A forgotten system that reports again is a new system (age 0). Each batch checks for kept
    reports itself, in its transaction, so the foreign key's per-row scan of ``submissions``
    (which has no index by system) is switched off meanwhile.
    """
    cut = to_day(today) - lifetime_days
    forgotten = 0
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        while True:
            with transaction(conn):
                count = conn.execute(
                    "DELETE FROM systems WHERE id IN (SELECT id FROM systems WHERE last_seen < ?"
                    " AND id NOT IN (SELECT system FROM submissions) LIMIT ?)",
                    (cut, PRUNE_BATCH),
                ).rowcount
            forgotten += count
            if count < PRUNE_BATCH:
                break
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    kept = conn.execute("SELECT count(*) FROM systems WHERE last_seen < ?", (cut,)).fetchone()[0]
    return forgotten, kept
