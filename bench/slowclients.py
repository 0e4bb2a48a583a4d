"""Benchmark: how long a normal report waits while slow clients drip one byte per second.

    python -m bench.slowclients [--clients 50] [--seconds 30] [--workers N]

Starts ``pulp-analytics serve`` with its shipped defaults on a fresh SQLite file. A separate
process (asyncio sockets, so that its own CPU can be told apart) keeps ``--clients``
connections dripping one byte per second: half send their request line and headers that slowly,
half send complete headers announcing a 1,000-byte body and then drip the body. Each slow
client reconnects at once when the receiver answers or drops it, so the receiver faces that
many slow clients for the whole run. Meanwhile this process posts a normal report five times a
second on a fresh connection and times each answer. Reported: the normal reports' latency, how
many took over a second, what the slow clients were answered, and the CPU of the receiver and
of the drip process.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from bench.machine import machine
from bench.receiver import tree_cpu
from builder.devtools import receivers

BODY_LENGTH = 1000  # what a body-dripping client announces
HEADER_DRIP = b"POST / HTTP/1.1\r\nHost: receiver\r\nX-Padding: " + b"a" * 4000
BODY_HEADERS = (
    "POST / HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/octet-stream\r\n"
    f"Content-Length: {BODY_LENGTH}\r\n\r\n"
).encode()


def answer_kind(first_bytes: bytes) -> str:
    """``408 json``, ``500 html``, ... from the start of an answer; ``closed`` for none."""
    if not first_bytes:
        return "closed without an answer"
    head = first_bytes.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    status = head.split(" ", 2)[1] if " " in head else "?"
    kind = "json" if "application/json" in head else "html" if "text/html" in head else "other"
    return f"{status} {kind}"


async def drip_once(host: str, port: int, headers_slowly: bool, stop_at: float) -> str:
    """One slow request: drip until the receiver answers, closes, or the run ends."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        await asyncio.sleep(0.2)
        return "connect failed"
    payload = HEADER_DRIP if headers_slowly else b"\0" * BODY_LENGTH
    try:
        if not headers_slowly:
            writer.write(BODY_HEADERS)
        for byte in payload:
            writer.write(bytes([byte]))
            await writer.drain()
            remaining = stop_at - time.monotonic()
            if remaining <= 0:
                return "still dripping at the end"
            try:
                data = await asyncio.wait_for(reader.read(4096), timeout=min(1.0, remaining))
            except TimeoutError:
                continue
            return answer_kind(data)
        return answer_kind(await reader.read(4096))
    except (ConnectionError, OSError):
        return "reset"
    finally:
        writer.close()


async def drip_client(host: str, port: int, headers_slowly: bool, stop_at: float) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    while time.monotonic() < stop_at:
        outcomes[await drip_once(host, port, headers_slowly, stop_at)] += 1
    return outcomes


async def drip_all(host: str, port: int, clients: int, seconds: float) -> Counter[str]:
    stop_at = time.monotonic() + seconds
    results = await asyncio.gather(
        *(drip_client(host, port, i % 2 == 0, stop_at) for i in range(clients))
    )
    total: Counter[str] = Counter()
    for result in results:
        total.update(result)
    return total


def drip_main(host: str, port: int, clients: int, seconds: float) -> None:
    """The drip process: prints the answers its slow clients got, as JSON."""
    outcomes = asyncio.run(drip_all(host, port, clients, seconds))
    print(json.dumps(dict(outcomes)))


def report_body() -> bytes:
    """A normal report with a new system id (encoded by hand, as pulpcore's bytes)."""
    system = str(uuid.uuid4()).encode()
    component = b"\x0a\x04core\x12\x063.21.0"
    return b"\x0a" + bytes([len(system)]) + system + b"\x22" + bytes([len(component)]) + component


def post_report(port: int) -> tuple[float, int]:
    """(seconds, status) of one normal report on a fresh connection."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/", body=report_body(),
                     headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException):
        status = 0
    finally:
        conn.close()
    return time.perf_counter() - started, status


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def run(clients: int, seconds: int, workers: int | None) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-slow-"))
    port = receivers.free_port()
    server = receivers.start(
        tmp / "receiver.sqlite3", port, deployment="prod", workers=workers,
        env={"ANALYTICS_ID_KEY": secrets.token_hex(32)},
    )  # fmt: skip
    try:
        receivers.wait_healthy(f"http://127.0.0.1:{port}/", server)
        server_cpu_before = tree_cpu(server.pid)
        drip = subprocess.Popen(
            [sys.executable, "-m", "bench.slowclients", "--drip", str(port),
             "--clients", str(clients), "--seconds", str(seconds + 3)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(2)  # let every slow client connect and start dripping
        latencies, statuses = [], Counter[int]()
        stop_at = time.monotonic() + seconds
        while time.monotonic() < stop_at:
            elapsed, status = post_report(port)
            latencies.append(elapsed)
            statuses[status] += 1
            time.sleep(max(0.0, 0.2 - elapsed))
        assert drip.stdout is not None
        drip_output = drip.stdout.read()
        _, _, usage = os.wait4(drip.pid, 0)
        server_cpu = tree_cpu(server.pid) - server_cpu_before
    finally:
        receivers.stop(server)
        shutil.rmtree(tmp)
    ms = [round(v * 1000, 1) for v in latencies]
    return {
        "normal_reports": len(latencies),
        "normal_statuses": {str(k): v for k, v in statuses.items()},
        "latency_ms": {
            "p50": percentile(ms, 50),
            "p99": percentile(ms, 99),
            "max": max(ms),
        },
        "over_1s": sum(v > 1.0 for v in latencies),
        "slow_clients": clients,
        "slow_client_answers": json.loads(drip_output or "{}"),
        "server_cpu_s": round(server_cpu, 1),
        "drip_process_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "seconds": seconds,
        "server": "pulp-analytics serve --deployment prod"
        + (f" --workers {workers}" if workers else ""),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--drip", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drip:
        drip_main("127.0.0.1", args.drip, args.clients, args.seconds)
        return
    result = {
        "benchmark": "normal-report latency while slow clients drip",
        "run": run(args.clients, args.seconds, args.workers),
        "targets": {"max_latency_ms": 1000, "slow_client_answers": "JSON 408 or a close, no 500"},
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
