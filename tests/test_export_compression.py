"""The export gzip-compressed: what the receiver answers, and how ``summarize --source`` reads it.

A client that accepts gzip gets each day's lines compressed as they stream, with no
``Content-Length``; any other client gets them as plain text. Summaries are the same bytes
either way, memory does not grow with the day, and a compressed answer cut short is fetched
again, never half loaded.
"""

from __future__ import annotations

import gzip
import http.client
import json
import shutil
import sqlite3
import subprocess
import sys
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bench.summarize import BENCH_SECRET, build_db
from bench.summarize import DAY as LARGE_DAY
from builder.devtools import receivers
from builder.summaries.sources import HttpSource, SourceError
from builder.summaries.summarize import summarize
from tests.conftest import AUTH, TOKEN, Clock, serving
from tests.export_memory import large_app, rows_of_the_day
from tests.exports import export_app, submission
from tests.test_export_and_retention import fetched, post_days
from tests.test_nginx import nginx_in_front
from tests.test_summarize import GOLDEN, cli, files, fleet_history

GZIP = {**AUTH, "Accept-Encoding": "gzip"}
DAY = date(2026, 11, 2)
LARGE_FLEET = 30_000  # about 11 MB of lines, 0.6 MB gzip-compressed


def day_with(client: FlaskClient, clock: Clock, systems: int) -> None:
    """``systems`` reports on DAY, then the receiver's clock on the next day (DAY complete)."""
    post_days(client, clock, {DAY: [str(uuid.uuid4()) for _ in range(systems)]})
    clock.set_day(date(2026, 11, 3))


# -- what the receiver answers ------------------------------------------------------------


def test_a_client_that_accepts_gzip_gets_the_same_lines_compressed(
    client: FlaskClient, clock: Clock
) -> None:
    day_with(client, clock, 300)
    plain = client.get("/export/2026-11-02.jsonl", headers=AUTH)
    text = plain.data  # each streamed answer is read whole before the next request
    packed = client.get("/export/2026-11-02.jsonl", headers=GZIP)
    compressed = packed.data
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert plain.headers["Vary"] == packed.headers["Vary"] == "Accept-Encoding"
    assert "Content-Length" not in packed.headers  # streamed: its length is not known up front
    assert packed.mimetype == plain.mimetype == "application/x-ndjson"
    assert len(text.splitlines()) == 300
    assert gzip.decompress(compressed) == text
    assert len(compressed) < len(text) / 5


@pytest.mark.parametrize(
    ("accept", "compressed"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("deflate, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("*, gzip;q=0", False),
        ("*;q=0", False),
        ("identity", False),
        ("br, deflate", False),
        (None, False),
    ],
)
@pytest.mark.parametrize("path", ["/export/", "/export/2026-11-02.jsonl"])
def test_gzip_only_when_the_client_accepts_it(
    client: FlaskClient, clock: Clock, accept: str | None, compressed: bool, path: str
) -> None:
    day_with(client, clock, 3)
    headers = AUTH | ({"Accept-Encoding": accept} if accept is not None else {})
    response = client.get(path, headers=headers)
    data = response.data
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == ("gzip" if compressed else None)
    assert response.headers["Vary"] == "Accept-Encoding"
    assert (gzip.decompress(data) if compressed else data) == client.get(path, headers=AUTH).data


def test_the_index_is_compressed_and_says_the_same(client: FlaskClient, clock: Clock) -> None:
    day_with(client, clock, 3)
    packed = client.get("/export/", headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(packed.data)) == client.get("/export/", headers=AUTH).json


def test_an_empty_day_is_an_empty_gzip_stream(client: FlaskClient, clock: Clock) -> None:
    clock.set_day(date(2026, 11, 3))
    response = client.get("/export/2026-11-02.jsonl", headers=GZIP)
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data) == b""


def test_a_refusal_is_plain_json_whatever_the_client_accepts(client: FlaskClient) -> None:
    response = client.get("/export/2026-11-01.jsonl", headers=GZIP)
    assert (response.status_code, response.headers.get("Content-Encoding")) == (410, None)
    assert "oldest kept day" in response.json["error"]


@pytest.mark.parametrize("headers", [AUTH, GZIP])
def test_a_head_request_reads_nothing_and_fetches_nothing(
    client: FlaskClient, clock: Clock, headers: dict[str, str]
) -> None:
    day_with(client, clock, 3)
    response = client.head("/export/2026-11-02.jsonl", headers=headers)
    assert (response.status_code, response.data) == (200, b"")
    assert response.headers.get("Content-Encoding") == headers.get("Accept-Encoding")
    assert fetched(client) == {"2026-11-02": False}


# -- summarize --source through both encodings --------------------------------------------


def without_accept_encoding(app: Callable[..., Any]) -> Callable[..., Any]:
    """``app`` as a client that never asks for compression sees it."""

    def plain(environ: dict[str, Any], start_response: Any) -> Any:
        environ.pop("HTTP_ACCEPT_ENCODING", None)
        return app(environ, start_response)

    return plain


