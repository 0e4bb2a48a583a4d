"""The SQLite store: one file on the receiver's host, the embedded default.

The tables and the rules they follow are the same as PostgreSQL's (``receiver.store.base``);
this module holds what only SQLite does: the file and its modes, WAL, the numbered migrations
in SQLite's dialect (0003 converted a file of plain system ids in place), and the statements
where the dialects differ.

Each connection runs in WAL mode. A submission answered ``accepted`` has been committed, so it
survives the server process being killed at any moment. With ``synchronous=NORMAL`` (the
default) the last commits before a power loss or kernel crash may be lost; ``FULL`` syncs the
log on every commit and survives those too, at about half the throughput (BENCHMARKS.md).

A write that fails (a read-only file, a full disk) closes its connection, so the next request
opens a fresh one and the receiver recovers by itself once the fault is gone.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime
from pathlib import Path
from typing import Any

from receiver import rawfields
from receiver.contract import SYSTEM_ID_FIELD, Submission
from receiver.store.base import (
    MIGRATION_NAMES,
    Session,
    Store,
    StoreError,
    SystemHash,
    hold_id_key,
    submission_json,
    to_day,
)

BUSY_TIMEOUT_MS = 10_000
HEALTH_TIMEOUT_MS = 1_000
MIGRATION_BATCH = 10_000  # rows per transaction when a migration converts a table


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
assert tuple(name for name, _ in MIGRATIONS) == MIGRATION_NAMES
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


def migrate(
    conn: sqlite3.Connection, today: date, system_hash: SystemHash, accept_id_key: bool = False
) -> list[str]:
    """Apply the migrations this database lacks, in order, then hold the ID key
    (``hold_id_key``); return the migrations' names.

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
                SQLiteSession(conn).set_meta("collecting_since", to_day(today))
            applied.append(name)
    session = SQLiteSession(conn)
    if session.get_meta("scrub_pending"):  # also after a run stopped between swap and scrub
        scrub(conn)
    with transaction(conn):
        hold_id_key(session, system_hash, accept_id_key)
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
                SQLiteSession(conn).set_meta("scrub_pending", 1)
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
        pruned = SQLiteSession(conn).get_meta("pruned_before")
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


def open_existing(path: Path, *, readonly: bool = False) -> SQLiteSession:
    """A session on a receiver database that must already exist and be migrated."""
    if not path.is_file():
        raise StoreError(f"no database at {path}")
    try:
        session = SQLiteSession(connect(path, readonly=readonly))
        session.check_schema()
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: {exc}") from None
    return session


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


class SQLiteSession(Session):
    """A connection to the SQLite file (autocommit; transactions are opened explicitly)."""

    errors = (sqlite3.Error,)
    not_ours = (sqlite3.DatabaseError,)  # no schema_migrations table, or not a database
    # The foreign key would scan ``submissions`` (no index by system) for every row deleted,
    # and the batch checks for kept reports itself, in its transaction: ``deleting`` switches
    # the check off meanwhile. NOT IN builds a temporary index of the systems once.
    FORGET_SQL = (
        "DELETE FROM systems WHERE id IN (SELECT id FROM systems WHERE last_seen < ?"
        " AND id NOT IN (SELECT system FROM submissions) LIMIT ?) AND last_seen < ?"
    )

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._collecting_since: int | None = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with transaction(self.conn):
            yield

    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[Any]:
        """SQLite steps through the rows as they are read."""
        return iter(self.conn.execute(sql, params))

    def close(self) -> None:
        self.conn.close()

    def record(self, system: bytes, submission: Submission, now: datetime) -> bool:
        day = to_day(now.date())
        conn = self.conn
        with transaction(conn):
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
                (day, row, self.timestamp(now), submission_json(submission), submission.raw),
            ).rowcount
            if inserted:
                self._note_day(day)
                return True
            self.count_outcome(day, "duplicate")
        return False

    def _note_day(self, day: int) -> None:
        """Move ``collecting_since`` back when a backfill stores a day before it."""
        if self._collecting_since is None:
            self._collecting_since = self.get_meta("collecting_since")
        if self._collecting_since is not None and day < self._collecting_since:
            self.execute(
                "UPDATE meta SET value = min(value, ?) WHERE key = 'collecting_since'", (day,)
            )
            self._collecting_since = day

    def check_writable(self) -> None:
        self.execute(f"PRAGMA busy_timeout = {HEALTH_TIMEOUT_MS}")
        try:
            with self.transaction():
                self.set_meta("checked_at", int(time.time()))
        finally:
            self.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    @contextmanager
    def deleting(self) -> Iterator[None]:
        """Deleted rows are overwritten (``secure_delete``), not left in free pages; the
        foreign key's per-row scan is off (see FORGET_SQL)."""
        self.execute("PRAGMA secure_delete = ON")
        self.execute("PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            self.execute("PRAGMA foreign_keys = ON")


class SQLiteStore(Store):
    """The receiver's SQLite file, with one connection per thread of each server process.

    Under the gevent worker every greenlet of a process runs in its one thread and shares that
    connection; that is safe because no SQLite call yields to another greenlet, so no two
    transactions ever interleave on it.
    """

    errors = (sqlite3.Error,)

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        super().__init__()
        self.path = path
        self.synchronous = synchronous
        self._local = threading.local()

    def describe(self) -> str:
        return str(self.path)

    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        return self._session().conn

    def _session(self) -> SQLiteSession:
        session: SQLiteSession | None = getattr(self._local, "session", None)
        if session is None:
            session = SQLiteSession(connect(self.path, synchronous=self.synchronous))
            self._local.session = session
        return session

    @contextmanager
    def using(self, wait: float | None = None) -> Iterator[SQLiteSession]:
        yield self._session()

    @contextmanager
    def session(self) -> Iterator[SQLiteSession]:
        session = SQLiteSession(connect(self.path, synchronous=self.synchronous))
        try:
            yield session
        finally:
            session.close()

    def reset(self) -> None:
        """Close this thread's connection; the next use opens a fresh one.

        A connection that met a fault can stay broken after the fault is gone (one opened while
        the file was read-only stays read-only), so a failed one is never used again.
        """
        session: SQLiteSession | None = getattr(self._local, "session", None)
        self._local.session = None
        if session is not None:
            with suppress(sqlite3.Error):
                session.close()

    def close(self) -> None:
        self.reset()

    def migrate(
        self, today: date, system_hash: SystemHash, accept_id_key: bool = False
    ) -> list[str]:
        """Bring the schema up to date on a connection of its own, closed afterwards, so that
        no connection made before a server forks its workers is shared with them."""
        try:
            conn = connect(self.path)
            try:
                return migrate(conn, today, system_hash, accept_id_key)
            finally:
                conn.close()
                restrict_modes(self.path)
        except sqlite3.Error as exc:  # not a database, a locked file, a full or read-only disk
            raise StoreError(f"cannot open the database {self.path}: {exc}") from None

    def problem(self) -> str | None:
        """A read while writes succeed, and a look at the filesystem; a write after a failure."""
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


def mark_fetched_in(path: Path, day: date, reader: str, now: datetime) -> None:
    """``mark_fetched`` on a short connection of its own, for a reader whose connection is
    read-only. Raises sqlite3.Error when the file cannot be written (it is never created)."""
    uri = f"{path.resolve().as_uri()}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        SQLiteSession(conn).mark_fetched(day, reader, now)
    finally:
        conn.close()
