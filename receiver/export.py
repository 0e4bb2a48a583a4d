"""The export the nightly job reads: an index of kept days and one JSON-lines file per day.

Both need ``Authorization: Bearer <EXPORT_TOKEN>``; without a configured token the export does
not exist (404). No system id and no raw bytes are ever part of an answer.

A complete day (before the receiver's today) whose lines were streamed to the end is recorded as
fetched; ``prune`` deletes no other day until ``MAX_KEEP_DAYS``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from datetime import date, datetime

from flask import Blueprint, Response, abort, jsonify, request, stream_with_context

from receiver.store import Session
from receiver.views import database_error, failure, now_utc, receiver

log = logging.getLogger("receiver")

bp = Blueprint("export", __name__, url_prefix="/export")
CHUNK_LINES = 256  # lines per write when streaming a day


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
    return jsonify(
        deployment=rx.settings.deployment,
        today=now_utc().date().isoformat(),
        retention_days=rx.settings.retention_days,
        oldest_kept_day=kept.isoformat() if kept else None,
        days=days,
    )


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

    def chunks() -> Iterator[str]:
        with rx.store.session() as session:  # its own connection, for the whole stream
            batch: list[str] = []
            for line in session.export_lines(wanted):
                batch.append(line)
                if len(batch) == CHUNK_LINES:
                    yield "".join(batch)
                    batch.clear()
            yield "".join(batch)
            if wanted < now.date():  # the whole of a complete day went out
                mark_fetched(session, wanted, now)

    return Response(stream_with_context(chunks()), mimetype="application/x-ndjson")


def mark_fetched(session: Session, day: date, now: datetime) -> None:
    """Record the fetch; a failure only means prune keeps the day longer, so it is logged."""
    try:
        session.mark_fetched(day, "export", now)
    except session.errors as exc:
        log.error("recording that %s was fetched failed: %s", day, database_error(exc))
