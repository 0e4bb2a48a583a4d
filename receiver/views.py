"""Submissions, health and the front page.

``POST /`` follows one path: read, decode, check, store, answer. Anything a client can send
gets a 200 or a 4xx with a reason; only a database that cannot be written gives a 503.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    request,
    send_from_directory,
)
from flask.typing import ResponseReturnValue
from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.exceptions import ClientDisconnected, HTTPException, NotFound
from werkzeug.security import safe_join

from receiver import Receiver
from receiver.contract import MAX_BODY_BYTES, ReadTimeout, Rejected, decode
from receiver.store import error_text

log = logging.getLogger("receiver")
PUBLISHED_SITE = "https://pulp.github.io/pulp-analytics/"  # mkdocs.yml's site_url
bp = Blueprint("receiver", __name__)


def receiver() -> Receiver:
    rx: Receiver = current_app.extensions["analytics"]
    return rx


def now_utc() -> datetime:
    """The receiver's clock, or the request's Date header when CLOCK=request-date."""
    settings = receiver().settings
    moment = (request.date if settings.request_clock else None) or settings.clock()
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


ANSWERS = {s: json.dumps({"status": s}).encode() for s in ("accepted", "duplicate", "ignored")}


def answer(status: str) -> Response:
    """One of the three 200 answers; their bodies are encoded once."""
    g.outcome = status
    return Response(ANSWERS[status], mimetype="application/json")


def failure(reason: str, code: int, logged: str | None = None) -> tuple[Response, int]:
    """An error answer; the log gets ``logged`` (no client data) when given, else the reason."""
    g.outcome = logged or reason
    return jsonify(error=reason), code


@bp.before_app_request
def start_timer() -> None:
    g.started = time.perf_counter()


@bp.after_app_request
def log_outcome(response: Response) -> Response:
    """One line per request; never the body, the system id or the client address."""
    elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    log.info(
        "%s %s %d %s %.1fms",
        request.method,
        json.dumps(request.path)[1:-1],  # control characters escaped: one request, one line
        response.status_code,
        g.get("outcome", "-"),
        elapsed,
    )
    return response


@bp.post("/")
def submit() -> Response | tuple[Response, int]:
    rx = receiver()
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:  # a chunked body carries no length to refuse it up front
        return failure(f"body is larger than {MAX_BODY_BYTES} bytes", 413)
    if len(body) < (request.content_length or 0):  # the client closed its side early
        return failure("the body ended before its Content-Length", 400)
    try:
        submission = decode(body)
    except Rejected as exc:
        return failure(str(exc), 400, exc.logged)
    now = now_utc()
    try:
        if submission.dev and not rx.settings.collect_dev_systems:
            rx.store.count_outcome(now, "ignored")
            return answer("ignored")
        return answer(rx.store.record(rx.id_key.hash(submission.system_id), submission, now))
    except rx.store.errors as exc:
        log.error("storing a submission failed: %s", database_error(exc))
        return failure("storage is unavailable, try again later", 503)


def database_error(exc: Exception) -> str:
    """The database's error for the log: one line, without the password of a database URL."""
    return error_text(exc, receiver().settings.database)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 while reports can be stored; 503 when they cannot (the log says why).

    No write per probe while writes succeed; see ``Store.problem``.
    """
    rx = receiver()
    problem = rx.store.problem()
    if problem:
        log.error("health check failed: %s", problem)
        g.outcome = "reports cannot be stored"
        return jsonify(status="unavailable", error="reports cannot be stored right now"), 503
    return jsonify(status="ok", deployment=rx.settings.deployment), 200


@bp.get("/")
def front_page() -> ResponseReturnValue:
    settings = receiver().settings
    if settings.site_url:
        return redirect(settings.site_url, code=302)
    if settings.site_dir:
        return send_site_file(settings.site_dir, "index.html")
    name = escape(settings.deployment)
    site = PUBLISHED_SITE + ("dev/" if settings.deployment == "dev" else "")
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>Pulp analytics receiver ({name})</title>"
        f"<h1>Pulp analytics receiver ({name})</h1>"
        "<p>Pulp installations post their daily usage report here. The charts are published on "
        f'<a href="{site}">the Pulp analytics site</a>.</p>'
    )
    return Response(page, mimetype="text/html")


@bp.get("/<path:path>")
def site_file(path: str) -> ResponseReturnValue:
    """Serve a built site next to the receiver (``SITE_DIR``, used by the demo)."""
    site_dir = receiver().settings.site_dir
    if site_dir is None:
        raise NotFound()
    if path.endswith("/"):
        path += "index.html"
    return send_site_file(site_dir, path)


def send_site_file(site_dir: Path, path: str) -> Response:
    """A file of the built site; 404 for anything that resolves outside it (a symlink out)."""
    joined = safe_join(str(site_dir), path)
    if joined is None:
        raise NotFound()
    target = Path(joined).resolve()
    if not target.is_relative_to(site_dir.resolve()) or not target.is_file():
        raise NotFound()
    return send_from_directory(site_dir, path)


def register_error_handlers(app: Flask) -> None:
    """Every error answer is JSON with a reason, never an HTML page or a traceback."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        code = exc.code or 500
        if code == 413:
            return failure(f"body is larger than {MAX_BODY_BYTES} bytes", 413)
        if isinstance(exc, ClientDisconnected):
            return failure("the body ended before its Content-Length", 400)
        return failure(exc.description or exc.name, code)

    @app.errorhandler(ReadTimeout)
    def too_slow(exc: ReadTimeout) -> tuple[Response, int]:
        return failure(str(exc), 408)

    @app.errorhandler(NoMoreData)
    @app.errorhandler(ParseException)
    def malformed_body(exc: Exception) -> tuple[Response, int]:
        """A chunked body that breaks off or is malformed (read by gunicorn's parser)."""
        reason = "the body ended early" if isinstance(exc, NoMoreData) else str(exc)
        return failure(f"malformed request body: {reason}", 400, "malformed request body")

    def storage_error(exc: Exception) -> tuple[Response, int]:
        """The database failed under a read (the export): a fresh connection next time."""
        log.error("reading the database failed: %s", database_error(exc))
        receiver().store.reset()
        return failure("storage is unavailable, try again later", 503)

    for error in app.extensions["analytics"].store.errors:
        app.register_error_handler(error, storage_error)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        """A bug, not the client's doing: logged with its traceback, answered without it."""
        log.exception("unexpected error on %s %s", request.method, request.path)
        return failure("internal error; the receiver's log has the details", 500)
