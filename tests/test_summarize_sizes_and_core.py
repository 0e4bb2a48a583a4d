"""The metrics added after the old site's, counted from hand-made reports posted to a real
receiver: pulpcore's X.Y among the systems running each component (``core_xy_by_component``)
and the worker and content-app numbers per bucket (``online_*_buckets``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask

from builder.summaries.sources import LocalSource
from builder.summaries.summarize import count_day, summarize
from tests import wire
from tests.conftest import Clock

DAY = date(2026, 11, 2)


def post(app: Flask, reports: list[bytes]) -> list[str]:
    client = app.test_client()
    return [client.post("/", data=body).json["status"] for body in reports]


def sid(n: int) -> str:
    return uuid.UUID(int=n).hex


def counted(db: Path, deployment: str, min_age: int, day: date = DAY) -> dict[str, Any]:
    """The day as counted (nothing folded), in its file's form."""
    source = LocalSource(db)
    try:
        with source.day(day) as rows:
            return json.loads(count_day(rows, day, deployment, min_age).summary.to_json())
    finally:
        source.close()


def test_core_versions_per_component_on_dev(
    make_app: Callable[..., Flask], clock: Clock, db_path: Path
) -> None:
    clock.set_day(DAY)
    reports = [
        wire.analytics(sid(1), [("core", "3.21.0"), ("rpm", "3.19.4"), ("file", "1.10.0")]),
        wire.analytics(sid(2), [("core", "3.21.5"), ("rpm", "3.20.0")]),
        wire.analytics(sid(3), [("rpm", "3.20.1"), ("file", "1.10.0")]),  # no core
        wire.analytics(sid(4), [("file", "1.11.0"), ("core", "3.22.0.dev")]),  # core listed last
        wire.analytics(sid(5), [("core", "3.22.0")]),  # core alone: in no component's counts
        wire.analytics(sid(6), []),  # no component at all: counted nowhere
        wire.telemetry(sid(7), [("core", "3.18.2"), ("container", "2.10.3")]),  # an old client
        wire.analytics(sid(8), [("core", "3.9"), ("ansible", "0.20.0")]),  # no Z: X.Y is 3.9
    ]
    assert post(make_app(DEPLOYMENT="dev"), reports) == ["accepted"] * 8
    day = counted(db_path, "dev", 0)
    assert day["core_xy_by_component"] == {
        "ansible": {"3.9": 1},
        "container": {"3.18": 1},
        "file": {"3.21": 1, "3.22": 1, "(no core)": 1},
        "rpm": {"3.21": 2, "(no core)": 1},
    }
    # Per component, the systems add up to those the X.Y versions count.
    for name, counts in day["core_xy_by_component"].items():
        assert sum(counts.values()) == sum(day["xy_component"][name].values())
    assert day["xy_component"]["core"] == {"3.9": 1, "3.18": 1, "3.21": 2, "3.22": 2}


def test_core_versions_per_component_on_prod_count_persistent_release_systems(
    make_app: Callable[..., Flask], clock: Clock, db_path: Path
) -> None:
    app = make_app(DEPLOYMENT="prod")
    clock.set_day(date(2026, 11, 1))
    assert post(app, [wire.analytics(sid(n)) for n in (1, 2)]) == ["accepted"] * 2
    clock.set_day(DAY)
    reports = [
        wire.analytics(sid(1), [("core", "3.21.0"), ("rpm", "3.19.4")]),  # persistent
        wire.analytics(sid(2), [("rpm", "3.19.4")]),  # persistent, no core
        wire.analytics(sid(3), [("core", "3.22.0"), ("rpm", "3.20.0")]),  # first day: age 0
        wire.analytics(sid(4), [("core", "3.22.0.dev"), ("rpm", "3.20.0")]),  # a dev build
    ]
    assert post(app, reports) == ["accepted", "accepted", "accepted", "ignored"]
    day = counted(db_path, "prod", 1)
    assert day["core_xy_by_component"] == {"rpm": {"3.21": 1, "(no core)": 1}}


def test_worker_and_content_app_buckets(
    make_app: Callable[..., Flask], clock: Clock, db_path: Path
) -> None:
    clock.set_day(DAY)
    workers = [
        {"processes": 0, "hosts": 0},
        {"processes": 1, "hosts": 1},
        {"processes": 8, "hosts": 1},
        {"processes": 9, "hosts": 2},
        {"processes": 16, "hosts": None},  # the number of hosts not sent
        {"processes": 17, "hosts": 3},
        {"processes": 1000, "hosts": 40},
        None,  # no workers field at all
    ]
    reports = [
        wire.analytics(sid(n), workers=w, content_apps={"processes": 2, "hosts": 1} if n else None)
        for n, w in enumerate(workers)
    ]
    assert post(make_app(DEPLOYMENT="dev"), reports) == ["accepted"] * 8
    day = counted(db_path, "dev", 0)
    assert day["online_workers_buckets"] == {
        "processes": {"0": 1, "1": 1, "8": 1, "9-16": 2, "17-32": 1, "513-1024": 1},
        "hosts": {"0": 1, "1": 2, "2": 1, "3": 1, "33-64": 1},
    }
    assert day["online_content_apps_buckets"] == {"processes": {"2": 7}, "hosts": {"1": 7}}
    # The buckets count the systems behind each mean.
    assert sum(day["online_workers_buckets"]["processes"].values()) == 7
    assert day["online_workers"]["processes__avg"] == round((0 + 1 + 8 + 9 + 16 + 17 + 1000) / 7, 4)


def test_published_on_prod_the_small_buckets_merge(
    make_app: Callable[..., Flask], clock: Clock, db_path: Path, tmp_path: Path
) -> None:
    app = make_app(DEPLOYMENT="prod")
    numbers = [1] * 6 + [2] * 9 + [3] * 2 + [12] * 5 + [700]  # 23 systems
    for day in (date(2026, 11, 1), DAY):
        clock.set_day(day)
        reports = [
            wire.analytics(
                sid(n),
                [("core", "3.21.0" if n < 20 else "3.22.0"), ("rpm", "3.19.4")],
                workers={"processes": p, "hosts": 1},
            )
            for n, p in enumerate(numbers)
        ]
        assert set(post(app, reports)) == {"accepted"}
    summarize(LocalSource(db_path), tmp_path, "prod", date(2026, 11, 3))
    day = json.loads((tmp_path / "prod/2026/2026-11-02.json").read_text())
    assert day["online_workers_buckets"] == {
        "processes": {"1": 6, "2-3": 11, "9+": 6},  # 3 (2) joins the median's bucket, 700 opens
        "hosts": {"1": 23},
    }
    assert day["core_xy_by_component"] == {"rpm": {"3.21": 20, "(other)": 3}}
    assert day["online_content_apps_buckets"] == {"processes": {}, "hosts": {}}
