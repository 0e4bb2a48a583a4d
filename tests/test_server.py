"""``pulp-analytics serve`` as shipped, against clients that misbehave and hosts it shares.

Slow and truncated requests, malformed request lines, the log, the files it writes, /healthz
across worker processes, and two receivers on one host. Every test runs the real server.
"""

from __future__ import annotations

import http.client
import json
import os
import selectors
import socket
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from builder.devtools import receivers
from tests import wire
from tests.faults import immutable, wal

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
CLIENT_ADDRESS = "127.0.0.2"  # the server listens on 127.0.0.1; its own address is logged
READ_TIMEOUT = 3


@dataclass
class Server:
    port: int
    db: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()


@contextmanager
def serving(
    tmp_path: Path, *, workers: int | None = None, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """A receiver with its shipped defaults (a shorter read deadline, to keep tests short)."""
    tmp_path.mkdir(exist_ok=True)
    db = tmp_path / "receiver.sqlite3"
    log_path = tmp_path / f"serve-{uuid.uuid4().hex[:6]}.log"
    port = receivers.free_port()
    settings = {"ANALYTICS_READ_TIMEOUT": str(READ_TIMEOUT), **(env or {})}
    with log_path.open("wb") as log:
        process = receivers.start(db, port, workers=workers, env=settings, log=log)
        try:
            receivers.wait_healthy(f"http://127.0.0.1:{port}/", process)
            yield Server(port, db, log_path)
        finally:
            receivers.stop(process)


def connect(port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind((CLIENT_ADDRESS, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def answer(sock: socket.socket, timeout: float) -> tuple[int, str, dict[str, str]]:
    """(status, Content-Type, JSON body) of the answer on ``sock``; (0, "", {}) for none."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except TimeoutError:
        pass
    if not data:
        return 0, "", {}
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers.get("content-type", ""), json.loads(body)


def post(port: int, body: bytes) -> tuple[int, float]:
    """(status, seconds) of one normal report."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/", body=body, headers={"Content-Type": "application/octet-stream"})
    status = conn.getresponse().status
    conn.close()
    return status, time.monotonic() - started


REPORT_HEAD = b"POST / HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/octet-stream\r\n"


def drip(clients: list[socket.socket], until: float) -> list[tuple[int, str, dict[str, str]]]:
    """Send each client's next byte every second until it is answered (or time is up)."""
    answers: dict[socket.socket, tuple[int, str, dict[str, str]]] = {}
    with selectors.DefaultSelector() as waiting:
        for sock in clients:
            waiting.register(sock, selectors.EVENT_READ)
        while len(answers) < len(clients) and time.monotonic() < until:
            for sock in clients:
                if sock not in answers:
                    with suppress(OSError):  # closed by the receiver: its answer is waiting
                        sock.send(b"a")
            for key, _ in waiting.select(timeout=1.0):
                sock = cast(socket.socket, key.fileobj)
                answers[sock] = answer(sock, 2)
                waiting.unregister(sock)
    return [answers.get(sock, (0, "", {})) for sock in clients]


def test_a_normal_report_is_answered_promptly_while_slow_clients_drip(tmp_path: Path) -> None:
    """Ten clients send one byte per second, five in their headers and five in their body."""
    with serving(tmp_path) as server:
        slow = [connect(server.port) for _ in range(10)]
        for sock in slow[5:]:
            sock.sendall(REPORT_HEAD + b"Content-Length: 500\r\n\r\n")
        answers: list[tuple[int, str, dict[str, str]]] = []
        dripping = threading.Thread(
            target=lambda: answers.extend(drip(slow, time.monotonic() + READ_TIMEOUT + 10))
        )
        dripping.start()
        try:
            time.sleep(1.5)  # every slow client has begun
            timings = [post(server.port, wire.analytics(str(uuid.uuid4()))) for _ in range(5)]
        finally:
            dripping.join()
            for sock in slow:
                sock.close()
        log = server.log()
    assert [status for status, _ in timings] == [200] * 5
    assert max(seconds for _, seconds in timings) < 2.0  # the target is 1 s; a shared CI box
    expected = {"error": f"the request did not arrive within {READ_TIMEOUT} s"}
    assert answers == [(408, "application/json", expected)] * 10
    assert "Traceback" not in log


def test_a_body_shorter_than_its_content_length_gets_json_in_time(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        stalled = connect(server.port)
        stalled.sendall(REPORT_HEAD + b"Content-Length: 100\r\n\r\n" + wire.analytics("x")[:10])
        started = time.monotonic()
        status, kind, body = answer(stalled, READ_TIMEOUT + 5)
        waited = time.monotonic() - started
        stalled.close()
        cut = connect(server.port)
        cut.sendall(REPORT_HEAD + b"Content-Length: 100\r\n\r\n" + b"\x0a\x24")
        cut.shutdown(socket.SHUT_WR)  # the client says it has sent everything
        cut_answer = answer(cut, 5)
        cut.close()
        log = server.log()
    assert (status, kind) == (408, "application/json")
    assert body == {"error": f"the request did not arrive within {READ_TIMEOUT} s"}
    assert waited < READ_TIMEOUT + 2
    assert cut_answer == (
        400,
        "application/json",
        {"error": "the body ended before its Content-Length"},
    )
    assert "Traceback" not in log


def test_requests_gunicorn_refuses_get_json_and_the_log_has_no_client_address(
    tmp_path: Path,
) -> None:
    with serving(tmp_path) as server:
        answers = []
        for raw in (
            b"GARBAGE\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
            b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
            REPORT_HEAD + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n",
        ):
            sock = connect(server.port)
            sock.sendall(raw)
            answers.append(answer(sock, 5)[:2])
            sock.close()
        log = server.log()
    assert answers == [
        (400, "application/json"),
        (400, "application/json"),
        (414, "application/json"),
        (400, "application/json"),
    ]
    assert CLIENT_ADDRESS not in log
    assert "ip=" not in log
    assert "Traceback" not in log
    assert "- - 400 InvalidRequestLine" in log  # each refusal is still one line


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_its_wal_and_shm_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a lax umask, as a shell usually has
    try:
        with serving(tmp_path) as server:
            assert post(server.port, wire.analytics(str(uuid.uuid4())))[0] == 200
            files = {p.name: mode(p) for p in tmp_path.glob("receiver.sqlite3*")}
    finally:
        os.umask(old)
    assert files == {
        "receiver.sqlite3": 0o600,
        "receiver.sqlite3-wal": 0o600,
        "receiver.sqlite3-shm": 0o600,
    }


def test_a_database_made_readable_by_an_older_version_is_made_private(tmp_path: Path) -> None:
    with serving(tmp_path):
        pass
    db = tmp_path / "receiver.sqlite3"
    db.chmod(0o644)
    with serving(tmp_path):
        assert mode(db) == 0o600


def test_the_units_run_with_a_private_umask() -> None:
    for unit in ("pulp-analytics-receiver.service", "pulp-analytics-prune.service"):
        lines = (ROOT / "deploy" / unit).read_text().splitlines()
        assert "UMask=0077" in lines, unit  # the prune unit's sqlite3 .backup copy included


def test_healthz_sees_a_report_that_failed_in_another_worker(tmp_path: Path) -> None:
    with serving(tmp_path, workers=2) as server:
        assert post(server.port, wire.analytics(str(uuid.uuid4())))[0] == 200
        with immutable(server.db, wal(server.db)):
            assert post(server.port, wire.analytics(str(uuid.uuid4())))[0] == 503
            probes = [health(server.port) for _ in range(8)]  # spread over both workers
        recovered = health(server.port)
        stored = post(server.port, wire.analytics(str(uuid.uuid4())))[0]
        log = server.log()
    unavailable = (503, {"status": "unavailable", "error": "reports cannot be stored right now"})
    assert probes == [unavailable] * 8
    assert recovered == (200, {"status": "ok", "deployment": "dev"})
    assert stored == 200
    assert "health check failed: " in log  # SQLite's reason is for the operator only


def health(port: int) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    result = response.status, json.loads(response.read())
    conn.close()
    return result


def test_two_receivers_on_one_host_share_no_control_socket(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": ""}
    with serving(tmp_path / "a", env=env) as first:
        with serving(tmp_path / "b", env=env):
            pass  # the second one stops
        assert health(first.port) == (200, {"status": "ok", "deployment": "dev"})
        assert post(first.port, wire.analytics(str(uuid.uuid4())))[0] == 200
    assert [p.name for p in home.rglob("*")] == []  # no gunicorn.ctl anywhere
