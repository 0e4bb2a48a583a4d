"""The receiver's storage: one interface, two databases.

``ANALYTICS_DATABASE`` names a SQLite file (``receiver.store.sqlite``, the embedded default:
one receiver host) or a PostgreSQL server by URL (``receiver.store.postgresql``: several
receivers behind a load balancer, one database). Both keep the same tables under the same
numbered migrations and give the same answers; ``receiver.store.base`` has the interface and
the SQL they share. The PostgreSQL driver (psycopg, the ``postgresql`` extra) is imported only
when a URL is used.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from receiver.store.base import (
    DAY_ROWS_SQL,
    DayCount,
    IdKeyMismatch,
    PruneResult,
    Session,
    Store,
    StoreError,
    from_day,
    to_day,
)
from receiver.store.url import Database, error_text, is_postgresql, redact, scrub

__all__ = [
    "DAY_ROWS_SQL",
    "Database",
    "DayCount",
    "IdKeyMismatch",
    "PruneResult",
    "Session",
    "Store",
    "StoreError",
    "error_text",
    "from_day",
    "is_postgresql",
    "open_existing",
    "open_store",
    "redact",
    "scrub",
    "to_day",
]


def open_store(database: Database, synchronous: str = "NORMAL") -> Store:
    """The store a server uses; nothing is opened until it is used (or migrated)."""
    if is_postgresql(database):
        _need_driver()
        from receiver.store.postgresql import PostgreSQLStore

        return PostgreSQLStore(str(database))
    from receiver.store.sqlite import SQLiteStore

    return SQLiteStore(Path(database), synchronous)


def open_existing(database: Database, *, readonly: bool = False) -> Session:
    """A session on a receiver database that must already exist and be migrated (the
    commands: prune, summarize --db). ``readonly`` opens a SQLite file read-only."""
    if is_postgresql(database):
        _need_driver()
        from receiver.store import postgresql

        return postgresql.open_existing(str(database))
    from receiver.store import sqlite

    return sqlite.open_existing(Path(database), readonly=readonly)


def _need_driver() -> None:
    """StoreError unless the PostgreSQL driver is installed."""
    if importlib.util.find_spec("psycopg") is None:
        raise StoreError(
            "a postgresql:// database needs the psycopg package: install pulp-analytics with"
            " its postgresql extra (pip install 'pulp-analytics[postgresql]')"
        )
