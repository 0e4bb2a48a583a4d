"""Benchmark: import 4 years of the old site's daily summaries from a dumpdata fixture.

    python -m bench.legacy [--days 1461] [--systems 1500] [--raw-days 14]

Writes (once, cached under .bench/) a fixture the way ``./manage.py dumpdata pulpanalytics``
would on the old site: rows grouped by model in the old app's model order and by primary key
within a model, so one day's rows lie far apart in the file. The days are the site
benchmark's realistic history (15 components, a growing fleet, ages, PostgreSQL and RBAC);
on top come the raw ``system`` rows and their ``component`` rows of the last ``--raw-days``
days, which the old site kept for 14 days. The timed part is one ``pulp-analytics
import-legacy`` process, whose wall time and peak resident memory are reported.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from bench.machine import machine
from bench.peak import measure
from bench.site import COMPONENTS, day_summary
from builder.summaries.summary import Summary

CACHE = Path(".bench")
TARGETS = {"seconds": 30, "peak_rss_mib": round(300 / 1.048576, 1)}  # 300 MB
MEANS = {
    "online_worker_hosts_avg": ("online_workers", "hosts__avg"),
    "online_worker_processes_avg": ("online_workers", "processes__avg"),
    "online_content_app_hosts_avg": ("online_content_apps", "hosts__avg"),
    "online_content_app_processes_avg": ("online_content_apps", "processes__avg"),
}


def history(days: int, systems: int, seed: int = 4) -> list[Summary]:
    rng = random.Random(seed)
    return [day_summary(index, days, systems, rng) for index in range(days)]


def count_rows(summary: Summary) -> Iterator[tuple[str, dict[str, Any]]]:
    """(model, fields) of every count row of one day, in the old app's model order."""
    day = summary.date.isoformat()
    m = summary.metrics
    for age, count in summary.age_count.items():
        yield "agecount", {"summary": day, "age": age, "count": count}
    for version, count in m["postgresql_version"].items():
        yield "postgresversioncount", {"summary": day, "version": int(version), "count": count}
    for model, key in (("xyversioncount", "xy_component"), ("xyzversioncount", "xyz_component")):
        for name, versions in m[key].items():
            for version, count in versions.items():
                yield model, {"summary": day, "name": name, "version": version, "count": count}
    for rbac_measure, numbers in m["rbac_stats"].items():
        for number, count in numbers.items():
            fields = {"summary": day, "name": rbac_measure, "number": int(number), "count": count}
            yield "numbercount", fields


def raw_rows(summaries: list[Summary], raw_days: int, seed: int = 9) -> Iterator[tuple[str, Any]]:
    """System rows of the last ``raw_days`` days, then their component rows."""
    rng = random.Random(seed)
    systems: list[tuple[int, dict[str, Any]]] = []
    components: list[tuple[str, str, int]] = []
    for summary in summaries[-raw_days:]:
        day = summary.date
        for _ in range(summary.systems):
            pk = len(systems) + 1
            first = day - timedelta(days=rng.randrange(0, 900))
            fields = {
                "system_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "created": f"{day}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:07.512Z",
                "first_seen": f"{first}T03:11:58.004Z",
                "postgresql_version": 140005,
                "users": rng.randrange(30),
                "groups": rng.randrange(5),
                "domains": None,
                "custom_access_policies": 0,
                "custom_roles": rng.randrange(3),
                "content_app_processes": 2,
                "content_app_hosts": 1,
                "worker_processes": rng.randrange(1, 9),
                "worker_hosts": rng.randrange(1, 3),
            }
            systems.append((pk, fields))
            for c in rng.sample(COMPONENTS, rng.randrange(2, 7)):
                components.append((c.name, f"{c.major}.{c.minor}.{rng.randrange(4)}", pk))
    for pk, fields in systems:
        yield ("system", pk), fields
    for pk, (name, version, system) in enumerate(components, 1):
        yield ("component", pk), {"name": name, "version": version, "system": system}


