"""The simulated fleet: real messages, plausible distributions, and posting over HTTP."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from flask import Flask

from builder.devtools.fleet import CI_SHARE, DEV_SHARE, PLUGINS, TELEMETRY_SHARE, Fleet, release
from builder.devtools.simulate import (
    Backfill,
    Poster,
    SimulateError,
    joining_days,
    post_history,
    simulate,
)
from receiver.contract import decode
from tests.conftest import AUTH, serving


def test_same_seed_same_fleet() -> None:
    first = [body for _, body in Fleet(50, seed=4).day(0)]
    again = [body for _, body in Fleet(50, seed=4).day(0)]
    other = [body for _, body in Fleet(50, seed=5).day(0)]
    assert first == again != other


def test_same_seed_same_joining_fleet() -> None:
    def history(seed: int) -> list[list[bytes]]:
        fleet = Fleet(50, seed, joining_days=10)
        return [[body for _, body in fleet.day(index)] for index in range(15)]

    assert history(4) == history(4) != history(5)


def age_buckets(fleet: Fleet, days: int) -> list[Counter[int]]:
    """Per day, long-lived systems by age in the power-of-two buckets of "Systems by age"
    (0-1, 2, 3-4, 5-8, ...), each age counted from the system's first report, as a receiver
    does."""
    first: dict[str, int] = {}
    rows = []
    for index in range(days):
        row = Counter[int]()
        for system, _ in fleet.day(index):
            if not system.once:  # CI systems are always 0 days old
                age = index - first.setdefault(system.system_id, index)
                row[1 if age <= 1 else 1 << (age - 1).bit_length()] += 1
        rows.append(row)
    return rows


def largest_step(rows: list[Counter[int]]) -> float:
    """The largest change of one bucket from a day to the next, as a share of the peak."""
    peak = max(sum(row.values()) for row in rows)
    return max(
        abs(after[bucket] - before[bucket]) / peak
        for before, after in itertools.pairwise(rows)
        for bucket in before | after
    )


def test_a_joining_fleet_ages_without_walls() -> None:
    days = 91
    joining = Fleet(300, seed=0, joining_days=joining_days(days))
    rows = age_buckets(joining, days)
    assert largest_step(rows) < 0.1  # every bucket fills and empties gradually
    started = [sum(row.values()) for row in rows]
    assert 0 < started[0] < 0.1 * 300  # a few systems on the first day ...
    weekly = started[:45:5]
    assert all(a < b for a, b in itertools.pairwise(weekly))  # ... more every few days ...
    assert 0.95 * 300 < started[-1] <= 300  # ... and the whole fleet once all have joined
    at_once = age_buckets(Fleet(300, seed=0), days)
    assert largest_step(at_once) > 0.5  # everyone the same age: the whole fleet jumps at once


def test_messages_decode_and_distributions_are_within_bounds() -> None:
    fleet = Fleet(2000, seed=1)
    days = [list(fleet.day(index)) for index in range(3)]
    for reports in days:
        systems = [system for system, _ in reports]
        decoded = [decode(body) for _, body in reports]  # raises on anything invalid
        assert len({d.system_id for d in decoded}) == len(decoded)
        share = Counter[str]()
        for d in decoded:
            share.update(c["name"] for c in d.data["components"])
        n = len(decoded)
        assert share["core"] == n
        for plugin, (expected, _, _) in PLUGINS.items():
            assert abs(share[plugin] / n - expected) < 0.05, plugin
        ci = sum(s.once for s in systems) / 2000
        assert 0.5 * CI_SHARE <= ci <= 1.5 * CI_SHARE
        telemetry = sum(d.data["rbac_stats"] is None for d in decoded) / n
        assert abs(telemetry - TELEMETRY_SHARE) < 0.03
        assert abs(sum(d.dev for d in decoded) / n - DEV_SHARE) < 0.02
        workers = [d.data["online_workers"]["processes"] for d in decoded]
        assert min(workers) >= 1 and max(workers) <= 16
    ids = [{s.system_id for s, _ in reports} for reports in days]
    assert len(ids[0] & ids[1]) > 0.9 * 2000  # most systems report every day ...
    assert len(ids[0] - ids[2]) > 0  # ... some stop, and CI systems report once


def test_versions_come_out_in_waves_and_systems_upgrade_with_a_lag() -> None:
    assert release("core", 0) < release("core", 45) < release("core", 400)
    fleet = Fleet(500, seed=2)
    newest = []
    for index in range(0, 200):
        reports = list(fleet.day(index))
        if index in (0, 199):
            x, y, _ = release("core", index)
            on_newest = sum(
                any(
                    c["name"] == "core" and c["version"].startswith(f"{x}.{y}.")
                    for c in decode(body).data["components"]
                )
                for _, body in reports
            )
            newest.append(on_newest / len(reports))
    assert all(0 < share < 0.9 for share in newest)  # never everyone on the newest release


@pytest.fixture
def live(make_app) -> Iterator[tuple[str, Flask]]:  # type: ignore[no-untyped-def]
    app = make_app(CLOCK="request-date")
    with serving(app) as url:
        yield url, app


def test_simulate_posts_history_under_each_day(live: tuple[str, Flask]) -> None:
    url, app = live
    seen = []
    totals = simulate(url, 30, 4, 0, date(2026, 11, 27), on_day=lambda d, a: seen.append(d))
    assert seen == [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27)]
    assert set(totals) == {"accepted"}
    days = app.test_client().get("/export/", headers=AUTH).json["days"]
    assert [d["date"] for d in days] == [d.isoformat() for d in seen]
    assert sum(d["systems"] for d in days) == totals["accepted"]


def test_one_fleet_to_a_dev_receiver_over_http_and_into_a_prod_receiver(
    live: tuple[str, Flask], tmp_path: Path
) -> None:
    url, _ = live
    prod_db = tmp_path / "prod.sqlite3"
    backfill = Backfill({"DATABASE": prod_db, "DEPLOYMENT": "prod", "EXPORT_TOKEN": "t"})
    days = [date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27)]
    dev_totals, prod_totals = post_history([Poster(url), backfill], 40, 3, 0, days[-1])
    assert set(dev_totals) == {"accepted"}
    assert set(prod_totals) == {"accepted", "ignored"}  # prod ignores development builds
    assert prod_totals["accepted"] + prod_totals["ignored"] == dev_totals["accepted"]
    export = backfill.app.test_client().get("/export/", headers={"Authorization": "Bearer t"})
    assert [d["date"] for d in export.json["days"]] == [d.isoformat() for d in days]
    assert sum(d["systems"] for d in export.json["days"]) == prod_totals["accepted"]
    assert sum(d["ignored"] for d in export.json["days"]) == prod_totals["ignored"]


def test_simulate_stops_when_the_receiver_ignores_the_day(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()  # a fixed clock: every report lands on the same day
    with serving(app) as url, pytest.raises(SimulateError, match="ANALYTICS_CLOCK=request-date"):
        simulate(url, 60, 3, 0, date(2026, 11, 27))  # with CI systems, new each day


def test_simulate_notices_a_receiver_ignoring_the_day_while_the_fleet_joins(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()  # a fixed clock
    seen: list[date] = []
    with serving(app) as url, pytest.raises(SimulateError, match="earlier day as duplicates"):
        simulate(url, 200, 30, 0, date(2026, 11, 27), on_day=lambda d, a: seen.append(d))
    assert seen == [date(2026, 10, 29)]  # stopped on the second day, few systems yet


def test_simulate_explains_an_unreachable_receiver() -> None:
    with pytest.raises(SimulateError, match=r"cannot post to 127\.0\.0\.1:9"):
        simulate("http://127.0.0.1:9/", 5, 1, 0, date(2026, 11, 27))
