"""Chart transforms against whole expected outputs; no MkDocs, no files but the goldens.

Goldens live in tests/golden/charts/; ``UPDATE_GOLDEN=1 pytest tests/test_charts.py`` rewrites
them (review the diff).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import defaultdict
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from builder.metrics import metric
from builder.site import charts
from builder.site.charts import OTHER, Limits
from builder.summaries.summary import Summary

GOLDEN = Path(__file__).parent / "golden" / "charts"
DAY = date(2026, 11, 27)
DEFAULT = Limits()

# The example of SPEC §5.
EXAMPLE = Summary(
    date=DAY,
    deployment="prod",
    systems=120,
    persistent_systems=100,
    age_count={0: 20, 1: 5, 37: 95},
    metrics={
        "xy_component": {"core": {"3.21": 80}, "rpm": {"3.19": 40}},
        "xyz_component": {"core": {"3.21.0": 50, "3.21.1": 30}, "rpm": {"3.19.4": 40}},
        "postgresql_version": {"0": 3, "130004": 97},
        "online_workers": {"processes__avg": 2.0, "hosts__avg": 1.0},
        "online_content_apps": {"processes__avg": 2.5, "hosts__avg": 1.25},
        "rbac_stats": {
            "users": {"1": 60, "4": 40},
            "groups": {},
            "domains": {},
            "custom_access_policies": {},
            "custom_roles": {},
        },
    },
)


def assert_golden(name: str, data: Any) -> None:
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert data == json.loads(path.read_text(encoding="utf-8"))


def day(n: int, **metrics: Any) -> Summary:
    """A summary ``n`` days after 2026-01-01 with the given metric values."""
    return Summary(
        date=date(2026, 1, 1) + timedelta(days=n),
        deployment="prod",
        systems=10 + n,
        persistent_systems=8 + n,
        age_count={0: 2, n: 8},
        metrics=metrics,
    )


def xy(summaries: list[Summary], name: str, limits: Limits = DEFAULT) -> dict[str, Any]:
    series = charts.count_series(summaries, metric("xy_component"), name)
    return charts.versions_over_time(series, limits)


# -- the SPEC §5 example, every chart ---------------------------------------------------------


def test_example_component_versions() -> None:
    assert xy([EXAMPLE], "core") == {
        "labels": ["2026-11-27"],
        "datasets": [{"label": "3.21", "data": [80], "fill": "origin"}],
    }
    z_stream = charts.count_series([EXAMPLE], metric("xyz_component"), "core")
    assert charts.versions_over_time(z_stream) == {
        "labels": ["2026-11-27"],
        "datasets": [
            {"label": "3.21.1", "data": [30], "fill": "origin"},
            {"label": "3.21.0", "data": [50], "fill": "-1"},
        ],
    }


def test_example_postgresql() -> None:
    series = charts.count_series([EXAMPLE], metric("postgresql_version"))
    assert charts.newest_pie(series, labels="postgresql") == {
        "labels": ["Unknown", "13.4"],
        "datasets": [{"data": [3, 97]}],
    }


def test_example_means() -> None:
    workers = metric("online_workers")
    assert charts.means_over_time(
        charts.mean_series([EXAMPLE], workers), ("processes", "hosts")
    ) == {
        "labels": ["2026-11-27"],
        "datasets": [
            {"label": "Mean Processes", "data": [2.0]},
            {"label": "Mean Hosts", "data": [1.0]},
        ],
    }


def test_example_rbac_users() -> None:
    series = charts.count_series([EXAMPLE], metric("rbac_stats"), "users")
    assert charts.buckets_over_time(series) == {
        "labels": ["2026-11-27"],
        "datasets": [
            {"label": "1", "data": [60], "fill": "origin"},
            {"label": "3-4", "data": [40], "fill": "-1"},
        ],
    }
    # As the old rbac_stats view: a day on which nobody reported groups is not a day of the chart.
    empty = charts.count_series([EXAMPLE], metric("rbac_stats"), "groups")
    assert charts.buckets_over_time(empty) == {"labels": [], "datasets": []}


def test_example_systems_by_age() -> None:
    series = charts.age_series([EXAMPLE])
    # Age 0 (throw-away systems) and age 1 apart, as the old systems_by_age view gave them.
    assert charts.buckets_over_time(series, zero_alone=True, largest_first=True) == {
        "labels": ["2026-11-27"],
        "datasets": [
            {"label": "33-64", "data": [95], "fill": "origin"},
            {"label": "1", "data": [5], "fill": "-1"},
            {"label": "0", "data": [20], "fill": "-1"},
        ],
    }


def test_example_demography() -> None:
    assert_golden("demography_example", charts.demography(EXAMPLE.age_count))


def test_example_systems() -> None:
    assert charts.systems_over_time([EXAMPLE]) == {
        "labels": ["2026-11-27"],
        "datasets": [
            {"label": "systems", "data": [120]},
            {"label": "persistent systems", "data": [100]},
        ],
    }


# -- edge cases -----------------------------------------------------------------------------


def test_no_data() -> None:
    empty = {"labels": [], "datasets": []}
    assert charts.versions_over_time([]) == empty
    assert charts.buckets_over_time([]) == empty
    assert charts.means_over_time([], ("processes", "hosts")) == {
        "labels": [],
        "datasets": [{"label": "Mean Processes", "data": []}, {"label": "Mean Hosts", "data": []}],
    }
    assert charts.newest_pie([]) == empty
    assert charts.systems_over_time([]) == {
        "labels": [],
        "datasets": [
            {"label": "systems", "data": []},
            {"label": "persistent systems", "data": []},
        ],
    }
    assert charts.demography({}) == {"datasets": []}
    assert charts.headline([]) is None


def test_gaps_and_a_version_appearing_and_disappearing() -> None:
    summaries = [
        day(0, xy_component={"core": {"3.1": 5}}),
        day(1, xy_component={"rpm": {"3.9": 2}}),  # no core: not a day of core's chart
        day(3, xy_component={"core": {"3.1": 4, "3.2": 1}}),  # a gap of a day, 3.2 appears
        day(4, xy_component={"core": {"3.2": 6, "3.10": 1}}),  # 3.1 gone, 3.10 sorts last
        day(5, xy_component={}),
    ]
    assert xy(summaries, "core") == {
        "labels": ["2026-01-01", "2026-01-04", "2026-01-05"],
        "datasets": [
            {"label": "3.10", "data": [0, 0, 1], "fill": "origin"},
            {"label": "3.2", "data": [0, 1, 6], "fill": "-1"},
            {"label": "3.1", "data": [5, 4, 0], "fill": "-1"},
        ],
    }
    assert xy(summaries, "missing") == {"labels": [], "datasets": []}


def test_means_keep_days_without_a_mean_as_null() -> None:
    summaries = [
        day(0, online_workers={"processes__avg": 2.5, "hosts__avg": None}),
        day(1),  # an older summary without the metric: not a day of the chart
        day(2, online_workers={"processes__avg": None, "hosts__avg": 1.25}),
        # no mean at all (the old site stored no deployment stats): not a day of the chart
        day(3, online_workers={"processes__avg": None, "hosts__avg": None}),
    ]
    series = charts.mean_series(summaries, metric("online_workers"))
    assert charts.means_over_time(series, ("processes", "hosts")) == {
        "labels": ["2026-01-01", "2026-01-03"],
        "datasets": [
            {"label": "Mean Processes", "data": [2.5, None]},
            {"label": "Mean Hosts", "data": [None, 1.25]},
        ],
    }


@pytest.mark.parametrize(
    ("n", "rbac", "age"),
    [
        (0, "0", "0-1"),
        (1, "1", "0-1"),
        (2, "2", "2"),
        (3, "3-4", "3-4"),
        (4, "3-4", "3-4"),
        (5, "5-8", "5-8"),
        (8, "5-8", "5-8"),
        (9, "9-16", "9-16"),
        (16, "9-16", "9-16"),
        (17, "17-32", "17-32"),
        (1024, "513-1024", "513-1024"),
        (1025, "1025-2048", "1025-2048"),
    ],
)
def test_bucket_boundaries(n: int, rbac: str, age: str) -> None:
    assert charts.bucket_label(charts.power_bucket(n, zero_alone=True)) == rbac
    assert charts.bucket_label(charts.power_bucket(n, zero_alone=False)) == age


def test_buckets_are_fixed_whatever_keys_are_present() -> None:
    # The old site named buckets after the keys present: 4 and 16 alone became "0-4", "5-16".
    series = [(DAY, {"4": 3, "16": 2, "lots": 1})]
    assert charts.buckets_over_time(series) == {
        "labels": ["2026-11-27"],
        "datasets": [
            {"label": "3-4", "data": [3], "fill": "origin"},
            {"label": "9-16", "data": [2], "fill": "-1"},
            {"label": OTHER, "data": [1], "fill": "-1"},
        ],
    }


def test_small_counts_fold_into_other() -> None:
    summaries = [
        day(0, xy_component={"core": {"3.1": 9, "3.2": 2}}),
        day(1, xy_component={"core": {"3.1": 9, "3.2": 5, "3.3": 1}}),
    ]
    assert xy(summaries, "core", Limits(fold_below=5)) == {
        "labels": ["2026-01-01", "2026-01-02"],
        "datasets": [
            {"label": "3.2", "data": [0, 5], "fill": "origin"},
            {"label": "3.1", "data": [9, 9], "fill": "-1"},
            {"label": OTHER, "data": [2, 1], "fill": "-1"},
        ],
    }
    pie = charts.newest_pie([(DAY, {"0": 3, "130004": 97})], Limits(fold_below=5))
    assert pie == {"labels": ["130004", OTHER], "datasets": [{"data": [97, 3]}]}
    rbac = charts.buckets_over_time([(DAY, {"0": 2, "1": 9})], Limits(fold_below=3))
    assert rbac == {
        "labels": ["2026-11-27"],
        "datasets": [
            {"label": "1", "data": [9], "fill": "origin"},
            {"label": OTHER, "data": [2], "fill": "-1"},
        ],
    }


@pytest.mark.parametrize(
    ("version", "minor", "decade", "major"),
    [
        ("3.21.4", "3.21.x", "3.2x", "3.x"),
        ("3.21", "3.21.x", "3.2x", "3.x"),
        ("3.5.0", "3.5.x", "3.0\u20133.9", "3.x"),
        ("10.105.2", "10.105.x", "10.10x", "10.x"),
        ("3.22.0.dev0", "3.22.x", "3.2x", "3.x"),
        ("<b>", None, None, None),
    ],
)
def test_range_labels(
    version: str, minor: str | None, decade: str | None, major: str | None
) -> None:
    assert charts.range_label(version, "minor") == minor
    assert charts.range_label(version, "decade") == decade
    assert charts.range_label(version, "major") == major


def test_xy_chart_draws_the_newest_eight_and_older_ones_by_decade() -> None:
    counts = {f"3.{m}": m for m in range(5, 22)}  # 3.5 to 3.21
    data = charts.versions_over_time([(DAY, counts)])
    assert [(d["label"], d["data"], d.get("versions")) for d in data["datasets"]] == [
        *[(f"3.{m}", [m], None) for m in range(21, 13, -1)],
        ("3.1x", [13 + 12 + 11 + 10], ["3.13", "3.12", "3.11", "3.10"]),
        ("3.0\u20133.9", [9 + 8 + 7 + 6 + 5], ["3.9", "3.8", "3.7", "3.6", "3.5"]),
    ]
    assert [d["fill"] for d in data["datasets"]] == ["origin", *["-1"] * 9]


def test_xyz_chart_draws_older_versions_per_x_y_and_a_lone_version_as_itself() -> None:
    counts = {f"3.21.{z}": 1 for z in range(6)} | {"3.20.1": 2, "3.20.0": 3, "3.19.0": 4}
    counts |= {f"3.18.{z}": 1 for z in range(3)}
    data = charts.versions_over_time([(DAY, counts)])
    assert [(d["label"], d["data"], d.get("versions")) for d in data["datasets"]] == [
        *[(f"3.21.{z}", [1], None) for z in range(5, -1, -1)],
        ("3.20.1", [2], None),
        ("3.20.0", [3], None),
        ("3.19.0", [4], None),  # its range would hold it alone
        ("3.18.x", [3], ["3.18.2", "3.18.1", "3.18.0"]),
    ]


def test_too_many_ranges_merge_where_fewest_systems_run_now() -> None:
    # 8 individual 4.x versions, then 3.0 to 3.29 (three decades) and 2.0 to 2.19.
    old = {f"3.{m}": 1 for m in range(30)} | {f"2.{m}": 1 for m in range(20)}
    new = {f"4.{m}": 10 for m in range(8)}
    then = dict(old)  # a year ago every old version ran
    now = new | {"3.25": 40, "3.12": 5}  # today only 3.25 and 3.12 are left of them
    series = [(DAY - timedelta(days=365), then), (DAY, now)]
    data = charts.versions_over_time(series, Limits(max_series=12))
    assert [(d["label"], d["data"]) for d in data["datasets"]][8:] == [
        ("3.2x", [10, 40]),
        ("3.1x", [10, 5]),
        ("3.0\u20133.9", [10, 0]),
        ("2.x", [20, 0]),  # 2.1x and 2.0-2.9 merged first: nobody runs them now
    ]
    tight = charts.versions_over_time(series, Limits(max_series=10))
    assert [d["label"] for d in tight["datasets"]][8:] == ["3.2x", "3.x and older"]
    assert tight["datasets"][9]["versions"][0] == "3.19"
    assert tight["datasets"][9]["versions"][-1] == "2.0"


def test_versions_without_x_y_beyond_the_newest_are_other() -> None:
    counts = {f"1.{m}": 1 for m in range(9)} | {"<b>": 2, "nightly": 3}
    data = charts.versions_over_time([(DAY, counts)])
    # Versions that are not PEP 440 sort as the newest: they are drawn on their own first.
    assert [d["label"] for d in data["datasets"]] == [
        "nightly",
        "<b>",
        *[f"1.{m}" for m in range(8, 2, -1)],
        "1.0\u20131.9",
    ]
    tail = charts.versions_over_time(
        [(DAY, {"9.0": 1, "1.0": 1, "x": 4, "y": 2})], Limits(individual=1)
    )
    assert [(d["label"], d["data"]) for d in tail["datasets"]] == [
        ("y", [2]),
        ("9.0", [1]),
        ("1.0", [1]),
        (OTHER, [4]),  # beyond the newest, a version without X.Y has no range
    ]


def test_version_ranges_golden() -> None:
    """A long X.Y.Z history of two components' shapes, grouped: reviewed whole."""
    days = []
    for n in range(6):
        counts = {}
        for minor in range(10, 24):
            for z in range(4):
                if minor <= 14 + 2 * n:
                    counts[f"3.{minor}.{z}"] = max(0, 3 + 2 * n - abs(minor - 12 - 2 * n)) + z
        counts |= {"2.9.0": 6 - n, "2.8.1": 1}
        days.append((DAY - timedelta(days=5 - n), counts))
    assert_golden("version_ranges_xyz", charts.versions_over_time(days))


