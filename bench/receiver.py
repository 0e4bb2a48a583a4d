"""Benchmark: accepted submissions per second through ``pulp-analytics serve``.

    python -m bench.receiver [--seconds 20] [--connections 8] [--workers N]
    python -m bench.receiver --postgresql [--seconds 20] [--connections 8] [--workers N]

Starts the receiver under gunicorn on a fresh SQLite file and drives it from loopback with wrk
(one thread), whose Lua script posts real Analytics messages, each with a new random system id
and a component list taken from the simulated fleet. Afterwards the database is checked: every
2xx answer must be a stored submission. Also measures the in-process ceiling: decode and store
with no HTTP at all.

With ``--postgresql``: a throwaway PostgreSQL server (Debian's package, ``POSTGRESQL_SETTINGS``
below: durable commits, only memory and checkpoint spacing tuned), two receivers on two ports
sharing one database, and one wrk per receiver with ``--connections`` each. Reported
beside the receivers' and wrk's CPU: PostgreSQL's own, the CPU time of all its processes read
from /proc before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import machine
from builder.devtools import receivers
from builder.devtools.fleet import Fleet
from builder.devtools.postgresql import Server
from receiver import rawfields
from receiver.contract import SYSTEM_ID_FIELD, decode
from receiver.identity import IdKey
from receiver.store.sqlite import SQLiteStore as Store
from receiver.store.sqlite import migrate

LUA = """
local tails = {%(tails)s}
local n = 0
local id = 0

function setup(thread)
  id = id + 1
  thread:set("id", id)
end

function init(args)
  local salt = tonumber(args[1] or "0")  -- differs between wrk processes run side by side
  math.randomseed(os.time() * 7919 + id * 104729 + salt * 15485863)
end

local function hex(count)
  local out = {}
  for i = 1, count do out[i] = string.format("%%04x", math.random(0, 65535)) end
  return table.concat(out)
end

