"""Where the summarizer reads raw submissions: the receiver's database or its HTTP export.

Every source hands the summarizer the same thing: a SQLite connection and a relation with one
row per submission of a day, ``(age_days, data)``, where ``data`` is the submission's decoded
fields as JSON. The local source reads the receiver's SQLite file in place; the PostgreSQL
source streams a day's rows from the server, and the HTTP source the export line by line, into
a temporary SQLite database first. The counting SQL is the same for all of them, so they
always give identical summaries.

The HTTP source asks for the export gzip-compressed (``Accept-Encoding: gzip``) and
decompresses as the bytes arrive, so neither the compressed nor the plain day is ever held
whole; a receiver that answers plain text is read as it is.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import io
import ipaddress
import json
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from receiver import store
from receiver.store import sqlite

INSERT_BATCH = 1_000  # lines per executemany: about 0.5 MB of text held at a time
READ_BUFFER = 64 * 1024  # bytes read from the socket at a time
# What a gzip stream that was cut short or damaged raises while it is read: retried like a
# lost connection (gzip.BadGzipFile is an OSError, retried with those).
DAMAGED_GZIP = (EOFError, zlib.error)


class SourceError(RuntimeError):
    """The source cannot be read; the message says what to fix."""


@dataclass(frozen=True)
class DayRows:
    """A day's submissions as ``relation`` (SQL with ``params``) on ``conn``."""

    conn: sqlite3.Connection
    relation: str
    params: tuple[Any, ...]


@dataclass(frozen=True)
class Availability:
    """What raw data a source still has."""

    deployment: str | None  # as the receiver reports it, when it does
    oldest_kept_day: date | None  # days before it are gone (pruned, or before collection began)
    systems: dict[date, int] = field(default_factory=dict)  # stored submissions per day
    rejected: dict[date, tuple[int, int]] = field(default_factory=dict)  # (duplicate, ignored)
    counts_rejected: bool = True  # the receiver counts duplicate and ignored posts
    today: date | None = None  # the receiver's own date, when its export reports it

    @property
    def first_raw_day(self) -> date | None:
        """The first day with a stored submission."""
        return min((day for day, count in self.systems.items() if count), default=None)

    def rejected_on(self, day: date) -> tuple[int, int] | None:
        """(duplicate, ignored) posts of ``day``, or None when the receiver does not count them."""
        return self.rejected.get(day, (0, 0)) if self.counts_rejected else None


class Source(Protocol):
    def describe(self) -> str: ...

    def availability(self) -> Availability: ...

    def day(self, day: date) -> AbstractContextManager[DayRows]: ...

    def close(self) -> None: ...


def read_index(session: store.Session) -> Availability:
    """What a receiver database keeps, read in place."""
    counts = session.day_counts()
    return Availability(
        deployment=None,
        oldest_kept_day=session.oldest_kept_day(),
        systems={c.day: c.systems for c in counts},
        rejected={c.day: (c.duplicate, c.ignored) for c in counts},
    )


def cannot_record(where: str, reason: str) -> None:
    """Say, in one line, that the days read could not be recorded as fetched."""
    print(
        f"cannot record in {where} which days were summarized ({reason}); prune keeps"
        " them until --max-keep-days",
        flush=True,
    )