def test_thinning_keeps_recent_days_and_one_real_day_per_week() -> None:
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(40)]  # Thursday 1 Jan to 9 Feb
    kept = sorted(charts.kept_days(days, full_days=10))
    assert [d.isoformat() for d in kept] == [
        "2026-01-04",  # the newest day of each ISO week before the last 10 days: a Sunday
        "2026-01-11",
        "2026-01-18",
        "2026-01-25",
        "2026-01-30",  # the newest day before the cutoff, in the cutoff's week
        *[(date(2026, 1, 31) + timedelta(days=n)).isoformat() for n in range(10)],
    ]
    series = [(d, {"1.0": n}) for n, d in enumerate(days)]
    data = charts.versions_over_time(series, Limits(full_days=10))
    assert data["labels"] == [d.isoformat() for d in kept]
    assert data["datasets"][0]["data"] == [days.index(d) for d in kept]  # real values


def test_history_within_full_days_is_untouched() -> None:
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(400)]
    assert charts.kept_days(days, 400) == set(days)


def test_demography_fills_gaps_and_accumulates() -> None:
    assert charts.demography({3: 2, 1: 1}) == {
        "datasets": [
            {
                "label": "count",
                "data": [
                    {"age": 4, "count": 0},
                    {"age": 3, "count": 2},
                    {"age": 2, "count": 0},
                    {"age": 1, "count": 1},
                ],
                "parsing": {"xAxisKey": "age", "yAxisKey": "count"},
            },
            {
                "label": "accumulated",
                "data": [
                    {"age": 4, "count": 0},
                    {"age": 3, "count": 2},
                    {"age": 2, "count": 2},
                    {"age": 1, "count": 3},
                ],
                "parsing": {"xAxisKey": "age", "yAxisKey": "count"},
                "fill": True,
            },
        ]
    }


