"""The store interface, and what the SQLite and the PostgreSQL store share.

Both keep the same tables under the same numbered migrations (``MIGRATION_NAMES``), recorded
in a ``schema_migrations`` table:

* ``systems``: one row per system seen within its lifetime: the keyed hash of its id (never
  the id: ``receiver.identity``), the first and the last day it reported. Kept beyond the raw
  retention so that ``age_days`` stays right after old submissions are pruned; ``prune``
  forgets a system not seen for ``SYSTEM_LIFETIME_DAYS``.
* ``submissions``: one row per system per day (the first report of the day wins): the decoded
  fields as JSON text and the raw message bytes without field 1 (the system id), unknown fields
  included.
* ``outcomes``: how many POSTs of each day were answered ``duplicate`` or ``ignored`` (the
  accepted ones are the day's submissions).
* ``meta``: ``collecting_since`` (the first day this database could have received data),
  ``pruned_before`` (every day before it was deleted by retention) and ``id_key_check`` (which
  ID key the stored hashes were made with: ``hold_id_key``).
* ``fetched_days``: the complete days whose raw data has been read by the nightly job (the
  export streamed completely) or summarized from the database; ``prune`` deletes no other day
  before it is ``max_keep_days`` old.

Days are stored as whole days since 1970-01-01 (UTC), so a system's age on a day is a plain
subtraction.

A :class:`Session` is one connection and what is read and written on it; its SQL is written
once, with ``?`` placeholders, wherever the two dialects agree, and each store supplies the
rest (how a report is recorded, how deletions are made safe). A :class:`Store` is what a
server process holds: its connections, and whether the last write failed, for ``/healthz``.
"""

from __future__ import annotations

import json
import mmap
import struct
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from receiver.contract import Submission

EPOCH = date(1970, 1, 1)
PRUNE_BATCH = 5_000
FAILED_AT = struct.Struct("d")
MIGRATION_NAMES = ("0001_initial", "0002_fetched_days", "0003_keyed_system_ids")

SystemHash = Callable[[str], bytes]  # canonical UUID text -> what is stored instead


def to_day(value: date) -> int:
    """The day number stored for a calendar date."""
    return (value - EPOCH).days


def from_day(number: int) -> date:
    """The calendar date of a stored day number."""
    return EPOCH + timedelta(days=number)


class StoreError(RuntimeError):
    """The database cannot be used (missing, not ours, unwritable, unreachable)."""


class IdKeyMismatch(StoreError):
    """The ID key is not the one the database's system hashes were made with."""


ID_KEY_CHECK = "id_key_check"  # meta key
# Hashed with the key to tell keys apart; not a UUID, so no system's hash can equal it.
ID_KEY_CHECK_TEXT = "pulp-analytics ID key check"


def id_key_check(system_hash: SystemHash) -> int:
    """A number that tells one ID key from another without revealing anything of it: the
    first 7 bytes of the keyed hash of a fixed text (a signed 64-bit ``meta`` value)."""
    return int.from_bytes(system_hash(ID_KEY_CHECK_TEXT)[:7], "big")


def hold_id_key(session: Session, system_hash: SystemHash, accept: bool) -> None:
    """Record which key a database's hashes are made with, the first time; afterwards refuse
    another key (IdKeyMismatch) unless ``accept``, which records the new one. Each store's
    ``migrate`` calls it in a transaction, so a receiver never starts with a key that would
    silently make every system new (a restored backup, a wrong secret mounted, a lost dev key).
    """
    check = id_key_check(system_hash)
    known = session.get_meta(ID_KEY_CHECK)
    if known == check:
        return
    if known is not None and not accept:
        raise IdKeyMismatch(
            "the ID key is not the one this database's system hashes were made with: every"
            " system would count as new. Start with that key; if the key was rotated on"
            " purpose, run `pulp-analytics accept-id-key` once (docs/operations.md)"
        )
    session.set_meta(ID_KEY_CHECK, check)


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


