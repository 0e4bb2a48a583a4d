"""Chart transforms against whole expected outputs; no MkDocs, no files but the goldens.

Goldens live in tests/golden/charts/; ``UPDATE_GOLDEN=1 pytest tests/test_charts.py`` rewrites
them (review the diff).
"""

from __future__ import annotations

import json
import os
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


def test_version_cap_keeps_the_newest_days_biggest_then_the_highest_peaks() -> None:
    rows = [{"1.0": 50}, {"2.0": 10, "2.1": 5, "2.2": 3, "2.3": 2, "2.4": 1}]
    # Four places: two for the newest day's biggest, two for the highest peaks (1.0 once led).
    assert charts.series_to_keep(rows, 4) == ["2.0", "2.1", "1.0", "2.2"]
    series = [(DAY - timedelta(days=1), rows[0]), (DAY, rows[1])]
    assert charts.versions_over_time(series, Limits(max_series=3)) == {
        "labels": ["2026-11-26", "2026-11-27"],
        "datasets": [
            {"label": "2.1", "data": [0, 5], "fill": "origin"},
            {"label": "2.0", "data": [0, 10], "fill": "-1"},
            {"label": "1.0", "data": [50, 0], "fill": "-1"},
            {"label": OTHER, "data": [0, 6], "fill": "-1"},
        ],
    }


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


def test_headline() -> None:
    summaries = [day(0), day(10), day(40), day(45)]
    assert charts.headline(summaries) == charts.Headline(
        day=date(2026, 2, 15),
        systems=55,
        persistent_systems=53,
        before=date(2026, 1, 11),
        systems_before=20,
    )
    assert charts.headline(summaries).change == 35  # type: ignore[union-attr]
    assert charts.headline([day(3)]) == charts.Headline(date(2026, 1, 4), 13, 11)


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