def test_demography_beyond_max_points_keeps_the_ends_of_zero_runs() -> None:
    data = charts.demography({10: 1, 2: 4}, Limits(max_points=5))
    assert [p["age"] for p in data["datasets"][0]["data"]] == [11, 10, 9, 3, 2]
    assert [p["count"] for p in data["datasets"][1]["data"]] == [0, 1, 1, 1, 5]


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("0", "Unknown"),
        ("90200", "9.2.0"),
        ("90624", "9.6.24"),
        ("100000", "10.0"),
        ("140005", "14.5"),
        ("170002", "17.2"),
        ("beta", "beta"),
    ],
)
def test_postgresql_labels(key: str, label: str) -> None:
    assert charts.postgresql_label(key) == label


def test_pie_sorts_by_number_and_caps_slices() -> None:
    counts = {"0": 1, "90200": 2, "100000": 3, "140005": 40, "130004": 9}
    data = charts.newest_pie([(DAY, counts)], Limits(max_series=3), labels="postgresql")
    assert data == {
        "labels": ["10.0", "13.4", "14.5", OTHER],
        "datasets": [{"data": [3, 9, 40, 3]}],
    }


def test_headline_compares_seven_day_means() -> None:
    summaries = [day(n) for n in range(20) if n != 17]  # day 17 missing: not a zero
    head = charts.headline(summaries)
    assert head == charts.Headline(
        day=date(2026, 1, 20),
        systems=29,
        current=charts.WindowMean(
            first=date(2026, 1, 14),
            last=date(2026, 1, 20),
            days=6,
            systems=(23 + 24 + 25 + 26 + 28 + 29) / 6,
            persistent_systems=(21 + 22 + 23 + 24 + 26 + 27) / 6,
        ),
        previous=charts.WindowMean(
            first=date(2026, 1, 7),
            last=date(2026, 1, 13),
            days=7,
            systems=19.0,
            persistent_systems=17.0,
        ),
    )
    assert head is not None
    diff, relative = head.change("systems")  # type: ignore[misc]
    assert diff == pytest.approx(155 / 6 - 19)
    assert relative == pytest.approx((155 / 6 - 19) / 19)
    alone = charts.headline([day(3)])
    assert alone == charts.Headline(
        date(2026, 1, 4), 13, charts.WindowMean(date(2025, 12, 29), date(2026, 1, 4), 1, 13, 11)
    )
    assert alone.change("systems") is None
    # A previous window without any summary: no change, not a change from zero.
    gap = charts.headline([day(0), day(20)])
    assert gap is not None and gap.previous is None


