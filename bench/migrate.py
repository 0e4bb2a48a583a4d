"""Benchmark: migration 0003 (system ids to keyed hashes) on 1,000,000 stored submissions.

    python -m bench.migrate [--systems 1000000]

Builds, once, the database bench.summarize uses, but the way the receiver stored it before ids
were hashed (each id in ``systems`` and inside its raw report), cached under .bench/. Each run
copies it and times one process doing what ``pulp-analytics serve`` does at start-up on it:
the migration, in batches, then the rewrite of the file (VACUUM) and the emptied log. Reports
wall time and peak resident memory (bounded: the migration works in batches), and checks a
sample of the ids is gone from every byte of the file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from bench.machine import machine
from bench.peak import measure
from bench.summarize import BENCH_KEY, CACHE, build_db
from builder.devtools.fleet import CI_SHARE, Fleet
from receiver.contract import decode
from receiver.store import sqlite as store


def convert(path: Path) -> None:
    """What the receiver's start-up does to the file (run in a process of its own)."""
    conn = store.connect(path)
    applied = store.migrate(conn, date(2026, 11, 28), BENCH_KEY.hash)
    conn.close()
    assert applied == ["0003_keyed_system_ids"], applied


def sample_ids(systems: int, count: int = 20, seed: int = 7) -> list[str]:
    """Some of the ids build_db stored (the same fleet, the same order)."""
    fleet = Fleet(int(systems / (1 + CI_SHARE)), seed)
    stored = itertools.islice(fleet.day(0), systems)
    step = max(1, systems // count)
    picked = itertools.islice(stored, 0, None, step)
    return [decode(body).system_id for _, body in itertools.islice(picked, count)]


def run(systems: int) -> dict[str, object]:
    source = CACHE / f"migrate-with-ids-{systems}.sqlite3"
    if not source.exists():
        CACHE.mkdir(exist_ok=True)
        started = time.perf_counter()
        print(f"building {source} ({systems} submissions)...", file=sys.stderr, flush=True)
        build_db(source, systems, with_ids=True)
        print(f"built in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    db = CACHE / f"migrate-run-{systems}.sqlite3"
    shutil.copyfile(source, db)
    ids = sample_ids(systems)
    assert all(system_id.encode() in source.read_bytes() for system_id in ids[:1])
    command = [sys.executable, "-m", "bench.migrate", "--convert", str(db)]
    measured = measure(command)
    content = db.read_bytes()
    left = [s for s in ids if s.encode() in content or s.replace("-", "").encode() in content]
    wal = db.with_name(db.name + "-wal")
    result = {
        "benchmark": "migration 0003: keyed hashes for system ids",
        "submissions": systems,
        "seconds": measured["seconds"],
        "peak_rss_mib": measured["peak_rss_mib"],
        "db_mib_before": round(source.stat().st_size / 2**20, 1),
        "db_mib_after": round(len(content) / 2**20, 1),
        "wal_bytes_after": wal.stat().st_size if wal.exists() else 0,
        "sampled_ids_left": len(left),
        "batch_rows": store.MIGRATION_BATCH,
        "command": "python -m bench.migrate --convert COPY-OF-DB",
        "machine": machine(),
    }
    db.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=1_000_000)
    parser.add_argument("--convert", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.convert:
        convert(args.convert)
        return
    print(json.dumps(run(args.systems), indent=2))


if __name__ == "__main__":
    main()
