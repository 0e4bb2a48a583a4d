"""The PostgreSQL store: one database server shared by several receivers.

The same tables as SQLite's under the same numbered migrations (``receiver.store.base``), in
PostgreSQL's types: the keyed hash and the raw report are ``bytea``, the decoded fields stay
the compact JSON text the receiver wrote (so the export and the summaries are the same bytes
as from SQLite), moments are ``timestamptz``. A PostgreSQL database starts with keyed hashes:
its ``0003_keyed_system_ids`` has nothing to convert and is only recorded.

The rules hold across receivers because the database enforces them: the day's first report
wins by the unique ``(day, system)`` key (``ON CONFLICT DO NOTHING``), whichever receiver it
reached, and a report is recorded in one statement (system, submission, or the duplicate's
count), so it is committed whole or not at all before the answer is sent. Migrations take an
advisory lock, so receivers starting at once apply each one once.

Each server process keeps a small pool of connections, opened on first use after gunicorn
forked it, and lends each to one request at a time: a gevent worker serves many requests at
once, and a transaction must never interleave with another on one connection. Every
connection has timeouts (connecting, each statement, a transaction left idle) and TCP
keepalives, so a lost server is noticed; a connection that failed is closed, with the idle
ones beside it (a restarted server ends them all), and the next request opens a fresh one.
"""

from __future__ import annotations

import os
import selectors
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.abc import PQGen
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg.waiting import Ready, Wait

from receiver.contract import Submission
from receiver.store.base import (
    MIGRATION_NAMES,
    DayCount,
    Session,
    Store,
    StoreError,
    SystemHash,
    hold_id_key,
    submission_json,
    to_day,
)
from receiver.store.url import error_text, redact

CONNECT_TIMEOUT_S = 5  # to reach the server (libpq's connect_timeout), unless the URL says
STATEMENT_TIMEOUT_MS = 10_000  # the longest a receiver's statement may run or wait for a lock
IDLE_IN_TRANSACTION_MS = 60_000  # the server ends a session that holds a transaction idle
TCP_USER_TIMEOUT_MS = 10_000  # unacknowledged data on a connection: the server is gone
HEALTH_TIMEOUT_MS = 1_000  # /healthz's write, and its wait for a free connection
POOL_SIZE = 4  # connections per server process
CHECKOUT_TIMEOUT_S = 10.0  # a request's wait for a free connection before it gets a 503
STREAM_BATCH = 2_000  # rows per fetch when reading a whole day
MIGRATION_LOCK = 0x70756C70  # pg_advisory_lock key ("pulp") held while migrating
IDLE_NOW = TransactionStatus.IDLE  # a connection with no transaction open

MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "0001_initial",
        (
            """CREATE TABLE systems (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                system_hash bytea NOT NULL UNIQUE CHECK (octet_length(system_hash) = 32),
                first_seen integer NOT NULL,
                last_seen integer NOT NULL
            )""",
            """CREATE TABLE submissions (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                day integer NOT NULL,
                system bigint NOT NULL REFERENCES systems (id),
                received_at timestamptz NOT NULL,
                data text NOT NULL,
                raw bytea NOT NULL,
                UNIQUE (day, system)
            )""",
            # for the foreign key's check when prune forgets systems
            "CREATE INDEX submissions_by_system ON submissions (system)",
            """CREATE TABLE outcomes (
                day integer NOT NULL,
                status text NOT NULL,
                count bigint NOT NULL,
                PRIMARY KEY (day, status)
            )""",
            "CREATE TABLE meta (key text PRIMARY KEY, value bigint NOT NULL)",
        ),
    ),
    (
        "0002_fetched_days",
        (
            """CREATE TABLE fetched_days (
                day integer PRIMARY KEY,
                fetched_at timestamptz NOT NULL,
                reader text NOT NULL
            )""",
        ),
    ),
    # A PostgreSQL database starts with keyed hashes (0001): nothing to convert.
    ("0003_keyed_system_ids", ()),
)
assert tuple(name for name, _ in MIGRATIONS) == MIGRATION_NAMES