class Cursor(Protocol):
    """What both drivers' cursors offer."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


DAY_ROWS_SQL = (
    "SELECT s.day - y.first_seen AS age_days, s.data AS data"
    " FROM submissions AS s JOIN systems AS y ON y.id = s.system WHERE s.day = ?"
)
DAY_COUNTS_SQL = """
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
    FROM (SELECT day FROM kept UNION SELECT day FROM rejected) AS days
    LEFT JOIN kept USING (day) LEFT JOIN rejected USING (day)
    ORDER BY day
"""
UNFETCHED_SQL = (
    "SELECT day FROM (SELECT day FROM submissions WHERE day < ?"
    " UNION SELECT day FROM outcomes WHERE day < ?) AS days"
    " WHERE day NOT IN (SELECT day FROM fetched_days) ORDER BY day"
)


class Session(ABC):
    """One connection to a receiver database, and the reads and writes made on it."""

    errors: tuple[type[Exception], ...]  # what the driver raises when the database fails
    not_ours: tuple[type[Exception], ...]  # what it raises reading a database not made by us
    # Deletes the systems past their lifetime with no report kept (parameters: the first day
    # that is recent enough, the batch size, that day again); each store says how to find
    # "no report kept" fast.
    FORGET_SQL: str

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement (``?`` placeholders) outside or inside ``transaction``."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction: committed at the end of the block, rolled back on error."""

    @abstractmethod
    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[Any]:
        """The rows of a query, read in batches rather than all at once."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def record(self, system: bytes, submission: Submission, now: datetime) -> bool:
        """Store the submission of the system whose keyed hash is ``system`` unless it already
        reported that day, and count a duplicate otherwise, in one transaction: whether it was
        stored."""

    @abstractmethod
    def check_writable(self) -> None:
        """Raise the driver's error unless a small write is committed within a second."""

    def check_schema(self) -> None:
        """Raise StoreError unless this is a fully migrated receiver database."""
        try:
            missing = self.missing_migrations()
        except self.not_ours as exc:
            reason = str(exc).splitlines()[0]
            raise StoreError(f"not a receiver database ({reason})") from None
        if missing:
            raise StoreError(
                f"database lacks migrations {', '.join(missing)}; start the receiver once"
            )

    def timestamp(self, moment: datetime) -> Any:
        """A moment as the store keeps it (``received_at``, ``fetched_at``)."""
        return moment.isoformat(timespec="seconds")

    @contextmanager
    def deleting(self) -> Iterator[None]:
        """Around prune's deletions: whatever the store needs to delete safely and for good."""
        yield

    def missing_migrations(self) -> list[str]:
        """The migrations this database lacks (all of them for a database not made by us)."""
        names = {row[0] for row in self.execute("SELECT name FROM schema_migrations")}
        return [name for name in MIGRATION_NAMES if name not in names]

    def get_meta(self, key: str) -> int | None:
        row = self.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else int(row[0])

    def set_meta(self, key: str, value: int) -> None:
        self.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def count_outcome(self, day: int, status: str) -> None:
        """Count a POST of ``day`` that was answered ``status`` but stored nothing."""
        self.execute(
            "INSERT INTO outcomes (day, status, count) VALUES (?, ?, 1)"
            " ON CONFLICT (day, status) DO UPDATE SET count = outcomes.count + 1",
            (day, status),
        )

    def oldest_kept_day(self) -> date | None:
        """The first day whose raw submissions are all still stored, or None for an empty
        store."""
        since = self.get_meta("collecting_since")
        pruned = self.get_meta("pruned_before")
        candidates = [day for day in (since, pruned) if day is not None]
        return from_day(max(candidates)) if candidates else None

    def day_counts(self) -> list[DayCount]:
        """Stored systems and rejected posts per day, for every day still kept."""
        return [
            DayCount(from_day(d), int(s), int(dup), int(ign), bool(f))
            for d, s, dup, ign, f in self.execute(DAY_COUNTS_SQL)
        ]

    def mark_fetched(self, day: date, reader: str, now: datetime) -> None:
        """Record that the raw data of the complete ``day`` was read by ``reader``: "export"
        (the HTTP export) or "local" (summarize --db)."""
        with self.transaction():
            self.execute(
                "INSERT INTO fetched_days (day, fetched_at, reader) VALUES (?, ?, ?)"
                " ON CONFLICT (day) DO NOTHING",
                (to_day(day), self.timestamp(now), reader),
            )

    def day_rows(self, day: date) -> Iterator[tuple[int, str]]:
        """``(age_days, data)`` of every stored submission of ``day``, in the order they were
        stored; ``data`` is the decoded fields as compact JSON text."""
        return self.stream(DAY_ROWS_SQL + " ORDER BY s.id", (to_day(day),))

    def export_lines(self, day: date) -> Iterator[str]:
        """One JSON line per stored submission of ``day``: date, age and the decoded fields.

        The system id and the raw bytes never leave the database: the line is built from the
        decoded JSON only.
        """
        prefix = f'{{"date":"{day.isoformat()}","age_days":'
        for age, data in self.day_rows(day):
            yield f"{prefix}{age},{data[1:]}\n"  # data is a non-empty JSON object

    def unfetched_days(self, before: date) -> list[date]:
        """Days before ``before`` that still hold raw data (reports or counted posts) that no
        export and no local summarize has read."""
        cut = to_day(before)
        return [from_day(row[0]) for row in self.execute(UNFETCHED_SQL, (cut, cut))]

    def prune(
        self, today: date, keep_days: int, max_keep_days: int, lifetime_days: int
    ) -> PruneResult:
        """Delete the raw data of days before ``today - keep_days`` once they have been
        fetched, then forget the systems not seen for ``lifetime_days``.

        The kept days stay one unbroken range from ``oldest_kept_day`` on (the export and the
        summarizer rely on it), so deleting stops at the first day nobody has fetched, unless
        that day is more than ``max_keep_days`` old: such days go whether fetched or not. Raw
        reports go first, so a system whose last reports were just deleted can be forgotten in
        the same run; a system with reports still kept is never forgotten. Each batch is a
        short transaction of its own, so receivers keep writing meanwhile.
        """
        boundary = today - timedelta(days=keep_days)
        hard_limit = today - timedelta(days=max(keep_days, max_keep_days))
        unfetched = self.unfetched_days(boundary)
        waiting = [day for day in unfetched if day >= hard_limit]
        with self.deleting():
            deleted = self._delete_before(to_day(waiting[0] if waiting else boundary))
            forgotten, kept_systems = self.forget_systems(today, lifetime_days)
        kept = self.oldest_kept_day()
        assert kept is not None
        return PruneResult(
            deleted=deleted,
            oldest_kept_day=kept,
            kept_unfetched=waiting,
            deleted_unfetched=[day for day in unfetched if day < hard_limit],
            forgotten=forgotten,
            kept_systems=kept_systems,
        )

    def _delete_before(self, cut: int) -> int:
        """Delete every raw report and counted post before day ``cut``, in batches; record that
        the days before it are gone. How many reports were deleted."""
        deleted = 0
        while True:
            with self.transaction():
                count = self.execute(
                    "DELETE FROM submissions WHERE id IN"
                    " (SELECT id FROM submissions WHERE day < ? LIMIT ?)",
                    (cut, PRUNE_BATCH),
                ).rowcount
                if count < PRUNE_BATCH:
                    self.execute("DELETE FROM outcomes WHERE day < ?", (cut,))
                    self.execute("DELETE FROM fetched_days WHERE day < ?", (cut,))
                    previous = self.get_meta("pruned_before")
                    self.set_meta("pruned_before", max(cut, previous or cut))
            deleted += count
            if count < PRUNE_BATCH:
                return deleted

    def forget_systems(self, today: date, lifetime_days: int) -> tuple[int, int]:
        """Delete the systems whose last report is more than ``lifetime_days`` before
        ``today`` and that have no raw report kept; return (forgotten, past their lifetime but
        kept). A forgotten system that reports again is a new system (age 0)."""
        cut = to_day(today) - lifetime_days
        forgotten = 0
        while True:
            with self.transaction():
                count = self.execute(self.FORGET_SQL, (cut, PRUNE_BATCH, cut)).rowcount
            forgotten += count
            if count < PRUNE_BATCH:
                break
        kept = self.execute("SELECT count(*) FROM systems WHERE last_seen < ?", (cut,))
        return forgotten, int(kept.fetchone()[0])