def test_tables_and_csv() -> None:
    data = xy([day(0, xy_component={"core": {"=1+1": 2, "3.2": 1}})], "core")
    table = charts.table("versions_over_time", data)
    # Versions that are not PEP 440 sort as newer than all the others.
    assert table == charts.Table(["date", "=1+1", "3.2"], [["2026-01-01", 2, 1]])
    assert charts.csv_text(table) == "date,'=1+1,3.2\n2026-01-01,2,1\n"
    pie = charts.newest_pie([(DAY, {"0": 3})], labels="postgresql")
    assert charts.csv_text(charts.table("newest_pie", pie, "PostgreSQL version")) == (
        "PostgreSQL version,systems\nUnknown,3\n"
    )
    means = charts.means_over_time([(DAY, {"processes__avg": None})], ("processes",))
    assert charts.csv_text(charts.table("means_over_time", means)) == (
        "date,Mean Processes\n2026-11-27,\n"
    )
    demo = charts.demography({1: 2})
    assert charts.csv_text(charts.table("demography", demo)) == (
        "age,count,accumulated\n2,0,0\n1,2,2\n"
    )


def test_reading_tables_put_the_newest_day_first_with_totals() -> None:
    summaries = [
        day(0, xy_component={"core": {"3.1": 5}}),
        day(1, xy_component={"core": {"3.1": 4, "3.2": 2}}),
    ]
    data = xy(summaries, "core")
    assert charts.reading_table("versions_over_time", data) == charts.Table(
        ["date", "3.2", "3.1", "total"],
        [["2026-01-02", 2, 4, 6], ["2026-01-01", 0, 5, 5]],
        total_column=True,
    )
    assert charts.table("versions_over_time", data).rows[0][0] == "2026-01-01"  # the CSV's
    means = charts.means_over_time(
        [(DAY - timedelta(days=1), {"processes__avg": 2.0}), (DAY, {"processes__avg": None})],
        ("processes",),
    )
    assert charts.reading_table("means_over_time", means) == charts.Table(
        ["date", "Mean Processes"], [["2026-11-27", None], ["2026-11-26", 2.0]]
    )
    pie = charts.newest_pie([(DAY, {"0": 3, "130004": 97})], labels="postgresql")
    assert charts.reading_table("newest_pie", pie, "PostgreSQL version") == charts.Table(
        ["PostgreSQL version", "systems"], [["Unknown", 3], ["13.4", 97]], ["total", 100]
    )
    demo = charts.demography({1: 2, 3: 1})
    assert charts.reading_table("demography", demo) == charts.Table(
        ["age", "count", "accumulated"], [[1, 2, 3], [2, 0, 1], [3, 1, 1], [4, 0, 0]]
    )