@pytest.fixture
def prod(make_app: Callable[..., Flask], clock: Clock) -> Flask:
    app = make_app(DEPLOYMENT="prod")
    fleet_history(app.test_client(), clock)
    return app


def from_source(url: str, out: Path) -> tuple[int, str]:
    return cli(
        "summarize", "--source", url, "--summaries", str(out), "--today", "2026-11-06",
        env={"ANALYTICS_EXPORT_TOKEN": TOKEN},
    )  # fmt: skip


def test_summaries_are_the_same_bytes_through_gzip_and_plain_text(
    prod: Flask, tmp_path: Path
) -> None:
    with serving(prod) as url:
        code, packed_output = from_source(url, tmp_path / "gzip")
    assert code == 0, packed_output
    with serving(without_accept_encoding(prod.wsgi_app)) as url:
        code, plain_output = from_source(url, tmp_path / "plain")
    assert code == 0, plain_output
    assert files(tmp_path / "gzip") == files(tmp_path / "plain") == files(GOLDEN)
    assert "from the export, gzip-compressed from" in packed_output.splitlines()[-2]
    assert plain_output.splitlines()[-2].endswith("from the export, not compressed")


def test_a_receiver_that_only_answers_plain_text_is_read_as_before(tmp_path: Path) -> None:
    rows = {DAY: [submission(DAY, [("core", "3.21.0")]) for _ in range(6)]}
    seen: list[str | None] = []
    export = export_app(rows, today=date(2026, 11, 3))

    def older(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ.get("HTTP_ACCEPT_ENCODING"))
        return export(environ, start_response)

    with serving(older) as url:
        code, output = cli(
            "summarize", "--source", url, "--summaries", str(tmp_path), "--today", "2026-11-03",
            env={"ANALYTICS_EXPORT_TOKEN": TOKEN},
        )  # fmt: skip
    assert code == 0, output
    assert seen == ["gzip", "gzip"]  # it asked, and got plain text
    summary = json.loads((tmp_path / "prod/2026/2026-11-02.json").read_text())
    assert (summary["systems"], summary["xy_component"]) == (6, {"core": {"3.21": 6}})


def test_an_encoding_that_was_not_asked_for_is_one_clear_error(tmp_path: Path) -> None:
    export = export_app({DAY: [submission(DAY, [("core", "3.21.0")])]}, today=date(2026, 11, 3))

    def brotli(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]]) -> Any:
            return start_response(status, [*headers, ("Content-Encoding", "br")])

        return export(environ, start)

    with serving(brotli) as url:
        code, output = cli(
            "summarize", "--source", url, "--summaries", str(tmp_path),
            env={"ANALYTICS_EXPORT_TOKEN": TOKEN},
        )  # fmt: skip
    assert code == 1
    assert output.strip().endswith("answered in an encoding it was not asked for: br")
    assert files(tmp_path) == {}


# -- a large day: real gunicorn, flat memory, a stream cut short ---------------------------


@pytest.fixture(scope="module")
def large_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A receiver database holding one day of the simulated fleet's reports, built once."""
    path = tmp_path_factory.mktemp("large") / "receiver.sqlite3"
    build_db(path, LARGE_FLEET)
    return path


@pytest.fixture
def large_db(large_template: Path, tmp_path: Path) -> Path:
    """A copy of the large day's database of this test's own (exports mark days fetched)."""
    return Path(shutil.copy(large_template, tmp_path / "large.sqlite3"))


@pytest.fixture(scope="module")
def large_systems(large_template: Path) -> int:
    """How many reports the large day holds (the fleet's systems that reported that day)."""
    conn = sqlite3.connect(large_template)
    try:
        count: int = conn.execute("SELECT count(*) FROM submissions").fetchone()[0]
    finally:
        conn.close()
    assert count > LARGE_FLEET * 0.9
    return count


def summarize_large(out: Path, *source: str) -> str:
    code, output = cli(
        "summarize", *source, "--summaries", str(out), "--deployment", "prod",
        "--today", "2026-11-28",
        env={"ANALYTICS_EXPORT_TOKEN": TOKEN},
    )  # fmt: skip
    assert code == 0, output
    return output


@contextmanager
def real_receiver(db: Path, folder: Path, behind_nginx: bool) -> Iterator[int]:
    """``pulp-analytics serve`` on ``db`` (its clock the morning after the large day), alone
    or behind deploy/nginx.conf; yields the port a client talks to."""
    port = receivers.free_port()
    env = {
        "ANALYTICS_EXPORT_TOKEN": TOKEN,
        "ANALYTICS_CLOCK": "2026-11-28T06:00:00+00:00",
        "ANALYTICS_ID_KEY": BENCH_SECRET.hex(),  # the key of the database's hashes
    }
    server = receivers.start(db, port, deployment="prod", env=env)
    try:
        receivers.wait_healthy(f"http://127.0.0.1:{port}/", server)
        if behind_nginx:
            with nginx_in_front(port, folder) as front:
                yield front
        else:
            yield port
    finally:
        receivers.stop(server)