class Store(ABC):
    """The receiver's database as a server process uses it: made once before gunicorn forks
    its workers, each of which then opens connections of its own on first use.

    The time of the last failed write is kept in anonymous shared memory made before the fork,
    so every worker sees every worker's failures (``/healthz``); a write that succeeds clears
    it. A connection that failed is never used again: the next request opens a fresh one, so
    the receiver recovers by itself once the fault is gone.
    """

    errors: tuple[type[Exception], ...]  # what the driver raises when the database fails

    def __init__(self) -> None:
        self._failed_at = mmap.mmap(-1, FAILED_AT.size)

    @abstractmethod
    def describe(self) -> str:
        """The database for the log and for messages: never with a password."""

    @abstractmethod
    def migrate(
        self, today: date, system_hash: SystemHash, accept_id_key: bool = False
    ) -> list[str]:
        """Bring the schema up to date on a connection of its own, closed afterwards, and hold
        the ID key (``hold_id_key``); the names of the migrations applied."""

    @abstractmethod
    def using(self, wait: float | None = None) -> AbstractContextManager[Session]:
        """This process's session for one short read or write; ``wait``: the longest to wait
        for a free connection, where the store has several."""

    @abstractmethod
    def session(self) -> AbstractContextManager[Session]:
        """A session of its own for a long read (the export of a day), closed or given back
        afterwards."""

    @abstractmethod
    def reset(self) -> None:
        """Drop this process's connections; the next use opens fresh ones."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection this process holds."""

    @abstractmethod
    def problem(self) -> str | None:
        """Why reports cannot be stored right now (for the log, not the public), or None.

        Cheap while writes succeed (a read); only after a write failed, in any worker, does it
        try a write of its own, to notice the recovery.
        """

    @contextmanager
    def _writing(self, wait: float | None = None) -> Iterator[Session]:
        """The session for one write; a failure resets the connections and is remembered for
        health."""
        try:
            with self.using(wait) as session:
                yield session
        except self.errors:
            self.reset()
            FAILED_AT.pack_into(self._failed_at, 0, time.time())
            raise
        if self.failing():
            FAILED_AT.pack_into(self._failed_at, 0, 0.0)

    def failing(self) -> bool:
        """Whether the last write in any worker failed."""
        failed_at: float = FAILED_AT.unpack_from(self._failed_at, 0)[0]
        return failed_at > 0

    def record(self, system: bytes, submission: Submission, now: datetime) -> str:
        """Store one submission of the system whose keyed hash is ``system`` unless it already
        reported today; return the outcome. ``submission.system_id`` is never stored."""
        with self._writing() as session:
            stored = session.record(system, submission, now)
        return "accepted" if stored else "duplicate"

    def count_outcome(self, now: datetime, status: str) -> None:
        """Count a submission that was answered but not stored (``ignored``)."""
        with self._writing() as session, session.transaction():
            session.count_outcome(to_day(now.date()), status)

    def check_writable(self, wait: float | None = None) -> None:
        """Raise the driver's error unless a write can be committed within a second."""
        with self._writing(wait) as session:
            session.check_writable()


def submission_json(submission: Submission) -> str:
    """The decoded fields as stored: compact JSON text, in the order the message declares."""
    return json.dumps(submission.data, separators=(",", ":"), ensure_ascii=False)