function request()
  n = n + 1
  local u = hex(8)
  local system = u:sub(1, 8) .. "-" .. u:sub(9, 12) .. "-4" .. u:sub(14, 16) .. "-a"
    .. u:sub(18, 20) .. "-" .. u:sub(21, 32)
  local body = "\\10\\36" .. system .. tails[(n %% #tails) + 1]
  return wrk.format("POST", "/", {["Content-Type"] = "application/octet-stream"}, body)
end
"""


def lua_script(samples: int = 64) -> str:
    """The wrk script, with message tails (everything after the system id) from the fleet."""
    tails = []
    releases = [body for _, body in Fleet(samples * 2, seed=3).day(0) if not decode(body).dev]
    for body in releases[:samples]:
        id_length = body[1]
        tail = body[2 + id_length :]
        tails.append('"' + "".join(f"\\{b}" for b in tail) + '"')
    return LUA % {"tails": ", ".join(tails)}


def parse_wrk(text: str) -> dict[str, float]:
    """Requests/s, latency percentiles (ms) and error counts from wrk's --latency report."""

    def ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    out = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        out[f"p{pct}_ms"] = ms(re.search(rf"\s{pct}(?:\.000)?%\s+(\S+)", text).group(1))  # type: ignore[union-attr]
    out["requests"] = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    out["socket_errors"] = sum(map(int, socket_errors.groups())) if socket_errors else 0
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process and its reaped children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if int(entry.name) == root or ppid == root:
            total += cpu_seconds(int(entry.name))
    return total


def http_run(
    seconds: int, connections: int, workers: int | None, synchronous: str = "normal"
) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-receiver-"))
    db = tmp / "receiver.sqlite3"
    port = receivers.free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {"ANALYTICS_SYNCHRONOUS": synchronous, "ANALYTICS_ID_KEY": secrets.token_hex(32)}
    server = receivers.start(db, port, deployment="prod", workers=workers, env=env)
    try:
        receivers.wait_healthy(url, server)
        script = tmp / "post.lua"
        script.write_text(lua_script())
        server_cpu_before = tree_cpu(server.pid)
        wrk_command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                       "-s", str(script), url]  # fmt: skip
        wrk = subprocess.Popen(wrk_command, stdout=subprocess.PIPE, text=True)
        assert wrk.stdout is not None
        output = wrk.stdout.read()
        _, status, usage = os.wait4(wrk.pid, 0)
        wrk.returncode = os.waitstatus_to_exitcode(status)
        server_cpu = tree_cpu(server.pid) - server_cpu_before
    finally:
        receivers.stop(server)
    served = f"pulp-analytics serve --port {port} --db {db} --deployment prod" + (
        f" --workers {workers}" if workers else ""
    )
    figures = parse_wrk(output)
    stored = Store(db).conn().execute("SELECT count(*) FROM submissions").fetchone()[0]
    shutil.rmtree(tmp)
    wrk_cpu = round(usage.ru_utime + usage.ru_stime, 2)
    return {
        **figures,
        "accepted_stored": stored,
        "accepted_per_s": round(stored / seconds, 1),
        "server_cpu_s": round(server_cpu, 1),
        "load_generator_cpu_s": wrk_cpu,
        "command": " ".join([*wrk_command[:-3], "-s", "post.lua", url]),
        "server": f"ANALYTICS_SYNCHRONOUS={synchronous} {served}",
    }


# The benchmark server's settings beyond Debian's defaults. Every commit is durable as in
# production: fsync, synchronous_commit and full_page_writes keep their defaults (on).
POSTGRESQL_SETTINGS = {
    "shared_buffers": "256MB",  # the day's tables and indexes stay in memory
    "max_wal_size": "2GB",  # no checkpoint forced by WAL volume during a run
    "checkpoint_timeout": "15min",
    "max_connections": "100",
}


def run_wrk(
    script: Path, url: str, seconds: int, connections: int, salt: int
) -> subprocess.Popen[str]:
    """wrk on ``url``; ``salt`` keeps its system ids apart from another wrk's."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
               "-s", str(script), url, "--", str(salt)]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def finish_wrk(wrk: subprocess.Popen[str]) -> tuple[str, float]:
    """wrk's report and its CPU seconds."""
    assert wrk.stdout is not None
    output = wrk.stdout.read()
    _, status, usage = os.wait4(wrk.pid, 0)
    wrk.returncode = os.waitstatus_to_exitcode(status)
    return output, usage.ru_utime + usage.ru_stime


def postgresql_run(seconds: int, connections: int, workers: int | None) -> dict[str, object]:
    """Two receivers on one PostgreSQL database, one wrk each. Each receiver runs one worker
    unless told otherwise: the two share this machine's cores, where on two hosts each would
    run one per core."""
    workers = workers or max(1, (os.cpu_count() or 2) // 2)
    import psycopg

    server = Server(POSTGRESQL_SETTINGS)
    tmp = Path(tempfile.mkdtemp(prefix="bench-receiver-pg-"))
    started: list[subprocess.Popen[bytes]] = []
    try:
        server.start()
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE analytics")
        database = server.url("analytics")
        env = {"ANALYTICS_ID_KEY": secrets.token_hex(32)}
        ports = [receivers.free_port() for _ in range(2)]
        for port in ports:  # one after the other: the first one makes the tables
            started.append(
                receivers.start(database, port, deployment="prod", workers=workers, env=env)
            )
            receivers.wait_healthy(f"http://127.0.0.1:{port}/", started[-1])
        script = tmp / "post.lua"
        script.write_text(lua_script())
        before = [tree_cpu(p.pid) for p in started], postgresql_cpu(server)
        wrks = [
            run_wrk(script, f"http://127.0.0.1:{port}/", seconds, connections, salt)
            for salt, port in enumerate(ports, start=1)
        ]
        reports = [finish_wrk(wrk) for wrk in wrks]
        receiver_cpu = sum(tree_cpu(p.pid) for p in started) - sum(before[0])
        database_cpu = postgresql_cpu(server) - before[1]
        receivers.stop_all(started)
        with psycopg.connect(database) as conn:
            row = conn.execute("SELECT count(*) FROM submissions").fetchone()
        stored = row[0] if row else 0
    finally:
        receivers.stop_all(started)
        server.remove()
        shutil.rmtree(tmp)
    figures = [parse_wrk(output) for output, _ in reports]
    return {
        "requests_per_s": round(sum(f["requests_per_s"] for f in figures), 1),
        "p50_ms": max(f["p50_ms"] for f in figures),
        "p90_ms": max(f["p90_ms"] for f in figures),
        "p99_ms": max(f["p99_ms"] for f in figures),
        "requests": sum(f["requests"] for f in figures),
        "non_2xx": sum(f["non_2xx"] for f in figures),
        "socket_errors": sum(f["socket_errors"] for f in figures),
        "per_receiver": figures,
        "accepted_stored": stored,
        "accepted_per_s": round(stored / seconds, 1),
        "receivers_cpu_s": round(receiver_cpu, 1),
        "postgresql_cpu_s": round(database_cpu, 1),
        "load_generator_cpu_s": round(sum(cpu for _, cpu in reports), 2),
        "postgresql": server.version,
        "postgresql_settings": POSTGRESQL_SETTINGS,
        "command": f"2 x wrk -t1 -c{connections} -d{seconds}s --latency -s post.lua URL -- SALT",
        "server": "2 x ANALYTICS_DATABASE=postgresql://... pulp-analytics serve --deployment prod"
        f" --workers {workers}",
        "percentiles": "each wrk's own; the table shows the worse of the two",
    }


def postgresql_cpu(server: Server) -> float:
    """User + system CPU of every PostgreSQL process, and of those that ended, in seconds."""
    total = 0.0
    for pid in server.pids():
        with contextlib.suppress(OSError):  # ended meanwhile: its time is in the postmaster's
            total += cpu_seconds(pid)
    return total


def ceiling(count: int = 20_000) -> dict[str, object]:
    """Decode and store in one process, no HTTP: the most the receiver's own code can do."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-ceiling-"))
    store = Store(tmp / "receiver.sqlite3")
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    key = IdKey(secrets.token_bytes(32))
    migrate(store.conn(), now.date(), key.hash)
    bodies = [body for _, body in Fleet(count, seed=5).day(0)][:count]
    started = time.perf_counter()
    for body in bodies:
        submission = decode(body)
        store.record(key.hash(submission.system_id), submission, now)
    elapsed = time.perf_counter() - started
    shutil.rmtree(tmp)
    return {
        "submissions": len(bodies),
        "per_s": round(len(bodies) / elapsed, 1),
        "us_per_report": round(elapsed / len(bodies) * 1e6, 1),
    }


def privacy_cost(count: int = 20_000) -> dict[str, object]:
    """Microseconds per report for what keeps system ids out of the database: the keyed hash
    of the id, and cutting field 1 out of the raw bytes (both part of the ceiling above)."""
    key = IdKey(secrets.token_bytes(32))
    reports = [(decode(body).system_id, body) for _, body in Fleet(count, seed=5).day(0)][:count]
    started = time.perf_counter()
    for system_id, _ in reports:
        key.hash(system_id)
    hashed = time.perf_counter()
    for _, body in reports:
        rawfields.without_field(body, SYSTEM_ID_FIELD)
    stripped = time.perf_counter()
    return {
        "hmac_sha256_us": round((hashed - started) / len(reports) * 1e6, 2),
        "strip_field_1_us": round((stripped - hashed) / len(reports) * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument(
        "--connections", type=int, help="wrk's connections per receiver (default: 8)"
    )
    parser.add_argument("--workers", type=int)
    parser.add_argument("--synchronous", choices=("normal", "full"), default="normal")
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="two receivers on one throwaway PostgreSQL database instead of one SQLite file",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    if args.postgresql:
        result = {
            "benchmark": "two receivers on PostgreSQL, accepted submissions",
            "http": postgresql_run(args.seconds, args.connections or 8, args.workers),
            "targets": {"accepted_per_s": 1500, "p99_ms": 50, "errors": 0},
            "machine": machine(),
        }
        print(json.dumps(result, indent=2))
        return
    result = {
        "benchmark": "receiver accepted submissions",
        "http": http_run(args.seconds, args.connections or 8, args.workers, args.synchronous),
        "in_process_ceiling": ceiling(),
        "privacy_cost_per_report": privacy_cost(),
        "targets": {"accepted_per_s": 2000, "p99_ms": 50, "errors": 0},
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
