"""The gunicorn worker the receiver runs in: gevent, a read deadline per request, JSON errors.

Each connection is a greenlet rather than a worker process: a client that sends one byte per
second holds a few kilobytes and a socket, not a whole worker, so slow clients do not delay
anybody else. SQLite calls never yield to another greenlet; they are short (one small
transaction per report), so a worker's greenlets can share its connection. PostgreSQL calls
do yield while they wait for the server, so each request borrows a connection of its own from
the worker's small pool (``receiver.store.postgresql``).

A request must arrive whole, headers and body, within ``read_timeout`` seconds of its
connection being accepted; a slower client is answered with a JSON 408 and the connection is
closed. Writing the answer is not limited. What gunicorn refuses before the app sees a request
(a malformed request line or header) is answered in JSON too, and logged without the client's
address.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextlib import suppress
from typing import Any

from gevent import GreenletExit
from gunicorn import util
from gunicorn.http import errors
from gunicorn.workers.ggevent import GeventWorker

from receiver.contract import ReadTimeout

log = logging.getLogger("receiver")

REFUSALS = {  # how gunicorn's own refusals are answered; any other parse error is a 400
    errors.LimitRequestLine: (414, "URI Too Long"),
    errors.LimitRequestHeaders: (431, "Request Header Fields Too Large"),
    errors.UnsupportedTransferCoding: (501, "Not Implemented"),
    errors.ExpectationFailed: (417, "Expectation Failed"),
    errors.ForbiddenProxyRequest: (403, "Forbidden"),
}


class DeadlineSocket:
    """A client socket whose reads must all be done by a deadline; the rest passes through."""

    def __init__(self, sock: Any, seconds: float) -> None:
        self.raw = sock
        self.timed_out = False
        self._sock = sock
        self._seconds = seconds
        self._deadline = time.monotonic() + seconds

    def recv(self, size: int, *flags: int) -> bytes:
        remaining = self._deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            data: bytes = self._sock.recv(size, *flags)
        except TimeoutError:
            self.timed_out = True
            raise ReadTimeout(self._seconds) from None
        finally:
            self._sock.settimeout(None)
        return data

    def close(self) -> None:
        """Close; after a timeout the client may still be sending, and closing on unread bytes
        would reset the connection and could lose the 408: half-close and drain first."""
        if self.timed_out:
            util.close_graceful(self._sock)
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class ReceiverWorker(GeventWorker):  # type: ignore[misc]
    read_timeout: float = 10.0  # set from the READ_TIMEOUT setting by receiver.server

    @classmethod
    def with_read_timeout(cls, seconds: float) -> type[ReceiverWorker]:
        """This worker class with its own read deadline (gunicorn takes a class, not options)."""
        return type(cls.__name__, (cls,), {"read_timeout": float(seconds)})

    def patch(self) -> None:
        """gevent's patches, then psycopg made to wait like everything else (when the
        database is PostgreSQL, the master imported it before the patches)."""
        super().patch()
        if "psycopg" in sys.modules:
            from receiver.store.postgresql import cooperate_with_gevent

            cooperate_with_gevent()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        super().handle(listener, DeadlineSocket(client, self.read_timeout), addr)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Answer a request the app never saw, in JSON; log it without the client's address."""
        if isinstance(exc, GreenletExit):  # the worker is stopping and ends this connection
            return
        if isinstance(exc, ReadTimeout):
            status, reason, message = 408, "Request Timeout", str(exc)
        elif isinstance(exc, errors.ParseException):
            status, reason = REFUSALS.get(type(exc), (400, "Bad Request"))
            message = f"malformed request: {exc}"
        else:
            log.error("unexpected error before the request reached the receiver", exc_info=exc)
            status, reason = 500, "Internal Server Error"
            message = "internal error; the receiver's log has the details"
        method = getattr(req, "method", None) or "-"
        path = json.dumps(getattr(req, "path", None) or "-")[1:-1]  # one request, one line
        log.info("%s %s %d %s", method, path, status, type(exc).__name__)
        body = json.dumps({"error": message}).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        with suppress(OSError):  # the client may be gone: nothing to answer then
            client.sendall(head.encode("latin-1") + body)
        # Unread bytes at close would make the kernel reset the connection, and the client
        # could lose the answer: half-close, then read what is left for a moment.
        util.close_graceful(getattr(client, "raw", client))