def test_shares_over_time_are_percentages_per_day() -> None:
    rows = [
        (DAY - timedelta(days=1), [0.0, 0.25, 1.0]),
        (DAY, [0.0, 7 / 87, None]),  # no share below 15 that day: null, not 0
    ]
    data = charts.shares_over_time(rows, ["below 12", "below 13", "below 15"])
    assert data == {
        "labels": ["2026-11-26", "2026-11-27"],
        "datasets": [
            {"label": "below 12", "data": [0.0, 0.0]},
            {"label": "below 13", "data": [25.0, 8.0]},  # rounded as the tables round
            {"label": "below 15", "data": [100.0, None]},
        ],
    }
    assert charts.reading_table("shares_over_time", data) == charts.Table(
        ["date", "below 12", "below 13", "below 15"],
        [["2026-11-27", 0.0, 8.0, None], ["2026-11-26", 0.0, 25.0, 100.0]],
    )
    assert charts.csv_text(charts.table("shares_over_time", data)).splitlines() == [
        "date,below 12,below 13,below 15",
        "2026-11-26,0.0,25.0,100.0",
        "2026-11-27,0.0,8.0,",
    ]
    assert charts.shares_over_time([], ["below 13"]) == {
        "labels": [],
        "datasets": [{"label": "below 13", "data": []}],
    }
    assert "shares_over_time" in charts.TIME_SERIES  # the range control, the history mark


