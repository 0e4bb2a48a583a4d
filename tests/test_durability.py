"""Real processes on one database: concurrent writers, a killed server (on either store), the
request log."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from builder.devtools import receivers
from receiver.store import Database
from tests import wire
from tests.conftest import ID_KEY
from tests.leaks import keyed_hash
from tests.stores import Peek

pytestmark = pytest.mark.slow
CLI = str(Path(sys.executable).parent / "pulp-analytics")


def post_many(db: str, systems: list[str], results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from receiver import create_app

    client = create_app({"DATABASE": db}).test_client()

    def send(system: str) -> str:
        for _ in range(5):  # as a client would, try again after a 503 (database busy)
            response = client.post("/", data=wire.analytics(system))
            if response.status_code != 503:
                return str(response.json["status"])
        return "unavailable"

    results.put([send(s) for s in systems])


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "a.sqlite3")
    shared = [str(uuid.uuid4()) for _ in range(100)]
    own = [[str(uuid.uuid4()) for _ in range(300)] for _ in range(2)]
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    workers = [ctx.Process(target=post_many, args=(db, own[i] + shared, results)) for i in (0, 1)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    accepted = sum(o.count("accepted") for o in outcomes)
    duplicate = sum(o.count("duplicate") for o in outcomes)
    assert (accepted, duplicate) == (700, 100)  # each shared system is accepted exactly once
    rows = sqlite3.connect(db).execute("SELECT count(*) FROM submissions").fetchone()[0]
    assert rows == 700


def start_server(
    db: Database, log: int = subprocess.DEVNULL
) -> tuple[subprocess.Popen[bytes], int]:
    port = receivers.free_port()
    server = receivers.start(db, port, workers=2, log=log)
    receivers.wait_healthy(f"http://127.0.0.1:{port}/", server)
    return server, port


def post(port: int, body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/", body=body, headers={"Content-Type": "application/octet-stream"})
    response = conn.getresponse()
    return response.status, response.read()


@pytest.mark.stores("sqlite", "postgresql")
def test_a_killed_server_keeps_every_submission_it_accepted(database: Database) -> None:
    server, port = start_server(database)
    accepted: list[str] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            system = str(uuid.uuid4())
            try:
                status, body = post(port, wire.analytics(system))
            except (OSError, http.client.HTTPException):
                continue  # the server is gone: this submission was never acknowledged
            if status == 200 and b"accepted" in body:
                accepted.append(system)

    threads = [threading.Thread(target=load) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    os.killpg(server.pid, signal.SIGKILL)  # master and workers, mid-request
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    server.wait(timeout=10)
    assert len(accepted) > 50
    peek = Peek(database)
    stored = {bytes(row[0]) for row in peek.execute("SELECT system_hash FROM systems")}
    missing = [s for s in accepted if keyed_hash(ID_KEY, s) not in stored]
    assert missing == []
    if not peek.postgresql:
        assert peek.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    peek.close()


def test_serve_logs_one_line_per_request_without_system_ids(tmp_path: Path) -> None:
    server, port = start_server(tmp_path / "a.sqlite3", log=subprocess.PIPE)
    systems = [str(uuid.uuid4()) for _ in range(3)]
    try:
        for system in systems:
            assert post(port, wire.analytics(system))[0] == 200
        assert post(port, wire.analytics(systems[0]))[0] == 200
        assert post(port, b"\xff\xff")[0] == 400
        assert post(port, wire.analytics("laptop-of-jane.example.org"))[0] == 400
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(
            "POST",
            "/",
            body=iter([wire.analytics(systems[1], extra=b"\0" * 70000)]),
            encode_chunked=True,
        )
        assert conn.getresponse().status == 413  # a chunked body has no length to check first
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    log = stderr.decode()
    lines = [line for line in log.splitlines() if " POST / " in line]
    assert len(lines) == 7
    assert sum(" 400 system_id is not a UUID " in line for line in lines) == 1
    assert "jane" not in log  # what a client sent in a malformed system id is not logged
    assert sum(" 200 accepted " in line for line in lines) == 3
    assert sum(" 200 duplicate " in line for line in lines) == 1
    assert sum(" 400 body is not a valid Analytics message" in line for line in lines) == 1
    assert sum(" 413 body is larger than 65536 bytes" in line for line in lines) == 1
    for system in systems:
        assert system not in log
    assert "127.0.0.1" not in "\n".join(lines)


def test_serve_with_a_bad_setting_fails_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [CLI, "serve", "--db", str(tmp_path / "a.sqlite3")],
        capture_output=True,
        text=True,
        env={**os.environ, "ANALYTICS_RETENTION_DAYS": "soon"},
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "Error: ANALYTICS_RETENTION_DAYS must be a whole number, not 'soon'"
    )