class LocalSource:
    """The receiver's SQLite file, opened read-only.

    Each day read to the end is recorded in the file (on a short connection of its own), so
    that ``prune`` knows it may go; a file this user cannot write is read all the same.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.session = sqlite.open_existing(path, readonly=True)
        except store.StoreError as exc:
            raise SourceError(str(exc)) from None
        self.conn = self.session.conn
        self._index: Availability | None = None
        self._can_record = True

    def describe(self) -> str:
        return str(self.path)

    def availability(self) -> Availability:
        """The kept days, read once per run."""
        if self._index is None:
            self._index = read_index(self.session)
        return self._index

    @contextmanager
    def day(self, day: date) -> Iterator[DayRows]:
        yield DayRows(self.conn, f"({store.DAY_ROWS_SQL})", (store.to_day(day),))
        self._record_read(day)

    def _record_read(self, day: date) -> None:
        """Tell ``prune`` a complete day was read; say once, in one line, when the file is
        read-only."""
        now = datetime.now(UTC)
        if not self._can_record or day >= now.date():
            return
        try:
            sqlite.mark_fetched_in(self.path, day, "local", now)
        except sqlite3.Error as exc:
            self._can_record = False
            cannot_record(str(self.path), str(exc))

    def close(self) -> None:
        self.conn.close()


class PostgreSQLSource:
    """The receiver's PostgreSQL database.

    Its index is read in place; each day's rows are streamed from the server (a server-side
    cursor) into SQLite's private temporary database, where the same counting SQL runs as for
    a SQLite file, so that both give the same summaries byte for byte. Each day read to the
    end is recorded as fetched; a role that may not write is read all the same.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.session = store.open_existing(url)
        except store.StoreError as exc:
            raise SourceError(str(exc)) from None
        self._index: Availability | None = None
        self._can_record = True

    def describe(self) -> str:
        return store.redact(self.url)

    def availability(self) -> Availability:
        """The kept days, read once per run."""
        if self._index is None:
            with self._reading():
                self._index = read_index(self.session)
        return self._index

    @contextmanager
    def day(self, day: date) -> Iterator[DayRows]:
        conn = sqlite3.connect("", isolation_level=None)  # unlinked as soon as it is opened
        try:
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("CREATE TABLE rows (age_days INTEGER NOT NULL, data TEXT NOT NULL)")
            with self._reading():
                self._copy(day, conn)
            yield DayRows(conn, "(SELECT age_days, data FROM rows)", ())
        finally:
            conn.close()
        self._record_read(day)

    def _copy(self, day: date, conn: sqlite3.Connection) -> None:
        """The day's rows into ``rows``, in batches; memory does not grow with the day."""
        conn.execute("BEGIN")
        batch: list[tuple[int, str]] = []
        for row in self.session.day_rows(day):
            batch.append(row)
            if len(batch) == INSERT_BATCH:
                conn.executemany("INSERT INTO rows VALUES (?, ?)", batch)
                batch.clear()
        conn.executemany("INSERT INTO rows VALUES (?, ?)", batch)
        conn.execute("COMMIT")

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """The server's errors as SourceError, without the password."""
        try:
            yield
        except self.session.errors as exc:
            reason = store.error_text(exc, self.url)
            raise SourceError(f"reading {self.describe()} failed: {reason}") from None

    def _record_read(self, day: date) -> None:
        """Tell ``prune`` a complete day was read; say once when that cannot be written."""
        now = datetime.now(UTC)
        if not self._can_record or day >= now.date():
            return
        try:
            self.session.mark_fetched(day, "local", now)
        except self.session.errors as exc:
            self._can_record = False
            cannot_record(self.describe(), store.error_text(exc, self.url))

    def close(self) -> None:
        self.session.close()


