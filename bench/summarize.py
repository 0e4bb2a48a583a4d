"""Benchmark: summarize one day of 1,000,000 submissions from the receiver's SQLite file.

    python -m bench.summarize [--systems 1000000] [--keep]

The database is built once (through the receiver's own decoder and schema, from the simulated
fleet) and cached under .bench/; the timed part is one ``pulp-analytics summarize`` process,
whose wall time and peak resident memory are reported.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.machine import machine
from builder.devtools.fleet import CI_SHARE, Fleet
from receiver.contract import decode
from receiver.identity import IdKey
from receiver.store import sqlite as store
from receiver.store import to_day

DAY = date(2026, 11, 27)
CACHE = Path(".bench")


BENCH_KEY = IdKey(bytes(range(32)))  # a fixed key: the cached database stays valid


def build_db(path: Path, systems: int, seed: int = 7, *, with_ids: bool = False) -> None:
    """One day of ``systems`` submissions, the way the receiver would have stored them.

    ``with_ids``: the way the receiver stored them before system ids were hashed (schema
    migrations 0001 and 0002: the id in ``systems`` and inside each raw report), to time
    migration 0003 on (bench.migrate).
    """
    tmp = path.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    conn = store.connect(tmp)
    first_day = DAY - timedelta(days=400)
    if with_ids:
        _schema_with_ids(conn, first_day)
    else:
        store.migrate(conn, first_day, BENCH_KEY.hash)
    conn.execute("PRAGMA synchronous = OFF")
    fleet = Fleet(int(systems / (1 + CI_SHARE)), seed)
    day = to_day(DAY)
    conn.execute("BEGIN")
    batch_sys, batch_sub = [], []
    for number, (system, body) in enumerate(itertools.islice(fleet.day(0), systems), 1):
        sub = decode(body)
        first_seen = day + min(0, system.joined) if not system.once else day
        if with_ids:
            batch_sys.append((number, sub.system_id, first_seen))
        else:
            batch_sys.append((number, BENCH_KEY.hash(sub.system_id), first_seen, day))
        batch_sub.append(
            (
                day,
                number,
                "2026-11-27T12:00:00+00:00",
                json.dumps(sub.data, separators=(",", ":")),
                body if with_ids else sub.raw,
            )
        )
        if len(batch_sub) == 50_000:
            _flush(conn, batch_sys, batch_sub)
    _flush(conn, batch_sys, batch_sub)
    conn.execute("INSERT INTO outcomes VALUES (?, 'accepted', ?)", (day, systems))
    conn.execute("COMMIT")
    conn.close()
    tmp.rename(path)


def _schema_with_ids(conn: sqlite3.Connection, first_day: date) -> None:
    """The schema of migrations 0001 and 0002, as that receiver made it."""
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name, statements in store.MIGRATIONS[:2]:
        assert isinstance(statements, tuple)
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, datetime('now'))", (name,))
    conn.execute("INSERT INTO meta VALUES ('collecting_since', ?)", (to_day(first_day),))


def _flush(conn, batch_sys, batch_sub) -> None:  # type: ignore[no-untyped-def]
    if not batch_sys:
        return
    marks = ", ".join("?" * len(batch_sys[0]))
    conn.executemany(f"INSERT INTO systems VALUES ({marks})", batch_sys)
    conn.executemany(
        "INSERT INTO submissions (day, system, received_at, data, raw) VALUES (?, ?, ?, ?, ?)",
        batch_sub,
    )
    batch_sys.clear()
    batch_sub.clear()


def run(systems: int) -> dict[str, object]:
    db = CACHE / f"summarize-keyed-{systems}.sqlite3"
    if not db.exists():
        CACHE.mkdir(exist_ok=True)
        started = time.perf_counter()
        print(f"building {db} ({systems} submissions)...", file=sys.stderr, flush=True)
        build_db(db, systems)
        print(f"built in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    out = Path(tempfile.mkdtemp(prefix="bench-summaries-"))
    command = [
        str(Path(sys.executable).parent / "pulp-analytics"),
        "summarize",
        "--db",
        str(db),
        "--summaries",
        str(out),
        "--deployment",
        "prod",
        "--today",
        (DAY + timedelta(days=1)).isoformat(),
    ]
    subprocess.run(["cat", str(db)], stdout=subprocess.DEVNULL, check=True)  # warm the cache
    measured = json.loads(
        subprocess.run(
            [sys.executable, "-m", "bench.peak", *command],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    if measured["exit_code"]:
        raise SystemExit(f"summarize failed with exit status {measured['exit_code']}")
    summary = json.loads((out / "prod" / "2026" / f"{DAY}.json").read_text())
    shutil.rmtree(out)
    return {
        "benchmark": "summarize one day",
        "submissions": systems,
        "persistent": summary["persistent_systems"],
        "seconds": measured["seconds"],
        "peak_rss_mib": measured["peak_rss_mib"],
        "db_mib": round(db.stat().st_size / 2**20, 1),
        "targets": {"seconds": 20, "peak_rss_mib": 300 / 1.048576},
        "command": " ".join(["pulp-analytics", *command[1:]]),
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps(run(args.systems), indent=2))


if __name__ == "__main__":
    main()
