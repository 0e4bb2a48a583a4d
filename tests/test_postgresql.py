"""The receiver on PostgreSQL as deployed: ``pulp-analytics serve`` processes on one database of
the session's throwaway server (``conftest.postgresql_server``), and what only PostgreSQL has:
several receivers at once, a server that restarts under load, a pool of connections, passwords
in URLs, roles that may only read.

The contract itself (POST, duplicates, ignored, export, prune, retention, lifetimes, health)
runs on both stores in tests/test_receiver.py and tests/test_export_and_retention.py.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from builder.cli import main
from builder.devtools import receivers
from builder.devtools.postgresql import Server
from receiver.store import Database, StoreError, base, open_existing, open_store
from receiver.store import postgresql as pg_store
from receiver.store import sqlite as sqlite_store
from tests import wire
from tests.conftest import AUTH, ID_KEY, Clock
from tests.stores import Peek
from tests.test_nginx import nginx_in_front

pytestmark = pytest.mark.stores("postgresql")
CLI = str(Path(sys.executable).parent / "pulp-analytics")


@dataclass
class Receiver:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()


@contextmanager
def serving(
    database: Database, tmp_path: Path, name: str = "receiver", workers: int = 2
) -> Iterator[Receiver]:
    """``pulp-analytics serve`` on ``database`` (given in ANALYTICS_DATABASE), its output in a
    log file."""
    log_path = tmp_path / f"{name}.log"
    port = receivers.free_port()
    with log_path.open("wb") as log:
        process = receivers.start(database, port, workers=workers, log=log)
        try:
            receivers.wait_healthy(f"http://127.0.0.1:{port}/", process)
            yield Receiver(process, port, log_path)
        finally:
            receivers.stop(process)


def post(port: int, body: bytes) -> tuple[int, str]:
    """(status, the answer's status or error) of one report."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/", body=body, headers={"Content-Type": "application/octet-stream"})
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    return response.status, answer.get("status") or answer.get("error", "")


def health(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/healthz")
    status = conn.getresponse().status
    conn.close()
    return status


def password_of(database: Database) -> str:
    password = str(database).split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert len(password) > 10  # a real secret, so that searching for it means something
    return password


def database_name(database: Database) -> str:
    return str(database).rsplit("/", 1)[1]


@pytest.mark.slow
def test_two_receivers_on_one_database_accept_each_system_once(
    database: Database, tmp_path: Path
) -> None:
    """The same system posted to both receivers at the same moment: one is accepted, the other
    is a duplicate, and one report is stored."""
    systems = [str(uuid.uuid4()) for _ in range(40)]
    outcomes: dict[str, list[str]] = {system: [] for system in systems}
    together = threading.Barrier(2)

    def send_all(port: int) -> None:
        for system in systems:
            together.wait(timeout=30)  # both receivers get this system at the same moment
            status, answer = post(port, wire.analytics(system))
            outcomes[system].append(answer if status == 200 else f"{status} {answer}")

    with serving(database, tmp_path, "a") as first, serving(database, tmp_path, "b") as second:
        threads = [threading.Thread(target=send_all, args=(r.port,)) for r in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        logs = first.log() + second.log()
    assert {system: sorted(answers) for system, answers in outcomes.items()} == {
        system: ["accepted", "duplicate"] for system in systems
    }
    peek = Peek(database)
    assert peek.execute("SELECT count(*) FROM submissions").fetchone()[0] == 40
    assert peek.execute("SELECT count FROM outcomes WHERE status = 'duplicate'").fetchone()[0] == 40
    peek.close()
    password = password_of(database)
    assert password not in logs
    assert "with postgresql://analytics:***@127.0.0.1:" in logs  # the start-up line


@pytest.mark.slow
def test_a_restarted_database_gives_503s_then_recovery_without_restarting_the_receiver(
    database: Database, postgresql_server: Server, tmp_path: Path
) -> None:
    answers: list[tuple[float, int, str, str]] = []  # (when, status, answer, system)
    stop = threading.Event()

    def load(port: int) -> None:
        while not stop.is_set():
            system = str(uuid.uuid4())
            try:
                status, answer = post(port, wire.analytics(system))
            except (OSError, http.client.HTTPException) as exc:
                answers.append((time.monotonic(), 0, str(exc), system))
                continue
            answers.append((time.monotonic(), status, answer, system))

    with serving(database, tmp_path) as receiver:
        threads = [threading.Thread(target=load, args=(receiver.port,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.5)
            postgresql_server.stop()
            time.sleep(1.5)
            unhealthy = health(receiver.port)
            postgresql_server.start()
            restarted = time.monotonic()
            time.sleep(3)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            if not (postgresql_server.data / "postmaster.pid").exists():
                postgresql_server.start()  # the other tests need it
        healthy = health(receiver.port)
        still_running = receiver.process.poll() is None
        log = receiver.log()
    statuses = [status for _, status, _, _ in answers]
    assert unhealthy == 503
    assert 503 in statuses
    assert set(statuses) <= {200, 503}  # never a 500, never a dropped connection
    assert {answer for _, status, answer, _ in answers if status == 503} == {
        "storage is unavailable, try again later"
    }
    late = [answer for when, _, answer, _ in answers if when > restarted + 1.5]
    assert late and set(late) == {"accepted"}  # recovered by itself
    assert healthy == 200
    assert still_running
    accepted = [system for _, _, answer, system in answers if answer == "accepted"]
    peek = Peek(database)
    stored = peek.execute("SELECT count(*) FROM submissions").fetchone()[0]
    peek.close()
    assert stored == len(accepted)  # every acknowledged report, and no other
    assert "storing a submission failed: " in log
    assert password_of(database) not in log


@pytest.mark.slow
def test_a_worker_keeps_answering_while_one_of_its_requests_waits_for_the_database(
    database: Database, tmp_path: Path
) -> None:
    """One gevent worker: a report waits for a lock in PostgreSQL, and /healthz is answered
    meanwhile by the same worker (psycopg waits cooperatively)."""
    with serving(database, tmp_path, workers=1) as receiver:
        blocker = psycopg.connect(str(database))  # holds a transaction until told
        blocker.execute("LOCK TABLE systems IN EXCLUSIVE MODE")
        result: list[tuple[int, str]] = []
        report = threading.Thread(
            target=lambda: result.append(post(receiver.port, wire.analytics(str(uuid.uuid4()))))
        )
        report.start()
        time.sleep(0.5)  # the report is waiting for the lock now
        started = time.monotonic()
        status = health(receiver.port)
        answered_in = time.monotonic() - started
        waiting = report.is_alive()
        time.sleep(1.0)
        blocker.rollback()
        blocker.close()
        report.join(timeout=30)
    assert (status, waiting) == (200, True)
    assert answered_in < 2.0  # the lock is held for 1.5 s in all
    assert result == [(200, "accepted")]


@pytest.mark.slow
def test_a_database_password_is_in_no_error_and_no_help(
    database: Database, postgresql_server: Server, tmp_path: Path
) -> None:
    secret = password_of(database)
    port, name = postgresql_server.port, database_name(database)
    wrong = f"postgresql://analytics:wrong-{secret}@127.0.0.1:{port}/{name}"
    unreadable = f"postgresql://analytics:bad%zz{secret}@127.0.0.1:{port}/{name}"
    nowhere = f"postgresql://analytics:{secret}@127.0.0.1:{receivers.free_port()}/{name}"

    def run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "ANALYTICS_DATABASE": url, "ANALYTICS_ID_KEY": ID_KEY}
        return subprocess.run(
            [CLI, *args], capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path
        )

    failures = {
        "serve, wrong password": (run("serve", url=wrong), "password authentication failed"),
        "serve, unreadable URL": (run("serve", url=unreadable), "not a usable PostgreSQL URL"),
        "serve, no server": (run("serve", url=nowhere), "Connection refused"),
        "prune, wrong password": (run("prune", url=wrong), "password authentication failed"),
        "summarize, wrong password": (
            run("summarize", "--summaries", "out", url=wrong),
            "password authentication failed",
        ),
        "--db another scheme": (
            run("prune", "--db", f"mysql://root:{secret}@db/analytics", url=wrong),
            "must be a SQLite file or a postgresql://USER:PASSWORD@HOST:PORT/DATABASE URL",
        ),
    }
    for what, (result, reason) in failures.items():
        output = result.stdout + result.stderr
        assert result.returncode != 0, what
        assert output.count("\n") == 1 and output.startswith("Error: "), (what, output)
        assert reason in output, (what, output)
        assert secret not in output, what
        assert "Traceback" not in output, what
    for args in (["--help"], ["serve", "--help"], ["prune", "--help"], ["summarize", "--help"]):
        result = run(*args, url=str(database))
        assert result.returncode == 0
        assert secret not in result.stdout + result.stderr
    serve_help = run("serve", "--help", url=str(database)).stdout
    assert "postgresql://USER:PASSWORD@HOST:PORT/DATABASE" in " ".join(serve_help.split())


def test_each_migration_is_applied_once_when_receivers_start_at_once(
    database: Database, clock: Clock
) -> None:
    """The same numbered migrations as SQLite's, recorded by name, each applied once by
    whichever of several starting processes takes the migration lock first."""
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            applied.append(open_store(database).migrate(date(2026, 11, 2), str.encode))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(map(tuple, applied)) == [(), (), (), base.MIGRATION_NAMES]
    names = tuple(name for name, _ in pg_store.MIGRATIONS)
    assert names == tuple(name for name, _ in sqlite_store.MIGRATIONS) == base.MIGRATION_NAMES
    session = open_existing(database)
    rows = session.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
    assert [row[0] for row in rows] == list(base.MIGRATION_NAMES)
    assert session.oldest_kept_day() == date(2026, 11, 2)  # collecting_since, set once
    session.close()


def test_a_database_that_is_not_the_receivers_is_refused(
    database: Database, tmp_path: Path
) -> None:
    with pytest.raises(StoreError, match="not a receiver database"):
        open_existing(database)
    result = CliRunner().invoke(main, ["prune", "--db", str(database)])
    assert result.exit_code != 0
    assert "not a receiver database" in result.output


def test_a_report_waits_for_a_free_connection_then_gets_503(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every connection of the process is busy (here its only one): after the wait, a 503,
    never a 500; then the next report is stored."""
    monkeypatch.setattr(pg_store, "POOL_SIZE", 1)
    monkeypatch.setattr(pg_store, "CHECKOUT_TIMEOUT_S", 0.2)
    app = make_app()
    client = app.test_client()
    with app.extensions["analytics"].store.using():
        response = client.post("/", data=wire.analytics(str(uuid.uuid4())))
        assert (response.status_code, response.json) == (
            503,
            {"error": "storage is unavailable, try again later"},
        )
    assert client.post("/", data=wire.analytics(str(uuid.uuid4()))).json == {"status": "accepted"}


@contextmanager
def reading_role(database: Database, port: int, *, grant: bool = True) -> Iterator[str]:
    """The URL of a role that may read the receiver's tables (as they are now) and no more
    (``grant=False``: not even that)."""
    role = f"reader_{uuid.uuid4().hex[:8]}"
    secret = f"pw-{uuid.uuid4().hex}"
    with psycopg.connect(str(database), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{secret}'")
        if grant:
            admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    try:
        yield f"postgresql://{role}:{secret}@127.0.0.1:{port}/{database_name(database)}"
    finally:
        with psycopg.connect(str(database), autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def test_summarize_db_with_a_role_that_only_reads_says_so_once_and_carries_on(
    make_app: Any, clock: Clock, database: Database, postgresql_server: Server, tmp_path: Path
) -> None:
    client = make_app().test_client()
    for day in (date(2026, 11, 2), date(2026, 11, 3)):
        clock.set_day(day)
        assert client.post("/", data=wire.analytics(str(uuid.uuid4()))).status_code == 200
    out = tmp_path / "summaries"
    with reading_role(database, postgresql_server.port) as role:
        result = CliRunner().invoke(
            main, ["summarize", "--db", role, "--summaries", str(out), "--today", "2026-11-04"]
        )
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("cannot record")]
    shown = role.replace(role.split(":")[2].split("@")[0], "***")
    assert notes == [
        f"cannot record in {shown} which days were summarized (permission denied for table"
        " fetched_days); prune keeps them until --max-keep-days"
    ]
    assert sorted(p.name for p in out.glob("*/*/*.json")) == ["2026-11-02.json", "2026-11-03.json"]
    days = client.get("/export/", headers=AUTH).json["days"]
    assert [day["fetched"] for day in days] == [False, False]


TWO_RECEIVERS = Path(__file__).resolve().parent.parent / "deploy" / "nginx-two-receivers.conf"


def two_receivers_site(port: int, folder: Path, upstreams: tuple[int, int]) -> str:
    """deploy/nginx-two-receivers.conf on plain HTTP at ``port``, its two receivers on
    loopback, logging under ``folder``."""
    text = TWO_RECEIVERS.read_text()
    text = re.sub(r"listen 443 ssl;", f"listen 127.0.0.1:{port};", text)
    text = re.sub(r"\n\s*(ssl_certificate\S*)[^\n]*;", "", text)
    text = text.replace("/var/log/nginx/", f"{folder}/")
    for host, upstream in zip(("10.0.0.11:8080", "10.0.0.12:8080"), upstreams, strict=True):
        text = text.replace(host, f"127.0.0.1:{upstream}")
    assert text.count("127.0.0.1:") == 3
    return text


@pytest.mark.slow
def test_the_upstream_example_keeps_taking_reports_while_one_receiver_is_down(
    database: Database, tmp_path: Path
) -> None:
    """deploy/nginx-two-receivers.conf in a real nginx before two receivers on one database:
    reports reach both; with one stopped (a rolling deploy), every report is still accepted;
    a system that reported through one is a duplicate through the other."""
    with serving(database, tmp_path, "a") as first, serving(database, tmp_path, "b") as second:
        upstreams = (first.port, second.port)

        def site(port: int, folder: Path) -> str:
            return two_receivers_site(port, folder, upstreams)

        folder = tmp_path / "nginx"
        folder.mkdir()
        with nginx_in_front(0, folder, site) as port:
            # 18 reports from one address: within the file's burst of 20 (then 429s)
            systems = [str(uuid.uuid4()) for _ in range(16)]
            both_up = [post(port, wire.analytics(system)) for system in systems[:8]]
            receivers.stop(first.process)
            one_down = [post(port, wire.analytics(system)) for system in systems[8:]]
            again = [post(port, wire.analytics(system)) for system in systems[:2]]
        served = [log.count(" POST / 200 accepted ") for log in (first.log(), second.log())]
    assert both_up + one_down == [(200, "accepted")] * 16
    assert again == [(200, "duplicate")] * 2
    assert min(served) >= 1  # both took reports while both were up
    peek = Peek(database)
    assert peek.execute("SELECT count(*) FROM submissions").fetchone()[0] == 16
    peek.close()


def test_a_role_that_may_not_read_the_tables_gets_one_error_line(
    make_app: Any, database: Database, postgresql_server: Server
) -> None:
    make_app()  # the tables exist
    with reading_role(database, postgresql_server.port, grant=False) as role:
        for command in (["prune", "--db", role], ["summarize", "--db", role]):
            result = CliRunner().invoke(main, command)
            assert result.exit_code == 1, result.output
            assert result.output.startswith("Error: postgresql://reader_"), result.output
            assert "permission denied for table schema_migrations" in result.output
            assert result.output.count("\n") == 1
            assert role.split(":")[2].split("@")[0] not in result.output
