"""The export the nightly job reads: an index of kept days and one JSON-lines file per day.

Both need ``Authorization: Bearer <EXPORT_TOKEN>``; without a configured token the export does
not exist (404). No system id and no raw bytes are ever part of an answer.

A complete day (before the receiver's today) whose lines were streamed to the end is recorded as
fetched; ``prune`` deletes no other day until ``MAX_KEEP_DAYS``.

A client whose ``Accept-Encoding`` accepts gzip gets both answers gzip-compressed: a day's lines
are compressed chunk by chunk as they come from the database and sent as they come (chunked,
without ``Content-Length``), so memory stays flat whatever the size of the day. Any other
client gets the plain text. Both answers say ``Vary: Accept-Encoding``.
"""

from __future__ import annotations

import gzip
import hmac
import logging
import time
import zlib
from collections.abc import Iterable, Iterator
from datetime import date, datetime

from flask import Blueprint, Response, abort, jsonify, request, stream_with_context

from receiver.store import Session
from receiver.views import database_error, failure, now_utc, receiver

log = logging.getLogger("receiver")

bp = Blueprint("export", __name__, url_prefix="/export")
CHUNK_LINES = 256  # lines per write when streaming a day
# zlib's level 6 (its default): a day of 1,000,000 reports, 377 MB of lines, is 18.3 MB for
# 2.3 s of CPU; level 3 gives 25.7 MB for 0.9 s, level 9 16.3 MB for 5.4 s (BENCHMARKS.md,
# "The night at scale"). The night runs once a day, so bytes count more than a second of CPU.
GZIP_LEVEL = 6
GZIP_WBITS = 31  # 16 + 15: the gzip container around a 32 KiB deflate window


@bp.before_request
def require_token() -> tuple[Response, int] | None:
    token = receiver().settings.export_token
    if token is None:
        abort(404)
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        response, code = failure("a valid bearer token is required", 401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="export"'
        return response, code
    return None


@bp.get("/")
def index() -> Response:
    rx = receiver()
    with rx.store.using() as session:
        kept = session.oldest_kept_day()
        counts = session.day_counts()
    days = [
        {
            "date": c.day.isoformat(),
            "systems": c.systems,
            "duplicate": c.duplicate,
            "ignored": c.ignored,
            "fetched": c.fetched,
        }
        for c in counts
    ]
    response = jsonify(
        deployment=rx.settings.deployment,
        today=now_utc().date().isoformat(),
        retention_days=rx.settings.retention_days,
        oldest_kept_day=kept.isoformat() if kept else None,
        days=days,
    )
    response.vary.add("Accept-Encoding")
    if wants_gzip():
        response.set_data(gzip.compress(response.get_data(), GZIP_LEVEL, mtime=0))
        response.content_encoding = "gzip"
    return response


@bp.get("/<day>.jsonl")
def day_lines(day: str) -> Response | tuple[Response, int]:
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        return failure(f"{day!r} is not a date (YYYY-MM-DD)", 400)
    rx = receiver()
    with rx.store.using() as session:
        kept = session.oldest_kept_day()
    if kept is None or wanted < kept:
        since = kept.isoformat() if kept else "none"
        return failure(f"raw data for {wanted} is not kept (oldest kept day: {since})", 410)
    now = now_utc()
    compress = wants_gzip()
    headers = {"Vary": "Accept-Encoding"} | ({"Content-Encoding": "gzip"} if compress else {})

    def chunks() -> Iterator[bytes]:
        with rx.store.session() as session:  # its own connection, for the whole stream
            lines = batches(session.export_lines(wanted))
            yield from gzipped(lines) if compress else lines
            if wanted < now.date():  # the whole of a complete day went out
                mark_fetched(session, wanted, now)

    return Response(stream_with_context(chunks()), mimetype="application/x-ndjson", headers=headers)


def wants_gzip() -> bool:
    """Whether the request's ``Accept-Encoding`` takes gzip, by name or by ``*``, with a
    quality above 0: ``gzip;q=0`` refuses it, even beside ``*``."""
    return request.accept_encodings.quality("gzip") > 0


def batches(lines: Iterable[str]) -> Iterator[bytes]:
    """``CHUNK_LINES`` lines at a time as UTF-8, never an empty chunk.

    Between chunks the greenlet yields (``time.sleep(0)`` under gevent's monkey patching), so
    a long day shares its worker with the reports posted meanwhile and with gunicorn's
    heartbeat.
    """
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == CHUNK_LINES:
            yield "".join(batch).encode()
            batch.clear()
            time.sleep(0)
    if batch:
        yield "".join(batch).encode()


def gzipped(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` as one gzip stream, compressed as they come: zlib keeps its window and a
    little output, never the whole day. Empty output (zlib still filling its buffer) is held
    back, since an empty chunk would end a chunked answer."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


def mark_fetched(session: Session, day: date, now: datetime) -> None:
    """Record the fetch; a failure only means prune keeps the day longer, so it is logged."""
    try:
        session.mark_fetched(day, "export", now)
    except session.errors as exc:
        log.error("recording that %s was fetched failed: %s", day, database_error(exc))
