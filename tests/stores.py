"""Looking into either store from a test: what the receiver wrote, and faults to make.

A test marked ``@pytest.mark.stores("sqlite", "postgresql")`` (or a module with that
``pytestmark``) runs once per store; its ``database`` fixture is then a SQLite file or the URL
of a fresh database on the session's PostgreSQL server (``conftest.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from receiver.store import Database, is_postgresql
from tests.faults import immutable, wal

TABLES = ("systems", "submissions", "outcomes", "meta", "fetched_days", "schema_migrations")


class Peek:
    """A second connection to the receiver's database (``?`` placeholders for both)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.postgresql = is_postgresql(database)
        if self.postgresql:
            self.pg = psycopg.connect(str(database), autocommit=True, application_name="test")
        else:
            self.lite = sqlite3.connect(database)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        if self.postgresql:
            return self.pg.execute(sql.replace("?", "%s"), params)
        return self.lite.execute(sql, params)

    def version(self) -> Any:
        """Something that changes whenever a row is written: SQLite's data version, or each
        PostgreSQL row's id and the transaction that wrote it."""
        if not self.postgresql:
            return self.execute("PRAGMA data_version").fetchone()[0]
        return {
            table: self.execute(f"SELECT ctid::text, xmin::text FROM {table} ORDER BY 1").fetchall()
            for table in TABLES
        }

    def snapshot(self) -> Any:
        """Everything stored: the SQLite file's bytes, or every PostgreSQL row."""
        if not self.postgresql:
            return Path(self.database).read_bytes()
        return {
            table: self.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() for table in TABLES
        }

    def close(self) -> None:
        (self.pg if self.postgresql else self.lite).close()


@contextmanager
def unwritable(database: Database, *, log: bool = True) -> Iterator[None]:
    """Reports cannot be stored until the block ends, as after a disk or a failover fault.

    SQLite: the file and its write-ahead log are immutable (a read-only disk under the open
    connection; ``log=False``: the file only, as it is before any connection opened it).
    PostgreSQL: the database is set read-only (what a standby answers) and the receiver's
    sessions are ended (what a failover does to them), so its next statement fails and every
    connection it opens meanwhile is read-only.
    """
    if not is_postgresql(database):
        path = Path(database)
        with immutable(path, *([wal(path)] if log else [])):
            yield
        return
    name = str(database).rsplit("/", 1)[1]
    admin = psycopg.connect(str(database).rsplit("/", 1)[0] + "/postgres", autocommit=True)
    try:
        admin.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
        end_sessions(admin, name)
        yield
    finally:
        admin.execute(f"ALTER DATABASE {name} RESET default_transaction_read_only")
        admin.close()


def end_sessions(admin: psycopg.Connection[Any], name: str) -> None:
    """End the receiver's sessions on database ``name`` (a test's own stay)."""
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND application_name = 'pulp-analytics'",
        (name,),
    )
