from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from receiver import create_app

TOKEN = "test-export-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ID_KEY = "7e" * 32  # the tests' key for the keyed hash of system ids


class Clock:
    """A clock the tests move by hand; the receiver reads it through ``CLOCK``."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set_day(self, day: date, hour: int = 12) -> None:
        self.now = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@contextmanager
def serving(wsgi_app: Callable[..., Any]) -> Iterator[str]:
    """``wsgi_app`` on a threaded HTTP server on 127.0.0.1; yields its base URL."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def id_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every receiver a test starts, in process or not, hashes with the tests' key, so none
    writes a generated key into the real instance folder."""
    monkeypatch.setenv("ANALYTICS_ID_KEY", ID_KEY)
    return ID_KEY


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 2, 9, 30, tzinfo=UTC))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "analytics.sqlite3"


@pytest.fixture
def make_app(db_path: Path, clock: Clock) -> Callable[..., Flask]:
    def make(**config: Any) -> Flask:
        settings: dict[str, Any] = {
            "DATABASE": db_path,
            "CLOCK": clock,
            "EXPORT_TOKEN": TOKEN,
            "ID_KEY": ID_KEY,
            "TESTING": True,
        }
        settings.update(config)
        return create_app(settings)

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(db_path: Path, app: Flask) -> Iterator[sqlite3.Connection]:
    """A second connection to the receiver's database, for looking at what was stored."""
    conn = sqlite3.connect(db_path)
    yield conn
    conn.close()
