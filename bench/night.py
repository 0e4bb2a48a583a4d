"""Benchmark: one whole night (export, summarize, commit, build) at 100,000 and 1,000,000 reports.

    python -m bench.night [--systems 100000 1000000] [--history-days 90]
                          [--postgresql | --database URL]

For each fleet size, the receiver's database holds one complete day of that fleet's reports
(``bench.summarize``'s builder, cached in .bench/). A real ``pulp-analytics serve
--deployment prod`` serves it on loopback, its clock set to the next morning so that the day is
complete and kept. A fresh git checkout holds ``--history-days`` days of earlier summaries at
the same scale (``bench.site``'s generated history, cached too). Then, timed:

1. one ``pulp-analytics summarize --source http://127.0.0.1:PORT --deployment prod --commit``
   process, as the nightly job runs it: it reads the export through a relay that counts every
   byte on the wire (HTTP headers and chunk framing included) and notes when the day's answer
   ended; its own output lines are timed as they arrive. The phases are: *export* (from the
   start of the process until the day's last byte passed the relay: start-up, the index, the
   day streamed into the summarizer's temporary database), *summarize* (counting, until the
   ``wrote`` line), *commit* (until the ``committed`` line). Its wall time, CPU and peak
   resident memory come from ``bench/peak.py``;
2. one ``pulp-analytics build`` of the site from the checkout (history plus the new day).

The receiver's CPU over the night and its workers' peak resident memory (``VmHWM``) are read
from /proc. Last, apart from the night, the compression level: the day is fetched once as plain
text straight from the receiver and compressed chunk by chunk at several zlib levels, giving
bytes and CPU seconds per level (what the export's level costs and saves).

``--postgresql`` runs each night on PostgreSQL instead: a throwaway server (Debian's package,
``builder.devtools.postgresql``, the settings of ``bench.receiver``'s PostgreSQL run) gets the
same day copied in row for row (``bench.summarize.copy_to_postgresql``, not timed), and the
receiver serves it from there. ``--database URL`` serves the receiver from that database
instead of the cached SQLite file, for a store other than SQLite (``ANALYTICS_DATABASE``, e.g.
``postgresql://...``): the day
must already be in it, with as many reports as the SQLite day of the first ``--systems`` size;
the run checks the export's index for it before timing anything.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import site
from bench.machine import machine
from bench.peak import measure
from bench.receiver import tree_cpu
from bench.summarize import BENCH_SECRET, CACHE, DAY, cached_db
from builder.devtools import receivers
from receiver.store import redact

TOKEN = "bench-export-token"
MORNING = f"{DAY + timedelta(days=1)}T06:00:00+00:00"  # the receiver's clock: DAY is complete
LEVELS = (1, 3, 6, 9)
READ = 64 * 1024
TARGETS_AT_1M = {"wire_bytes": 60_000_000, "export_and_summarize_s": 60, "peak_rss_mb": 300}


# -- the relay that counts bytes ------------------------------------------------------------


@dataclass
class Exchange:
    """One connection through the relay: its request line, bytes each way, when it ended."""

    started: float
    request: str = ""
    sent: int = 0  # client to receiver
    received: int = 0  # receiver to client
    ended: float = 0.0  # when the receiver's last byte passed


@dataclass
class Relay:
    """A TCP relay on loopback between the summarizer and the receiver."""

    target: int
    exchanges: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed: the run is over
                return
            exchange = Exchange(time.monotonic())
            self.exchanges.append(exchange)
            threading.Thread(target=self._relay, args=(client, exchange), daemon=True).start()

    def _relay(self, client: socket.socket, exchange: Exchange) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target))
        up = threading.Thread(target=self._pump, args=(client, upstream, exchange, True))
        up.start()
        self._pump(upstream, client, exchange, False)
        up.join()
        client.close()
        upstream.close()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, exchange: Exchange, upward: bool) -> None:
        with suppress(OSError):  # a side that went away ends the exchange
            while data := src.recv(READ):
                dst.sendall(data)
                if upward:
                    if not exchange.request:
                        exchange.request = data.split(b"\r\n", 1)[0].decode("latin-1")
                    exchange.sent += len(data)
                else:
                    exchange.received += len(data)
                    exchange.ended = time.monotonic()
        with suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()


# -- the receiver ---------------------------------------------------------------------------


@contextmanager
def receiver(database: Path | str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``pulp-analytics serve --deployment prod`` on ``database`` (a SQLite file, or a URL
    given to it as ANALYTICS_DATABASE); yields the process and its base URL."""
    port = receivers.free_port()
    env = {
        "ANALYTICS_EXPORT_TOKEN": TOKEN,
        "ANALYTICS_CLOCK": MORNING,
        "ANALYTICS_ID_KEY": BENCH_SECRET.hex(),
    }
    server = receivers.start(database, port, deployment="prod", env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        receivers.wait_healthy(url, server, timeout=120)
        yield server, url
    finally:
        receivers.stop(server)


def workers_memory(server: int) -> dict[str, float]:
    """Peak and current resident memory (MiB) of the largest gunicorn worker of ``server``."""
    peak = current = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("PPid", "0")) != server:
            continue
        peak = max(peak, int(fields["VmHWM"].split()[0]) / 1024)
        current = max(current, int(fields["VmRSS"].split()[0]) / 1024)
    return {"peak_rss_mib": round(peak, 1), "rss_mib": round(current, 1)}


