"""Benchmark: summarize one day of 1,000,000 submissions from the receiver's SQLite file.

    python -m bench.summarize [--systems 1000000] [--postgresql]

The database is built once (through the receiver's own decoder and schema, from the simulated
fleet) and cached under .bench/; the timed part is one ``pulp-analytics summarize`` process,
whose wall time and peak resident memory are reported.

With ``--postgresql`` the same day is copied into a throwaway PostgreSQL database (the
receiver benchmark's settings) and summarized from there too: both runs are timed, their
summary files compared byte for byte, and the sizes of both databases reported.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.machine import machine
from bench.peak import measure
from builder.devtools.fleet import CI_SHARE, Fleet
from receiver.contract import decode
from receiver.identity import IdKey
from receiver.store import sqlite as store
from receiver.store import to_day

DAY = date(2026, 11, 27)
CACHE = Path(".bench")


BENCH_SECRET = bytes(range(32))  # a fixed key: the cached database stays valid
BENCH_KEY = IdKey(BENCH_SECRET)


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
    db = cached_db(systems)
    out = Path(tempfile.mkdtemp(prefix="bench-summaries-"))
    command = summarize_command(out, str(db))
    subprocess.run(["cat", str(db)], stdout=subprocess.DEVNULL, check=True)  # warm the cache
    figures = measured(command)
    summary = json.loads((out / "prod" / "2026" / f"{DAY}.json").read_text())
    shutil.rmtree(out)
    return {
        "benchmark": "summarize one day",
        "submissions": systems,
        "persistent": summary["persistent_systems"],
        "seconds": figures["seconds"],
        "peak_rss_mib": figures["peak_rss_mib"],
        "db_mib": round(db.stat().st_size / 2**20, 1),
        "targets": {"seconds": 20, "peak_rss_mib": 300 / 1.048576},
        "command": " ".join(["pulp-analytics", *command[1:]]),
        "machine": machine(),
    }


def cached_db(systems: int) -> Path:
    """The SQLite database of one day of ``systems`` submissions, built once."""
    db = CACHE / f"summarize-keyed-{systems}.sqlite3"
    if not db.exists():
        CACHE.mkdir(exist_ok=True)
        started = time.perf_counter()
        print(f"building {db} ({systems} submissions)...", file=sys.stderr, flush=True)
        build_db(db, systems)
        print(f"built in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    return db


def summarize_command(out: Path, db: str | None) -> list[str]:
    """``pulp-analytics summarize`` of the day (the database from ``--db``, or, for a URL, from
    ANALYTICS_DATABASE, as a password belongs there)."""
    command = [str(Path(sys.executable).parent / "pulp-analytics"), "summarize"]
    command += ["--db", db] if db else []
    return [*command, "--summaries", str(out), "--deployment", "prod",
            "--today", (DAY + timedelta(days=1)).isoformat()]  # fmt: skip


def measured(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Wall time and peak memory of ``command``, from a small launcher (bench.peak)."""
    return measure(command, env)


def copy_to_postgresql(db: Path, url: str) -> None:
    """The receiver's tables, row for row, from the SQLite file into a migrated PostgreSQL
    database (COPY keeps the ids)."""
    import psycopg

    from receiver.store import open_store

    open_store(url).migrate(DAY - timedelta(days=400), BENCH_KEY.hash)
    source = sqlite3.connect(db)
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("DELETE FROM meta")
        for table, columns in (
            ("systems", "id, system_hash, first_seen, last_seen"),
            ("submissions", "id, day, system, received_at, data, raw"),
            ("outcomes", "day, status, count"),
            ("meta", "key, value"),
        ):
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in source.execute(f"SELECT {columns} FROM {table}"):
                    copy.write_row(row)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    source.close()


def backup_figures(db: Path, server: Any, out: Path) -> dict[str, float]:
    """Time and size of each store's daily backup of the day: the prune unit's online
    ``sqlite3 .backup``, and ``pg_dump --format=custom`` (compressed)."""
    figures: dict[str, float] = {}
    started = time.perf_counter()
    subprocess.run(["sqlite3", str(db), f".backup {out / 'backup.sqlite3'}"], check=True)
    figures["sqlite_backup_s"] = round(time.perf_counter() - started, 1)
    figures["sqlite_backup_mib"] = round((out / "backup.sqlite3").stat().st_size / 2**20, 1)
    started = time.perf_counter()
    subprocess.run(
        [str(server.bin / "pg_dump"), "--format=custom", f"--file={out / 'dump'}",
         "--host=127.0.0.1", f"--port={server.port}", "--username=analytics", "analytics"],
        check=True, env={**os.environ, "PGPASSWORD": server.password},
    )  # fmt: skip
    figures["pg_dump_s"] = round(time.perf_counter() - started, 1)
    figures["pg_dump_mib"] = round((out / "dump").stat().st_size / 2**20, 1)
    return figures


def postgresql_run(systems: int) -> dict[str, object]:
    """The same day in a throwaway PostgreSQL database: summarize --db postgresql://...,
    its time, memory and output (which must be the SQLite run's, byte for byte)."""
    import psycopg

    from bench.receiver import POSTGRESQL_SETTINGS
    from builder.devtools.postgresql import Server

    db = cached_db(systems)
    server = Server(POSTGRESQL_SETTINGS)
    out = Path(tempfile.mkdtemp(prefix="bench-summaries-"))
    try:
        server.start()
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE analytics")
        url = server.url("analytics")
        started = time.perf_counter()
        copy_to_postgresql(db, url)
        loaded = time.perf_counter() - started
        with psycopg.connect(url) as conn:
            sizes = conn.execute(
                "SELECT pg_total_relation_size('submissions') + pg_total_relation_size('systems'),"
                " pg_database_size(current_database())"
            ).fetchone()
        assert sizes is not None
        from_sqlite = measured(summarize_command(out / "sqlite", str(db)))
        from_postgresql = measured(
            summarize_command(out / "postgresql", None), {"ANALYTICS_DATABASE": url}
        )
        name = Path("prod") / "2026" / f"{DAY}.json"
        same = (out / "sqlite" / name).read_bytes() == (out / "postgresql" / name).read_bytes()
        backups = backup_figures(db, server, out)
    finally:
        server.remove()
        shutil.rmtree(out)
    return {
        "benchmark": "summarize one day from PostgreSQL",
        "submissions": systems,
        "seconds": from_postgresql["seconds"],
        "peak_rss_mib": from_postgresql["peak_rss_mib"],
        "sqlite_seconds": from_sqlite["seconds"],
        "sqlite_peak_rss_mib": from_sqlite["peak_rss_mib"],
        "same_summary_bytes": same,
        "tables_mib": round(sizes[0] / 2**20, 1),
        "database_mib": round(sizes[1] / 2**20, 1),
        "sqlite_file_mib": round(db.stat().st_size / 2**20, 1),
        "copy_into_postgresql_s": round(loaded, 1),
        "backups": backups,
        "postgresql": server.version,
        "postgresql_settings": POSTGRESQL_SETTINGS,
        "command": "ANALYTICS_DATABASE=postgresql://... "
        + " ".join(["pulp-analytics", *summarize_command(Path("OUT"), None)[1:]]),
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=1_000_000)
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="also load the day into a throwaway PostgreSQL database and summarize it from there",
    )
    args = parser.parse_args()
    result = postgresql_run(args.systems) if args.postgresql else run(args.systems)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