class HttpSource:
    """A receiver's ``/export/``, read with a bearer token; retries on 5xx and lost connections.

    The token goes only to the origin (scheme, host, port) of ``url``: ``https://``, or
    ``http://`` on a loopback address, where it never leaves the machine. A redirect to any
    other origin is refused rather than followed, and a loopback source bypasses proxies.

    Answers are asked for gzip-compressed and decompressed while they stream; ``received``
    counts the bytes that arrived (compressed, retries included) and ``decoded`` what they
    held.
    """

    def __init__(self, url: str, token: str | None, retries: int = 5, backoff: float = 1.0) -> None:
        if not token:
            raise SourceError("set ANALYTICS_EXPORT_TOKEN to read a receiver's export")
        self.origin = checked_origin(url)
        self.base = url.rstrip("/")
        self.token = token
        self.retries = retries
        self.backoff = backoff
        handlers: list[urllib.request.BaseHandler] = [SameOriginRedirects()]
        if self.origin[0] == "http":  # loopback: no proxy ever sees the token in clear text
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)
        self._index: Availability | None = None
        self.received = 0  # bytes of answer bodies as they came over the wire
        self.decoded = 0  # the same bodies decompressed

    def describe(self) -> str:
        return self.base

    def availability(self) -> Availability:
        """The receiver's index of kept days, fetched once per run."""
        if self._index is None:
            self._index = self._read_index()
        return self._index

    def _read_index(self) -> Availability:
        index = self._fetch("/export/", lambda body: json.load(body))
        try:
            days = {date.fromisoformat(d["date"]): d for d in index["days"]}
            kept = index["oldest_kept_day"]
            today = index.get("today")  # older receivers do not report their date
            return Availability(
                deployment=index["deployment"],
                oldest_kept_day=date.fromisoformat(kept) if kept else None,
                systems={d: int(v["systems"]) for d, v in days.items()},
                rejected={
                    d: (int(v.get("duplicate", 0)), int(v.get("ignored", 0)))
                    for d, v in days.items()
                },
                counts_rejected=all("duplicate" in v for v in days.values()),
                today=date.fromisoformat(today) if today is not None else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SourceError(f"{self.base}/export/ answered an unexpected index ({exc})") from None

    @contextmanager
    def day(self, day: date) -> Iterator[DayRows]:
        # SQLite's private temporary database: its file is unlinked as soon as it is opened, so
        # nothing is left behind even when the run is killed.
        conn = sqlite3.connect("", isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("CREATE TABLE rows (data TEXT NOT NULL)")
            self._fetch(f"/export/{day.isoformat()}.jsonl", lambda r: self._load(conn, r))
            bad = conn.execute("SELECT count(*) FROM rows WHERE NOT json_valid(data)")
            if bad.fetchone()[0]:
                raise SourceError(f"the export of {day} holds lines that are not JSON")
            relation = "(SELECT json_extract(data, '$.age_days') AS age_days, data FROM rows)"
            yield DayRows(conn, relation, ())
        finally:
            conn.close()

    @staticmethod
    def _load(conn: sqlite3.Connection, body: Iterable[bytes]) -> int:
        """Stream JSON lines into ``rows``, all or nothing (a retry starts from an empty table).

        An answer cut short raises on the way (IncompleteRead, a gzip stream without its end),
        and the caller retries it like a lost connection.
        """
        conn.execute("BEGIN")
        try:
            conn.execute("DELETE FROM rows")
            count = 0
            for batch in _batches(body):
                conn.executemany("INSERT INTO rows (data) VALUES (?)", batch)
                count += len(batch)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return count

    def _fetch(self, path: str, read: Any) -> Any:
        """GET ``path`` and hand its decoded body to ``read``; retry what may pass, explain
        the rest."""
        url = self.base + path
        headers = {"Authorization": f"Bearer {self.token}", "Accept-Encoding": "gzip"}
        request = urllib.request.Request(url, headers=headers)
        for attempt in range(self.retries + 1):
            try:
                with self._opener.open(request, timeout=60) as response:
                    return self._read_body(url, response, read)
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == self.retries:
                    raise SourceError(_explain(url, exc)) from None
                problem = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                if attempt == self.retries:
                    raise SourceError(f"{url}: cannot read the export ({exc})") from None
                problem = str(exc)
            except DAMAGED_GZIP as exc:
                problem = f"the gzip-compressed answer was cut short or damaged ({exc})"
                if attempt == self.retries:
                    raise SourceError(f"{url}: {problem}") from None
            delay = self.backoff * 2**attempt
            print(f"{url}: {problem}; retrying in {delay:.0f}s", flush=True)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _read_body(self, url: str, response: http.client.HTTPResponse, read: Any) -> Any:
        """``read`` over the body of ``response``, decompressed as it streams when gzip;
        whatever arrived is counted, even when the answer breaks off."""
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip"):
            raise SourceError(f"{url} answered in an encoding it was not asked for: {encoding}")
        wire = WireBytes(response)
        raw = io.BufferedReader(wire, READ_BUFFER)
        body: io.BufferedIOBase = raw if encoding == "identity" else gzip.GzipFile(fileobj=raw)
        decoded = CountedLines(body)
        try:
            result = read(decoded)
            missing = response.length
            if missing:  # reading stops quietly at end of stream; the length does not lie
                raise http.client.IncompleteRead(b"", missing)
            return result
        finally:
            self.received += wire.count
            self.decoded += decoded.count

    def transfer(self) -> str | None:
        """What came over the wire in this run, in words; None before anything came."""
        if not self.received:
            return None
        line = f"received {describe_bytes(self.received)} from the export"
        if self.decoded == self.received:
            return line + ", not compressed"
        return line + f", gzip-compressed from {describe_bytes(self.decoded)}"

    def close(self) -> None:
        """Nothing to release: each day's database goes when its connection closes."""


LOOPBACK_NAMES = ("localhost", "localhost.")
DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int | None]  # scheme, host, port


def origin_of(url: str) -> Origin:
    """(scheme, host, port) of ``url``, lower case, the port filled in; ValueError if unreadable."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


def checked_origin(url: str) -> Origin:
    """The origin of a source URL that may carry the export token; SourceError if it may not.

    ``https://`` anywhere; ``http://`` only on loopback (127.0.0.0/8, ::1, localhost).
    """
    try:
        scheme, host, port = origin_of(url)
    except ValueError as exc:  # a port that is not a number, a bad IPv6 literal
        raise SourceError(f"{url}: not a URL ({exc})") from None
    if scheme not in DEFAULT_PORTS or not host:
        raise SourceError(f"{url}: the source must be an https:// URL")
    if scheme == "http" and not is_loopback(host):
        raise SourceError(
            f"{url}: refusing to send the export token over plain http to {host};"
            " use https:// (http:// is only for loopback addresses)"
        )
    return scheme, host, port


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and the loopback addresses (127.0.0.0/8, ::1)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only within the origin the token was meant for; refuse any other."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        try:
            target = origin_of(urllib.parse.urljoin(req.full_url, newurl))
        except ValueError:
            target = ("", "an unreadable address", None)
        if target != origin_of(req.full_url):
            fp.close()
            scheme, host, port = target
            where = f"{scheme}://{host}:{port}" if scheme else host
            raise SourceError(
                f"{req.full_url} redirects to {where}, another origin; refusing to follow"
                " (the export token goes only to the --source)"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class WireBytes(io.RawIOBase):
    """An HTTP response's body as a raw stream that counts the bytes read from it."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.response = response
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        read = self.response.readinto(buffer)
        self.count += read
        return read


class CountedLines:
    """A binary stream's lines (or reads, for ``json.load``), counting the bytes handed out."""

    def __init__(self, stream: io.BufferedIOBase) -> None:
        self.stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        for line in self.stream:
            self.count += len(line)
            yield line


def _batches(lines: Iterable[bytes]) -> Iterator[list[tuple[str]]]:
    """Non-empty lines as text, in batches for executemany."""
    batch: list[tuple[str]] = []
    for line in lines:
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise SourceError("the export holds a line that is not UTF-8") from None
        if text:
            batch.append((text,))
        if len(batch) == INSERT_BATCH:
            yield batch
            batch = []
    yield batch


def describe_bytes(count: int) -> str:
    """A byte count for people, in decimal units: ``812 bytes``, ``18.3 MB``."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


def _explain(url: str, exc: urllib.error.HTTPError) -> str:
    reason = ""
    with contextlib.suppress(ValueError, OSError, AttributeError):
        reason = json.loads(exc.read()).get("error", "")
    if exc.code == 401:
        return f"{url}: the export token was refused (check ANALYTICS_EXPORT_TOKEN)"
    if exc.code == 404:
        return f"{url}: no export here (wrong URL, or the receiver has no EXPORT_TOKEN set)"
    return f"{url}: HTTP {exc.code} {reason}".rstrip()
