"""Benchmark: accepted submissions per second through ``pulp-analytics serve``.

    python -m bench.receiver [--seconds 20] [--connections 8] [--workers N]

Starts the receiver under gunicorn on a fresh SQLite file and drives it from loopback with wrk
(one thread), whose Lua script posts real Analytics messages, each with a new random system id
and a component list taken from the simulated fleet. Afterwards the database is checked: every
2xx answer must be a stored submission. Also measures the in-process ceiling: decode and store
with no HTTP at all.
"""

from __future__ import annotations

import argparse
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
  math.randomseed(os.time() * 7919 + id * 104729)
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
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--synchronous", choices=("normal", "full"), default="normal")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    result = {
        "benchmark": "receiver accepted submissions",
        "http": http_run(args.seconds, args.connections, args.workers, args.synchronous),
        "in_process_ceiling": ceiling(),
        "privacy_cost_per_report": privacy_cost(),
        "targets": {"accepted_per_s": 2000, "p99_ms": 50, "errors": 0},
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
