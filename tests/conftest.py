from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from builder.devtools.postgresql import Server
from receiver import create_app
from receiver.store import Database
from tests.stores import Peek

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


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[Server]:
    """One throwaway PostgreSQL server for the whole session, started on first use; each test
    gets a database of its own on it (``database``). fsync is off: no test loses power."""
    server = Server({"fsync": "off", "max_connections": "300"})
    try:
        server.start()
        yield server
    finally:
        server.remove()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.stores("sqlite", "postgresql")`` runs a test once per store."""
    marker = metafunc.definition.get_closest_marker("stores")
    if marker and "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", marker.args, indirect=True)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """The store the test runs on: SQLite unless the test is marked ``stores``."""
    kind: str = getattr(request, "param", "sqlite")
    return kind


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "analytics.sqlite3"


@pytest.fixture
def database(store_kind: str, db_path: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    """The receiver's database: ``db_path``, or the URL of a new PostgreSQL database, dropped
    afterwards with whatever connections are left on it."""
    if store_kind == "sqlite":
        yield db_path
        return
    server: Server = request.getfixturevalue("postgresql_server")
    name = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(server.url(), autocommit=True) as admin:
        faster = " STRATEGY FILE_COPY" if admin.info.server_version >= 150000 else ""
        admin.execute(f"CREATE DATABASE {name}{faster}")
    try:
        yield server.url(name)
    finally:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def make_app(database: Database, clock: Clock) -> Iterator[Callable[..., Flask]]:
    """Apps on the test's database; their connections are closed when the test ends."""
    made: list[Flask] = []

    def make(**config: Any) -> Flask:
        settings: dict[str, Any] = {
            "DATABASE": database,
            "CLOCK": clock,
            "EXPORT_TOKEN": TOKEN,
            "ID_KEY": ID_KEY,
            "TESTING": True,
        }
        settings.update(config)
        app = create_app(settings)
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["analytics"].store.close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(database: Database, app: Flask) -> Iterator[Peek]:
    """A second connection to the receiver's database, for looking at what was stored."""
    peek = Peek(database)
    yield peek
    peek.close()