def index_of(url: str) -> dict[str, Any]:
    request = urllib.request.Request(url + "/export/", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        index: dict[str, Any] = json.load(response)
    return index


def reports_on_day(url: str) -> int:
    """How many reports the receiver's export lists for DAY (0 when none)."""
    days = {d["date"]: d["systems"] for d in index_of(url)["days"]}
    return int(days.get(DAY.isoformat(), 0))


# -- the checkout and its history ------------------------------------------------------------


def history(days: int, systems: int) -> Path:
    """``days`` days of prod summaries before DAY at the scale of ``systems``, made once."""
    folder = CACHE / f"night-history-{days}-{systems}"
    if not folder.exists():
        assert site.END == DAY, "the site benchmark's history must end on the night's day"
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        site.write_history(partial, days + 1, systems, seed=4)
        site.summary_path(partial, "prod", DAY).unlink()  # the night writes that day
        partial.rename(folder)
    return folder


def checkout(work: Path, prior: Path) -> Path:
    """A git repository whose last commit holds the history under summaries/."""
    repo = work / "checkout"
    shutil.copytree(prior, repo / "summaries")
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "summaries"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "history"], check=True)
    return repo


# -- one night ---------------------------------------------------------------------------------


def timed(command: list[str], lines: Path | None = None) -> dict[str, Any]:
    """``command`` under bench/peak.py: wall time, CPU, peak RSS, and timed output lines."""
    return measure(command, {"ANALYTICS_EXPORT_TOKEN": TOKEN}, lines)


def output_lines(path: Path) -> list[tuple[float, str]]:
    return [(d["t"], d["line"]) for d in map(json.loads, path.read_text().splitlines())]


def when(lines: list[tuple[float, str]], prefix: str) -> float:
    return next(t for t, line in lines if line.startswith(prefix))