# One statement per report: the system (first and last seen), the submission unless the system
# already reported that day, else the duplicate's count, and collecting_since moved back when a
# backfill stores a day before it.
RECORD_SQL = """
    WITH y AS (
        INSERT INTO systems (system_hash, first_seen, last_seen)
        VALUES (%(system)s, %(day)s, %(day)s)
        ON CONFLICT (system_hash) DO UPDATE
        SET first_seen = LEAST(systems.first_seen, excluded.first_seen),
            last_seen = GREATEST(systems.last_seen, excluded.last_seen)
        RETURNING id
    ), s AS (
        INSERT INTO submissions (day, system, received_at, data, raw)
        SELECT %(day)s, y.id, %(received_at)s, %(data)s, %(raw)s FROM y
        ON CONFLICT (day, system) DO NOTHING
        RETURNING day
    ), o AS (
        INSERT INTO outcomes (day, status, count)
        SELECT %(day)s, 'duplicate', 1 WHERE NOT EXISTS (SELECT FROM s)
        ON CONFLICT (day, status) DO UPDATE SET count = outcomes.count + 1
    ), m AS (
        UPDATE meta SET value = s.day FROM s
        WHERE meta.key = 'collecting_since' AND meta.value > s.day
    )
    SELECT count(*) FROM s
"""


class PoolExhausted(psycopg.OperationalError):
    """No connection of this process's pool came free in time."""


def connection_params(url: str, statement_timeout_ms: int) -> dict[str, Any]:
    """libpq's parameters for ``url``, with the receiver's timeouts and keepalives where the
    URL sets none; StoreError (without the password) for a URL libpq cannot read."""
    try:
        params: dict[str, Any] = conninfo_to_dict(url)
    except psycopg.Error as exc:
        reason = error_text(exc, url)
        raise StoreError(f"{redact(url)} is not a usable PostgreSQL URL: {reason}") from None
    for name, value in (
        ("connect_timeout", CONNECT_TIMEOUT_S),
        ("application_name", "pulp-analytics"),
        ("keepalives", 1),
        ("keepalives_idle", 30),
        ("keepalives_interval", 10),
        ("keepalives_count", 3),
        ("tcp_user_timeout", TCP_USER_TIMEOUT_MS),
    ):
        params.setdefault(name, value)
    ours = (
        f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={statement_timeout_ms}"
        f" -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
    )
    params["options"] = f"{ours} {params['options']}" if params.get("options") else ours
    return params


def connect(params: dict[str, Any]) -> psycopg.Connection[Any]:
    """A connection in autocommit mode; transactions are opened explicitly."""
    return psycopg.connect(autocommit=True, **params)


def migrate(
    conn: psycopg.Connection[Any],
    today: date,
    system_hash: SystemHash,
    accept_id_key: bool = False,
) -> list[str]:
    """Apply the migrations this database lacks, each in a transaction of its own, then hold
    the ID key (``hold_id_key``), all under one session-level migration lock: of processes
    starting at once, the first applies every missing migration and the others wait, then
    find nothing to do. Return the migrations' names."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = []
        for name, statements in MIGRATIONS:
            with conn.transaction():
                done = conn.execute("SELECT 1 FROM schema_migrations WHERE name = %s", (name,))
                if done.fetchone():
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                if name == "0001_initial":
                    PostgreSQLSession(conn).set_meta("collecting_since", to_day(today))
                applied.append(name)
        with conn.transaction():
            hold_id_key(PostgreSQLSession(conn), system_hash, accept_id_key)
        return applied
    finally:
        # A lost connection has released the lock already; its error is the one to report.
        with suppress(psycopg.Error):
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


@lru_cache(maxsize=64)
def dialect(sql: str) -> str:
    """The shared SQL (``?`` placeholders) with psycopg's placeholders."""
    assert "%" not in sql, "shared SQL must not hold a literal %"
    return sql.replace("?", "%s")


