"""Fixtures the way the old site's ``./manage.py dumpdata pulpanalytics`` writes them.

Rows carry the old models' own field names and JSON types: a DateField as ``"YYYY-MM-DD"``,
PositiveIntegerFields as integers, FloatFields as floats or ``null``, foreign keys to
``DailySummary`` as its pk (the date), ``DeploymentStats`` keyed by that date as its pk. The
history below is four days of a prod site (2023-04-17 is missing, as when the old site's
nightly job did not run), with the raw per-system rows the old site still held, each of
them carrying a marker that must never reach any output.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

A, B, C, D = "2023-04-14", "2023-04-15", "2023-04-16", "2023-04-18"
SYSTEM_MARK = "beef"  # in every system id below, and nowhere else
PRIVATE_NAME = "zz_private_plugin"  # only in component rows
PRIVATE_VERSION = "7.7.7+private"


class Rows:
    """Builds fixture rows with Django's consecutive primary keys per model."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.pks: dict[str, int] = {}

    def add(self, model: str, fields: dict[str, Any], pk: Any = None) -> None:
        if pk is None:
            pk = self.pks[model] = self.pks.get(model, 0) + 1
        self.rows.append({"model": f"pulpanalytics.{model}", "pk": pk, "fields": fields})

    def day(self, day: str) -> None:
        self.add("dailysummary", {}, pk=day)

    def means(self, day: str, worker: tuple[Any, Any], content_app: tuple[Any, Any]) -> None:
        """DeploymentStats: (processes, hosts) means of workers and of content apps."""
        self.add(
            "deploymentstats",
            {
                "online_worker_hosts_avg": worker[1],
                "online_worker_processes_avg": worker[0],
                "online_content_app_hosts_avg": content_app[1],
                "online_content_app_processes_avg": content_app[0],
            },
            pk=day,
        )

    def ages(self, day: str, counts: dict[int, int]) -> None:
        for age, count in counts.items():
            self.add("agecount", {"summary": day, "age": age, "count": count})

    def postgresql(self, day: str, counts: dict[int, int]) -> None:
        for version, count in counts.items():
            self.add("postgresversioncount", {"summary": day, "version": version, "count": count})

    def versions(self, model: str, day: str, counts: dict[str, dict[str, int]]) -> None:
        for name, versions in counts.items():
            for version, count in versions.items():
                fields = {"summary": day, "name": name, "version": version, "count": count}
                self.add(model, fields)

    def numbers(self, day: str, measure: str, counts: dict[int, int]) -> None:
        for number, count in counts.items():
            self.add(
                "numbercount", {"summary": day, "name": measure, "number": number, "count": count}
            )

    def systems(self, count: int) -> None:
        """Raw System rows and their Component rows, as the old site kept for 14 days."""
        for n in range(count):
            self.add(
                "system",
                {
                    "system_id": f"0a1b2c3d-{n:04d}-4e5f-8a9b-00000000{SYSTEM_MARK}",
                    "created": "2023-04-18T06:30:12.123Z",
                    "first_seen": "2023-02-01T06:31:00Z",
                    "postgresql_version": 140005,
                    "users": 3,
                    "groups": None,
                    "domains": None,
                    "custom_access_policies": None,
                    "custom_roles": None,
                    "content_app_processes": 2,
                    "content_app_hosts": 1,
                    "worker_processes": 2,
                    "worker_hosts": 1,
                },
            )
            system = self.pks["system"]
            for name, version in (("core", "3.22.1"), (PRIVATE_NAME, PRIVATE_VERSION)):
                self.add("component", {"name": name, "version": version, "system": system})


def history() -> Rows:
    """The four days; docs of each day's numbers are in tests/test_legacy.py's EXPECTED."""
    rows = Rows()
    for day in (A, B, C, D):
        rows.day(day)
    rows.means(A, worker=(2.0, 1.0), content_app=(1.5, 1.0))
    # B: no DeploymentStats row at all
    rows.means(C, worker=(2.3333333333333335, None), content_app=(1.25, 1.0))
    rows.means(D, worker=(3.0, 1.5), content_app=(2.0, None))
    rows.ages(A, {0: 4, 1: 2, 3: 5, 12: 3, 30: 6})
    rows.ages(B, {0: 3, 1: 4, 2: 1, 4: 6, 13: 2, 31: 6})
    rows.ages(C, {0: 2, 1: 3, 2: 4, 3: 2, 5: 1, 14: 2, 32: 6})
    rows.ages(D, {0: 1, 1: 2, 2: 3, 6: 4, 15: 2, 34: 5})
    rows.postgresql(A, {0: 1, 90624: 5, 130004: 10})
    rows.postgresql(B, {130004: 12, 140005: 7})
    rows.postgresql(C, {0: 2, 140005: 16})
    rows.postgresql(D, {0: 1, 120015: 3, 140005: 12})
    rows.versions("xyversioncount", A, {"core": {"3.21": 10, "3.22": 6}, "rpm": {"3.19": 7}})
    rows.versions(
        "xyversioncount", B, {"core": {"3.21": 4, "3.22": 15}, "rpm": {"3.19": 5, "3.20": 2}}
    )
    rows.versions("xyversioncount", C, {"core": {"3.22": 18}})
    rows.versions("xyversioncount", D, {"core": {"3.22": 10, "3.23": 6}, "rpm": {"3.20": 4}})
    rows.versions(
        "xyzversioncount",
        A,
        {"core": {"3.21.0": 4, "3.21.1": 6, "3.22.0": 6}, "rpm": {"3.19.4": 7}},
    )
    rows.versions(
        "xyzversioncount",
        B,
        {"core": {"3.21.1": 4, "3.22.0": 9, "3.22.1": 6}, "rpm": {"3.19.4": 5, "3.20.0": 2}},
    )
    rows.versions("xyzversioncount", C, {"core": {"3.22.1": 18}})
    rows.versions("xyzversioncount", D, {"core": {"3.22.1": 10, "3.23.0": 6}, "rpm": {"3.20.1": 4}})
    # A: no NumberCount rows (RBAC not reported yet)
    rows.numbers(B, "users", {0: 3, 1: 10, 2: 4, 4: 2})
    rows.numbers(B, "groups", {0: 19})
    rows.numbers(C, "users", {1: 8, 3: 5, 7: 3, 0: 2})
    rows.numbers(C, "groups", {0: 18})
    rows.numbers(D, "users", {1: 9, 2: 7})
    rows.numbers(D, "groups", {0: 16})
    rows.systems(6)
    return rows


def write(
    path: Path, rows: list[dict[str, Any]], *, shuffle: int | None = 5, indent: Any = None
) -> Path:
    """``rows`` as dumpdata writes them (one line, or indented), in a shuffled order."""
    rows = list(rows)
    if shuffle is not None:
        random.Random(shuffle).shuffle(rows)
    path.write_text(json.dumps(rows, indent=indent, ensure_ascii=False), encoding="utf-8")
    return path