def write_fixture(path: Path, days: int, systems: int, raw_days: int) -> dict[str, int]:
    """The fixture as dumpdata writes it (one line); returns rows per model."""
    summaries = history(days, systems)
    counts: dict[str, int] = {}
    tmp = path.with_suffix(".partial")
    with tmp.open("w", encoding="utf-8") as out:
        out.write("[")
        first = True

        def row(model: str, pk: Any, fields: dict[str, Any]) -> None:
            nonlocal first
            text = json.dumps({"model": f"pulpanalytics.{model}", "pk": pk, "fields": fields})
            out.write(text if first else ", " + text)
            first = False
            counts[model] = counts.get(model, 0) + 1

        for (model, pk), fields in raw_rows(summaries, raw_days):
            row(model, pk, fields)
        for s in summaries:
            row("dailysummary", s.date.isoformat(), {})
        for s in summaries:
            fields = {name: s.metrics[key][mean] for name, (key, mean) in MEANS.items()}
            row("deploymentstats", s.date.isoformat(), fields)
        write_counts(summaries, row)
        out.write("]")
    tmp.rename(path)
    return counts


def write_counts(summaries: list[Summary], row: Any) -> None:
    """Count rows model by model (as dumpdata orders them), each model's pks from 1."""
    order = ("agecount", "postgresversioncount", "xyversioncount", "xyzversioncount", "numbercount")
    for wanted in order:
        pk = 0
        for s in summaries:
            for model, fields in count_rows(s):
                if model == wanted:
                    pk += 1
                    row(model, pk, fields)


def fixture_for(days: int, systems: int, raw_days: int) -> tuple[Path, dict[str, int]]:
    path = CACHE / f"legacy-{days}d-{systems}s-{raw_days}r.json"
    meta = path.with_suffix(".rows.json")
    if not path.exists() or not meta.exists():
        CACHE.mkdir(exist_ok=True)
        started = time.perf_counter()
        print(f"writing {path}...", file=sys.stderr, flush=True)
        meta.write_text(json.dumps(write_fixture(path, days, systems, raw_days)))
        print(f"written in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    return path, json.loads(meta.read_text())


def run(days: int, systems: int, raw_days: int) -> dict[str, Any]:
    fixture, rows = fixture_for(days, systems, raw_days)
    out = Path(tempfile.mkdtemp(prefix="bench-legacy-"))
    command = [
        str(Path(sys.executable).parent / "pulp-analytics"),
        "import-legacy",
        str(fixture),
        "--summaries",
        str(out),
        "--deployment",
        "prod",
    ]
    subprocess.run(["cat", str(fixture)], stdout=subprocess.DEVNULL, check=True)  # warm cache
    measured = measure(command)
    written = len(list(out.rglob("*.json")))
    shutil.rmtree(out)
    if written != days:
        raise SystemExit(f"import-legacy wrote {written} files for {days} days")
    return {
        "benchmark": "import-legacy",
        "days": days,
        "components": len(COMPONENTS),
        "fixture_mib": round(fixture.stat().st_size / 2**20, 1),
        "rows": sum(rows.values()),
        "rows_by_model": rows,
        "summaries_written": written,
        "seconds": measured["seconds"],
        "cpu_seconds": measured["cpu_seconds"],
        "peak_rss_mib": measured["peak_rss_mib"],
        "targets": TARGETS,
        "within_targets": all(measured[k] <= v for k, v in TARGETS.items()),
        "command": " ".join(["pulp-analytics", *command[1:]]),
        "machine": machine(),
    }


def main(argv: list[str] | None = None, stdout: IO[str] = sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=4 * 365 + 1)
    parser.add_argument("--systems", type=int, default=1500, help="systems on the newest day")
    parser.add_argument("--raw-days", type=int, default=14, help="days of raw system rows")
    args = parser.parse_args(argv)
    result = run(args.days, args.systems, args.raw_days)
    print(json.dumps(result, indent=2), file=stdout)
    return 0 if result["within_targets"] else 1


if __name__ == "__main__":
    sys.exit(main())