@pytest.mark.slow
@pytest.mark.parametrize("behind_nginx", [False, True], ids=["gunicorn", "behind-nginx"])
def test_the_real_server_streams_a_large_day_compressed_in_chunks(
    large_db: Path, large_systems: int, tmp_path: Path, behind_nginx: bool
) -> None:
    with real_receiver(large_db, tmp_path, behind_nginx) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", f"/export/{LARGE_DAY}.jsonl", headers=GZIP)
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Encoding") == "gzip"
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert response.getheader("Content-Length") is None
        assert response.getheader("Vary") == "Accept-Encoding"
        lines = sum(1 for _ in gzip.GzipFile(fileobj=response))
        conn.close()
        assert lines == large_systems
        output = summarize_large(tmp_path / "gzip", "--source", f"http://127.0.0.1:{port}")
    summarize_large(tmp_path / "local", "--db", str(large_db))
    assert files(tmp_path / "gzip") == files(tmp_path / "local")
    assert len(files(tmp_path / "local")) == 1
    received = output.splitlines()[-2]
    assert received.startswith("received ") and "gzip-compressed from 1" in received


def test_a_compressed_day_counts_as_fetched_only_once_it_was_sent_whole(
    large_db: Path, large_systems: int
) -> None:
    client = large_app(large_db).test_client()
    path = f"/export/{LARGE_DAY}.jsonl"
    response = client.get(path, headers=GZIP, buffered=False)
    chunks, decompressor, lines = iter(response.response), zlib.decompressobj(31), b""
    while b"\n" not in lines:  # the client reads the first lines, then goes away
        lines += decompressor.decompress(next(chunks))
    assert lines.startswith(f'{{"date":"{LARGE_DAY}"'.encode()) and not decompressor.eof
    response.close()
    assert fetched(client) == {str(LARGE_DAY): False}
    whole = client.get(path, headers=GZIP).data
    assert len(gzip.decompress(whole).splitlines()) == large_systems
    assert fetched(client) == {str(LARGE_DAY): True}


@pytest.mark.slow
def test_memory_does_not_grow_with_the_day(large_db: Path, large_systems: int) -> None:
    """Sending and receiving the day's 11 MB of lines holds a small part of them at any moment,
    on both sides (measured in a process of its own: tests/export_memory.py): a few hundred
    lines on their way, zlib's window and buffers."""
    probe = [sys.executable, "-m", "tests.export_memory", str(large_db)]
    measured = json.loads(subprocess.run(probe, check=True, capture_output=True).stdout)
    assert measured["rows"] == large_systems
    assert measured["decoded"] > 10_000_000 and measured["received"] < measured["decoded"] / 5
    peak = measured["peak"]
    assert peak < min(4_000_000, measured["decoded"] / 3), f"{peak:,} bytes at the peak"


def cut_after(budget: int, app: Callable[..., Any], times: int, drop: bool) -> Callable[..., Any]:
    """``app``, except that its first ``times`` day answers stop after ``budget`` bytes of
    body: in the middle of the gzip stream. ``drop``: the connection is dropped there (no end
    of the chunked answer), else the answer ends there as if it were whole."""
    left = {"cuts": times}

    def cutting(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = app(environ, start_response)
        if not environ["PATH_INFO"].endswith(".jsonl") or not left["cuts"]:
            return body  # type: ignore[no-any-return]
        left["cuts"] -= 1
        return truncated(body, budget, drop)

    return cutting


def truncated(body: Iterable[bytes], budget: int, drop: bool) -> Iterator[bytes]:
    sent = 0
    try:
        for chunk in body:
            if sent + len(chunk) >= budget:
                yield chunk[: budget - sent]
                if drop:
                    raise ConnectionAbortedError("the test drops the connection")
                return
            sent += len(chunk)
            yield chunk
    finally:
        close = getattr(body, "close", None)
        if close:
            close()


@pytest.mark.slow
@pytest.mark.parametrize("drop", [False, True], ids=["gzip-ends-early", "connection-dropped"])
def test_a_gzip_stream_cut_midway_is_fetched_again_never_half_loaded(
    large_db: Path, large_systems: int, drop: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    app = large_app(large_db)
    with serving(cut_after(200_000, app.wsgi_app, times=2, drop=drop)) as url:
        source = HttpSource(url, TOKEN, backoff=0.01)
        assert rows_of_the_day(source) == large_systems  # the cut attempts left no row
    retried = [line for line in capsys.readouterr().out.splitlines() if "retrying" in line]
    assert len(retried) == 2
    if not drop:
        assert "the gzip-compressed answer was cut short or damaged" in retried[0]
    assert app.test_client().get("/export/", headers=AUTH).json["days"][0]["fetched"]


def test_a_gzip_stream_cut_every_time_fails_and_writes_nothing(prod: Flask, tmp_path: Path) -> None:
    with serving(cut_after(30, prod.wsgi_app, times=100, drop=False)) as url:
        source = HttpSource(url, TOKEN, retries=2, backoff=0.01)
        with pytest.raises(SourceError, match="cut short or damaged"):
            summarize(source, tmp_path, "prod", date(2026, 11, 6))
    assert files(tmp_path) == {}
