"""Running the receiver under gunicorn, a production WSGI server.

The app is built once in the master process (so a bad setting stops start-up with one clear
message, and the database is migrated on a connection closed before the fork) and gunicorn
forks its workers from it; each worker opens its own connections on first use (one SQLite
connection to the shared file, or a small pool to PostgreSQL). The workers are gevent workers
with a read deadline per request (``receiver.worker``), so slow clients cannot tie them up.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from receiver.worker import ReceiverWorker


def default_workers() -> int:
    """One worker per core: a gevent worker keeps its core busy by itself, and more workers
    than cores only contend for them (2 beat 3 and 4 on two cores, see BENCHMARKS.md)."""
    return max(2, os.cpu_count() or 1)


class ReceiverServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def options(host: str, port: int, workers: int, read_timeout: float) -> dict[str, Any]:
    """gunicorn's settings for the receiver."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": ReceiverWorker.with_read_timeout(read_timeout),
        "worker_connections": 1000,  # open connections per worker, slow ones included
        "keepalive": 0,  # one request per connection: pulpcore posts once a day
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,  # the app logs each request without the client's address
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "pulp-analytics-receiver",
        # gunicorn's control socket is one path per user by default, so a second receiver on
        # the host would take it over and stopping either would remove the other's. The
        # receiver does not need it.
        "control_socket_disable": True,
    }


def serve(app: Flask, host: str, port: int, workers: int) -> None:
    """Serve ``app`` until SIGINT or SIGTERM; requests are logged by the app, one line each."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(process)d] %(message)s")
    # The log shows neither thread names nor where a line was logged from; not gathering them
    # is the logging module's documented shortcut (and gevent would otherwise make a thread
    # object for every connection's greenlet, on every line).
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    read_timeout = app.extensions["analytics"].settings.read_timeout
    ReceiverServer(app, options(host, port, workers, read_timeout)).run()