def night(database: Path | str, history_days: int, systems: int) -> dict[str, Any]:
    """One night against ``database``; the figures as a dict."""
    prior = history(history_days, systems)
    with tempfile.TemporaryDirectory(prefix="bench-night-") as tmp, receiver(database) as served:
        server, url = served
        work = Path(tmp)
        repo = checkout(work, prior)
        reports = reports_on_day(url)
        if not reports:
            raise SystemExit(f"the receiver's export lists no report on {DAY} as kept")
        relay = Relay(int(url.rsplit(":", 1)[1]))
        lines_file = work / "summarize.lines"
        summarize = [
            receivers.CLI, "summarize", "--source", f"http://127.0.0.1:{relay.port}",
            "--summaries", str(repo / "summaries"), "--deployment", "prod",
            "--today", (DAY + timedelta(days=1)).isoformat(), "--commit",
        ]  # fmt: skip
        cpu_before = tree_cpu(server.pid)
        started = time.monotonic()
        measured = timed(summarize, lines_file)
        receiver_cpu = tree_cpu(server.pid) - cpu_before
        relay.close()
        worker = workers_memory(server.pid)
        lines = output_lines(lines_file)
        day = next(e for e in relay.exchanges if e.request.startswith(f"GET /export/{DAY}"))
        built = timed(
            [receivers.CLI, "build", "--summaries", str(repo / "summaries"),
             "--deployment", "prod", "--out", str(work / "site")]
        )  # fmt: skip
        written = json.loads(site.summary_path(repo / "summaries", "prod", DAY).read_text())
        commits = subprocess.run(
            ["git", "-C", str(repo), "rev-list", "--count", "HEAD"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        levels = compression_levels(url)
    wrote, committed = when(lines, "wrote "), when(lines, "committed ")
    return {
        "fleet": systems,
        "reports": reports,
        "systems_in_summary": written["systems"],
        "wire_bytes": sum(e.received + e.sent for e in relay.exchanges),
        "wire_bytes_of_the_day": day.received,
        "client_says": next((line for _, line in lines if line.startswith("received ")), None),
        "phases_s": {
            "export": round(day.ended - started, 2),
            "summarize": round(wrote - day.ended, 2),
            "commit": round(committed - wrote, 2),
            "export_summarize_commit": measured["seconds"],
            "build": built["seconds"],
        },
        "summarize_process": measured,
        "receiver": {"cpu_s": round(receiver_cpu, 2), "largest_worker": worker},
        "build_process": built,
        "history_days": history_days,
        "commits_after": int(commits),
        "compression_levels": levels,
    }


def compression_levels(url: str) -> dict[str, Any]:
    """The day as plain text, fetched straight from the receiver, compressed chunk by chunk at
    each of LEVELS: bytes out and CPU seconds per level, beside the plain bytes."""
    request = urllib.request.Request(
        f"{url}/export/{DAY}.jsonl",
        headers={"Authorization": f"Bearer {TOKEN}", "Accept-Encoding": "identity"},
    )
    compressors = {level: zlib.compressobj(level, zlib.DEFLATED, 31) for level in LEVELS}
    out = dict.fromkeys(LEVELS, 0)
    cpu = dict.fromkeys(LEVELS, 0.0)
    plain = 0
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers.get("Content-Encoding") is None
        while chunk := response.read(READ):
            plain += len(chunk)
            for level, compressor in compressors.items():
                before = time.thread_time()
                out[level] += len(compressor.compress(chunk))
                cpu[level] += time.thread_time() - before
    for level, compressor in compressors.items():
        before = time.thread_time()
        out[level] += len(compressor.flush())
        cpu[level] += time.thread_time() - before
    return {
        "plain_bytes": plain,
        "levels": {
            str(level): {
                "bytes": out[level],
                "ratio": round(plain / out[level], 1),
                "cpu_s": round(cpu[level], 2),
            }
            for level in LEVELS
        },
    }


def within_targets(result: dict[str, Any]) -> bool:
    """The targets at 1,000,000 reports: bytes on the wire, export + summarize time and memory."""
    return (
        result["wire_bytes"] <= TARGETS_AT_1M["wire_bytes"]
        and result["summarize_process"]["seconds"] <= TARGETS_AT_1M["export_and_summarize_s"]
        and result["summarize_process"]["peak_rss_mib"] * 1.048576 <= TARGETS_AT_1M["peak_rss_mb"]
    )


def database_for(url: str | None, systems: int) -> Path | str:
    """The cached SQLite file for ``systems``, or ``url`` once it is checked to hold the day."""
    if url is None:
        return cached_db(systems)
    expected = sqlite_reports(cached_db(systems))
    with receiver(url) as (_, base):
        found = reports_on_day(base)
    if found != expected:
        raise SystemExit(
            f"{redact(url)} holds {found} reports on {DAY}, not the {expected} of the"
            f" {systems}-system day; load that day into it first"
        )
    return url


@contextmanager
def postgresql_day(systems: int) -> Iterator[str]:
    """A throwaway PostgreSQL server holding the cached day of ``systems``: its database URL."""
    import psycopg

    from bench.receiver import POSTGRESQL_SETTINGS
    from bench.summarize import copy_to_postgresql
    from builder.devtools.postgresql import Server

    server = Server(POSTGRESQL_SETTINGS)
    try:
        server.start()
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE analytics")
        url = server.url("analytics")
        copy_to_postgresql(cached_db(systems), url)
        yield url
    finally:
        server.remove()


def sqlite_reports(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        count: int = conn.execute("SELECT count(*) FROM submissions").fetchone()[0]
    finally:
        conn.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--history-days", type=int, default=90)
    parser.add_argument(
        "--database",
        metavar="URL",
        help="a database URL for the receiver (ANALYTICS_DATABASE) that already holds the day;"
        " default: the cached SQLite file of each size",
    )
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="run each night on a throwaway PostgreSQL server holding the same day",
    )
    args = parser.parse_args()
    if args.database and len(args.systems) != 1:
        parser.error("--database holds one day: give one --systems size with it")
    if args.database and args.postgresql:
        parser.error("give --postgresql or --database, not both")
    nights = []
    for systems in args.systems:
        print(f"night at {systems:,} systems...", file=sys.stderr, flush=True)
        if args.postgresql:
            with postgresql_day(systems) as url:
                result = night(database_for(url, systems), args.history_days, systems)
            result["store"] = "postgresql"
        else:
            database = database_for(args.database, systems)
            result = night(database, args.history_days, systems)
            result["store"] = "sqlite" if isinstance(database, Path) else redact(database)
        if systems == 1_000_000:
            result["within_targets"] = within_targets(result)
        nights.append(result)
    command = "python -m bench.night " + " ".join(
        [f"--systems {' '.join(map(str, args.systems))}", f"--history-days {args.history_days}"]
        + ([f"--database {redact(args.database)}"] if args.database else [])
        + (["--postgresql"] if args.postgresql else [])
    )
    print(
        json.dumps(
            {
                "benchmark": "the night: export, summarize, commit, build",
                "nights": nights,
                "targets_at_1m": TARGETS_AT_1M,
                "command": command,
                "machine": machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