def test_shares_over_time_are_thinned_like_every_time_series() -> None:
    rows = [(DAY - timedelta(days=n), [0.5]) for n in range(30, -1, -1)]
    data = charts.shares_over_time(rows, ["below 13"], Limits(full_days=7))
    assert len(data["labels"]) == len(charts.thin(rows, 7)) < 31
    assert data["labels"][-7:] == [(DAY - timedelta(days=n)).isoformat() for n in range(6, -1, -1)]


def test_adoption_curves_share_per_day_since_first_seen() -> None:
    data = charts.adoption_curves(
        [("3.22", [0.02, None, 0.1234]), ("3.21", [0.05, 0.5, 0.6, 0.9, 1.0])], (10, 50)
    )
    assert data == {
        "labels": [0, 1, 2, 3, 4],
        "datasets": [
            {"label": "3.22", "data": [2.0, None, 12.3, None, None]},
            {"label": "3.21", "data": [5.0, 50.0, 60.0, 90.0, 100.0]},
        ],
        "levels": [10, 50],
    }
    # Its table keeps the days in order: the day each release was first seen comes first.
    assert charts.reading_table("adoption_curves", data) == charts.Table(
        ["days since first seen", "3.22", "3.21"],
        [[0, 2.0, 5.0], [1, None, 50.0], [2, 12.3, 60.0], [3, None, 90.0], [4, None, 100.0]],
    )
    assert charts.adoption_curves([], (10, 50)) == {"labels": [], "datasets": []}


# Strings a hostile or careless client could put in a summary: each would start a formula in
# some spreadsheet if written as is (issue: CR starts a row, ';' a cell in ';' locales).
HOSTILE = (
    "=1+1",
    "\r=1+1",
    "1;=1+1",
    "\n@SUM(A1)",
    "a,-1",
    'x;"=1',
    "\t+1",
    "\uff1d1+1",
    "1|=2",
    'ok; "@x',
    "\u2028=1",
    "\r\n-2",
    "3.21.0+local",
)
BLANKS = ' \t"\ufffd'