class PostgreSQLSession(Session):
    """A connection to the PostgreSQL database, in autocommit mode."""

    errors = (psycopg.Error,)
    not_ours = (psycopg.errors.UndefinedTable,)  # no schema_migrations table
    # The outer check of last_seen is made again on a row a receiver updated meanwhile, so a
    # system that reported during the run is not deleted; NOT EXISTS uses the index by system.
    FORGET_SQL = (
        "DELETE FROM systems WHERE id IN (SELECT id FROM systems AS y WHERE last_seen < ?"
        " AND NOT EXISTS (SELECT FROM submissions WHERE system = y.id) LIMIT ?)"
        " AND last_seen < ?"
    )

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(dialect(sql), params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[Any]:
        """A server-side cursor, fetched ``STREAM_BATCH`` rows at a time, in a transaction of
        its own (so the whole day is read from one snapshot)."""
        with self.conn.transaction(), self.conn.cursor(name="day_rows") as cursor:
            cursor.itersize = STREAM_BATCH
            cursor.execute(dialect(sql), params)
            yield from cursor

    def close(self) -> None:
        self.conn.close()

    def timestamp(self, moment: datetime) -> Any:
        return moment

    def record(self, system: bytes, submission: Submission, now: datetime) -> bool:
        values = {
            "system": system,
            "day": to_day(now.date()),
            "received_at": now,
            "data": submission_json(submission),
            "raw": submission.raw,
        }
        row = self.conn.execute(RECORD_SQL, values).fetchone()
        return bool(row and row[0])

    def day_counts(self) -> list[DayCount]:
        """Counted without the receiver's statement timeout: the export's index reads every
        kept report, which takes seconds at millions a day."""
        with self.transaction():
            self.execute("SET LOCAL statement_timeout = 0")
            return super().day_counts()

    def check_writable(self) -> None:
        with self.transaction():
            self.execute(f"SET LOCAL statement_timeout = {HEALTH_TIMEOUT_MS}")
            self.execute(f"SET LOCAL lock_timeout = {HEALTH_TIMEOUT_MS}")
            self.set_meta("checked_at", int(time.time()))

    def read_only(self) -> bool:
        """Whether the server takes no writes (a standby, or a database set read-only)."""
        row = self.execute("SELECT current_setting('transaction_read_only')").fetchone()
        return bool(row and row[0] == "on")


class Pool:
    """Up to ``size`` connections for one server process, opened on first use, each lent to
    one request at a time.

    It is made in the process that uses it (after gunicorn forked it, and after gevent patched
    it, so its semaphore makes a greenlet wait rather than the whole worker).
    """

    def __init__(self, params: dict[str, Any], size: int) -> None:
        self.pid = os.getpid()
        self._params = params
        self._idle: list[psycopg.Connection[Any]] = []
        self._free = threading.BoundedSemaphore(size)

    @contextmanager
    def connection(self, wait: float) -> Iterator[psycopg.Connection[Any]]:
        """A connection for the block; kept for the next request only if the block ended
        cleanly and left no transaction open."""
        if not self._free.acquire(timeout=wait):
            raise PoolExhausted(f"no database connection came free within {wait:g} s")
        try:
            conn = self._idle.pop() if self._idle else connect(self._params)
            clean = False
            try:
                yield conn
                clean = True
            finally:
                if clean and not conn.closed and conn.info.transaction_status == IDLE_NOW:
                    self._idle.append(conn)
                else:
                    _close(conn)
        finally:
            self._free.release()

    def clear(self) -> None:
        """Close the idle connections (after a failure: a restarted server ended them all)."""
        while self._idle:
            _close(self._idle.pop())


def _close(conn: psycopg.Connection[Any]) -> None:
    with suppress(psycopg.Error, OSError):
        conn.close()


class PostgreSQLStore(Store):
    """A PostgreSQL database, with a small pool of connections per server process."""

    errors = (psycopg.Error,)

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._params = connection_params(url, STATEMENT_TIMEOUT_MS)
        self._pool: Pool | None = None
        self._forked: list[Pool] = []  # a parent's pool: never closed here, never used

    def describe(self) -> str:
        return redact(self.url)

    def pool(self) -> Pool:
        """This process's pool, made on first use."""
        if self._pool is None or self._pool.pid != os.getpid():
            if self._pool is not None:  # its connections belong to the parent
                self._forked.append(self._pool)
            self._pool = Pool(self._params, POOL_SIZE)
        return self._pool

    @contextmanager
    def using(self, wait: float | None = None) -> Iterator[PostgreSQLSession]:
        with self.pool().connection(wait or CHECKOUT_TIMEOUT_S) as conn:
            yield PostgreSQLSession(conn)

    @contextmanager
    def session(self) -> Iterator[PostgreSQLSession]:
        """A connection of its own for a long read (a day's export may take minutes), so that
        it holds none of the pool's, which the reports need."""
        conn = connect(self._params)
        try:
            yield PostgreSQLSession(conn)
        finally:
            conn.close()

    def reset(self) -> None:
        if self._pool is not None and self._pool.pid == os.getpid():
            self._pool.clear()

    def close(self) -> None:
        self.reset()

    def migrate(
        self, today: date, system_hash: SystemHash, accept_id_key: bool = False
    ) -> list[str]:
        """Migrations on a connection of their own, closed before the server forks, without
        the statement timeout (a migration, or waiting for another process's, may be long)."""
        try:
            with connect(connection_params(self.url, statement_timeout_ms=0)) as conn:
                return migrate(conn, today, system_hash, accept_id_key)
        except psycopg.Error as exc:
            raise StoreError(f"{self.describe()}: {error_text(exc, self.url)}") from None

    def problem(self) -> str | None:
        """A read while writes succeed (the server may have become read-only); a write after
        a failure. Neither waits more than a second for a free connection."""
        wait = HEALTH_TIMEOUT_MS / 1000
        try:
            if self.failing():
                self.check_writable(wait)
                return None
            with self.using(wait) as session:
                if session.read_only():
                    return "the database is read-only (a standby, or set read-only)"
        except psycopg.Error as exc:
            self.reset()
            return error_text(exc, self.url)
        return None


def open_existing(url: str) -> PostgreSQLSession:
    """A session on a receiver database that must exist and be migrated (the commands); no
    statement timeout, since prune and summarize read whole days."""
    params = connection_params(url, statement_timeout_ms=0)
    try:
        session = PostgreSQLSession(connect(params))
    except psycopg.Error as exc:
        raise StoreError(f"{redact(url)}: {error_text(exc, url)}") from None
    try:
        session.check_schema()
    except psycopg.Error as exc:  # a role that may not read the tables, a lost connection
        session.close()
        raise StoreError(f"{redact(url)}: {error_text(exc, url)}") from None
    except BaseException:
        session.close()
        raise
    return session


def cooperate_with_gevent() -> None:
    """Make psycopg wait for the server through gevent, so that the worker's other greenlets
    run while one waits for the database.

    psycopg picks its wait function when it is imported, and the server imports it in the
    master (which migrates the database) before gunicorn forks the workers and gevent patches
    them; its C wait function would then block the whole worker on every query. What psycopg
    would pick had it been imported after the patch (its poll loop on gevent's patched
    ``poll``) works, but ``wait_gevent`` below waits on the socket directly and takes about
    15 % less CPU per report (BENCHMARKS.md). Connecting goes through the patched selectors.
    """
    waiting = sys.modules.get("psycopg.waiting")
    if waiting is None:
        return  # imported after the patch: psycopg sees it by itself
    namespace = vars(waiting)
    namespace["wait"] = wait_gevent
    namespace["DefaultSelector"] = selectors.DefaultSelector


def wait_gevent(
    gen: PQGen[Any], fileno: int, interval: float = 0.0, timeout: float | None = None
) -> Any:
    """psycopg's wait protocol on gevent: run ``gen``, waiting for the socket to be ready for
    what it asks (reading, writing or either) in this greenlet only, then tell it what is."""
    from gevent.socket import wait_read, wait_readwrite, wait_write

    try:
        wanted = next(gen)
        while True:
            if wanted == Wait.R:
                wait_read(fileno, timeout)
                wanted = gen.send(Ready.R)
            elif wanted == Wait.W:
                wait_write(fileno, timeout)
                wanted = gen.send(Ready.W)
            else:
                wait_readwrite(fileno, timeout)
                wanted = gen.send(Ready.RW)
    except StopIteration as done:
        return done.value