def spreadsheet_cells(text: str) -> list[str]:
    """Every cell of CSV text as a spreadsheet might split it: rows at universal newlines
    (or at every line break Unicode knows), cells at ',' or ';' (with RFC 4180 quotes) or at
    any of ',;|' and tab (ignoring quotes)."""
    universal = io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8", newline=None)
    lines = universal.read().split("\n")
    cells = []
    for delimiter in ",;":
        cells += [c for row in csv.reader(lines, delimiter=delimiter) for c in row]
    for line in [*lines, *text.splitlines()]:
        cells += re.split(r"[,;|\t]", line)
    return cells


def test_csv_cells_never_start_a_formula_in_any_locale() -> None:
    counts = {version: n for n, version in enumerate(HOSTILE, start=1)}
    every = Limits(individual=len(HOSTILE))
    data = xy([day(0, xy_component={"core": counts})], "core", every)
    text = charts.csv_text(charts.table("versions_over_time", data))
    cells = spreadsheet_cells(text)
    assert len(cells) > 50
    for cell in cells:
        assert not cell.lstrip(BLANKS).startswith(tuple(charts.FORMULA_START)), repr(cell)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2 and len(rows[0]) == len(HOSTILE) + 1  # no cell split a row
    assert "3.21.0+local" in rows[0]  # text that cannot start a formula is unchanged
    assert "1;'=1+1" in rows[0] and "'=1+1" in rows[0]


# -- ordinary histories give exactly what the old site's views gave ----------------------------


def old_plugin_stats(rows: list[tuple[str, str, int]]) -> dict[str, Any]:
    """The old ``plugin_stats`` view over (day, version, count) rows ordered by day."""
    labels: list[str] = []
    columns: dict[str, list[int]] = defaultdict(list)
    for when, version, count in rows:
        if not labels or labels[-1] != when:
            labels.append(when)
        column = columns[version]
        column.extend([0] * (len(labels) - len(column)))
        column[len(labels) - 1] += count
    for column in columns.values():
        column.extend([0] * (len(labels) - len(column)))
    datasets = [
        {"label": v, "data": columns[v], "fill": "-1"}
        for v in sorted(columns, key=Version, reverse=True)
    ]
    if datasets:
        datasets[0]["fill"] = "origin"
    return {"labels": labels, "datasets": datasets}


def old_demography(age_count: dict[int, int]) -> dict[str, Any]:
    """The old ``demography`` view over one day's ages."""
    ages = sorted(age_count.items(), reverse=True)
    data = []
    age = ages[0][0] + 1
    for item_age, count in ages:
        while age > item_age:
            data.append({"age": age, "count": 0})
            age -= 1
        data.append({"age": item_age, "count": count})
        age -= 1
    running = list(accumulate(data, lambda a, b: b | {"count": a["count"] + b["count"]}))
    parsing = {"xAxisKey": "age", "yAxisKey": "count"}
    return {
        "datasets": [
            {"label": "count", "data": data, "parsing": parsing},
            {"label": "accumulated", "data": running, "parsing": parsing, "fill": True},
        ]
    }


VERSIONS = st.sampled_from(["3.9", "3.10", "3.21", "3.22", "4.0", "10.1"])
HISTORY = st.lists(
    st.tuples(st.integers(0, 364), st.dictionaries(VERSIONS, st.integers(1, 500), max_size=6)),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(HISTORY)
def test_versions_match_the_old_view_for_a_year_of_history(history: list[Any]) -> None:
    by_day = sorted(dict(history).items())
    summaries = [day(n, xy_component={"core": counts}) for n, counts in by_day]
    rows = [
        (s.date.isoformat(), v, c)
        for s in summaries
        for v, c in s.metrics["xy_component"]["core"].items()
    ]
    assert xy(summaries, "core") == old_plugin_stats(rows)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.integers(0, 1200), st.integers(1, 50), min_size=1, max_size=40))
def test_demography_matches_the_old_view(age_count: dict[int, int]) -> None:
    assert charts.demography(age_count) == old_demography(age_count)
