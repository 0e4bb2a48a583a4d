"""The decision figures on hand-made summaries: shares, windows and trends, PostgreSQL minimums,
upgrade pace and adoption curves, numbers and shares for people. No MkDocs, no files."""

from __future__ import annotations

import math
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from builder import buckets
from builder.buckets import Bucket
from builder.site import decisions
from builder.site.decisions import (
    FOLDED,
    Curve,
    Minimum,
    Pace,
    PostgresqlVersion,
    VersionShare,
    WindowMean,
    people,
)
from builder.summaries.summary import Summary

START = date(2026, 1, 1)


def day(
    n: int,
    xy: dict[str, dict[str, int]] | None = None,
    *,
    persistent: int = 100,
    postgresql: dict[str, int] | None = None,
) -> Summary:
    """Day ``n`` after START with these X.Y counts (the X.Y.Z counts are X.Y.0)."""
    xy = xy or {}
    metrics: dict[str, Any] = {
        "xy_component": xy,
        "xyz_component": {c: {f"{v}.0": n for v, n in vs.items()} for c, vs in xy.items()},
    }
    if postgresql is not None:
        metrics["postgresql_version"] = postgresql
    return Summary(
        date=START + timedelta(days=n),
        deployment="prod",
        systems=persistent + 5,
        persistent_systems=persistent,
        age_count={0: 5, 10: persistent},
        metrics=metrics,
    )


# -- one component on one day -----------------------------------------------------------------


def test_usage_counts_persistent_systems_running_the_component() -> None:
    summary = day(0, {"core": {"3.20": 30, "3.21": 50}, "rpm": {"3.19": 20}})
    core = decisions.usage(summary, "core")
    assert (core.day, core.systems, core.persistent_systems, core.share) == (START, 80, 100, 0.8)
    assert decisions.usage(summary, "rpm").share == 0.2


def test_an_absent_component_has_no_systems_and_zero_share() -> None:
    summary = day(0, {"core": {"3.21": 80}})
    missing = decisions.usage(summary, "ansible")
    assert (missing.systems, missing.share) == (0, 0.0)


def test_no_persistent_systems_gives_no_share_rather_than_a_division_by_zero() -> None:
    summary = day(0, {}, persistent=0)
    assert decisions.usage(summary, "core").share is None
    assert decisions.ratio(0, 0) is None


def test_components_rank_by_systems_then_name() -> None:
    summary = day(0, {"core": {"3.21": 80}, "rpm": {"3.19": 20}, "file": {"1.1": 20}})
    assert decisions.rank(summary, ["rpm", "ansible", "file", "core"]) == [
        "core",
        "file",
        "rpm",
        "ansible",
    ]
    assert decisions.rank(None, ["rpm", "core"]) == ["core", "rpm"]


# -- versions ---------------------------------------------------------------------------------


def test_version_shares_newest_first_with_this_or_older() -> None:
    shares = decisions.version_shares({"3.9": 10, "3.21": 60, "3.10": 30})
    assert shares == [
        VersionShare("3.21", 60, 0.6, 1.0),
        VersionShare("3.10", 30, 0.3, pytest.approx(0.4)),
        VersionShare("3.9", 10, 0.1, 0.1),
    ]


def test_folded_versions_are_counted_apart_and_left_out_of_shares() -> None:
    counts = {"3.20": 1, "3.21": 3, FOLDED: 2}
    assert decisions.version_shares(counts) == [
        VersionShare("3.21", 3, 0.75, 1.0),
        VersionShare("3.20", 1, 0.25, 0.25),
    ]
    assert decisions.other_systems(counts) == 2
    assert decisions.other_systems({"3.21": 3}) == 0
    assert decisions.version_shares({FOLDED: 4}) == []
    assert decisions.version_shares({}) == []


VERSION = st.builds(
    lambda parts: ".".join(map(str, parts)),
    st.lists(st.integers(0, 30), min_size=1, max_size=3),
)


@given(st.dictionaries(VERSION, st.integers(1, 10**6), min_size=1, max_size=25))
def test_shares_add_up_to_one_and_this_or_older_shrinks_from_one(counts: dict[str, int]) -> None:
    shares = decisions.version_shares(counts)
    assert sum(s.share or 0 for s in shares) == pytest.approx(1.0)
    assert [Version(s.version) for s in shares] == sorted(map(Version, counts), reverse=True)
    older = [s.share_this_or_older or 0 for s in shares]
    assert older[0] == 1.0  # every system runs the newest version or an older one
    assert all(a >= b for a, b in pairwise(older))
    assert older[-1] == pytest.approx(shares[-1].share)
    total = sum(counts.values())
    for i, s in enumerate(shares):
        assert s.share_this_or_older == pytest.approx(sum(t.systems for t in shares[i:]) / total)


def test_every_day_of_a_history_has_shares_adding_up_to_one() -> None:
    history = [day(n, {"core": {"3.20": 60 - n, "3.21": 3 * n, "3.3": 1}}) for n in range(0, 20, 3)]
    for summary in history:
        counts = decisions.component_counts(summary, "core")
        assert sum(s.share or 0 for s in decisions.version_shares(counts)) == pytest.approx(1)


# -- window means -----------------------------------------------------------------------------


def test_window_means_skip_missing_days_and_say_how_many_they_used() -> None:
    # Days 0..39 with gaps; the newest is day 39. Day 36 has no core, day 37 no persistent
    # systems at all; days 33-35 and 38 have no summary.
    present = [n for n in range(40) if n not in (33, 34, 35, 38)]
    history = []
    for n in present:
        if n == 36:
            history.append(day(n, {"rpm": {"3.19": 10}}))
        elif n == 37:
            history.append(day(n, {}, persistent=0))
        else:
            history.append(day(n, {"core": {"3.21": n}}, persistent=2 * n if n else 1))
    week = decisions.window_mean(history, "core", 7)  # days 33..39: 36, 37, 39 have a file
    assert week.days == 3
    assert week.mean_systems == pytest.approx((0 + 0 + 39) / 3)
    assert week.share_days == 2  # day 37 had no persistent system: no share that day
    assert week.mean_share == pytest.approx((0.0 + 0.5) / 2)
    month = decisions.window_mean(history, "core", 30)  # days 10..39
    assert month.days == 26
    assert month.mean_systems == pytest.approx(
        sum(n for n in range(10, 40) if n not in (33, 34, 35, 36, 37, 38)) / 26
    )
    year = decisions.window_mean(history, "core", 365)
    assert year.days == len(present) == 36
    assert [w.length for w in decisions.window_means(history, "core")] == [7, 30, 90, 365]


def test_window_means_of_nothing_are_null() -> None:
    assert decisions.window_mean([], "core", 30) == WindowMean(30, 0, None, 0, None)
    only_zero = [day(0, {}, persistent=0)]
    assert decisions.window_mean(only_zero, "core", 7) == WindowMean(7, 1, 0.0, 0, None)


def test_a_window_can_end_on_any_day() -> None:
    history = [day(n) for n in range(30) if n != 16]
    assert [s.date for s in decisions.window(history, 7, START + timedelta(days=20))] == [
        START + timedelta(days=n) for n in (14, 15, 17, 18, 19, 20)
    ]
    assert decisions.window(history, 7, START - timedelta(days=1)) == []
    assert decisions.window_mean(history, "core", 7, START + timedelta(days=20)).days == 6


def test_trend_compares_the_newest_30_days_with_the_30_before() -> None:
    # core runs on n systems on day n; day 50 and days 20..24 have no summary. The newest day
    # is 69: the window is days 40..69, the one before it days 10..39.
    history = [day(n, {"core": {"3.21": n}}) for n in range(70) if n != 50 and not 20 <= n < 25]
    trend = decisions.trend(history, "core")
    now = (sum(range(40, 70)) - 50) / 29
    before = (sum(range(10, 40)) - sum(range(20, 25))) / 25
    assert (trend.current.days, trend.previous.days) == (29, 25)
    assert trend.current.mean_systems == pytest.approx(now)
    assert trend.previous.mean_systems == pytest.approx(before)
    assert trend.change == pytest.approx(now - before)
    assert trend.relative == pytest.approx((now - before) / before)
    assert decisions.trend(history, "core", 7).current.days == 7  # days 63..69


def test_a_trend_needs_a_mean_before() -> None:
    young = [day(n, {"core": {"3.21": 10}}) for n in range(10)]
    assert decisions.trend(young, "core").previous == WindowMean(30, 0, None, 0, None)
    assert (decisions.trend(young, "core").change, decisions.trend(young, "core").relative) == (
        None,
        None,
    )
    # A component nobody ran in the 30 days before: a change, but no relative change.
    new = [day(n, {"core": {"3.21": 10}} if n >= 40 else {}) for n in range(70)]
    trend = decisions.trend(new, "core")
    assert (trend.previous.mean_systems, trend.change, trend.relative) == (0.0, 10.0, None)
    nothing = decisions.trend([], "core")
    assert nothing.current == nothing.previous == WindowMean(30, 0, None, 0, None)
    assert nothing.change is None


# -- upgrade pace -----------------------------------------------------------------------------


def adoption_curve() -> list[Summary]:
    """3.1 runs everywhere; 3.2 comes on day 1 and takes over; 3.3 comes late and stays small.
    Day 2 has no summary."""
    rows = {
        0: {"3.1": 100},
        1: {"3.1": 95, "3.2": 5},  # 5 %: not yet 10 %
        3: {"3.1": 88, "3.2": 12},  # 12 %: 10 % reached, two days after first seen
        4: {"3.1": 92, "3.2": 8},  # back below 10 %: the first day it was reached counts
        9: {"3.1": 55, "3.2": 45},
        10: {"3.1": 48, "3.2": 50, "3.3": 2},  # 50 of 100: exactly 50 % counts as reached
        12: {"3.1": 30, "3.2": 64, "3.3": 6, FOLDED: 50},  # (other) is not in the shares
    }
    return [day(n, {"core": counts}) for n, counts in rows.items()]


def test_days_to_ten_and_fifty_percent_on_an_adoption_curve() -> None:
    pace = decisions.upgrade_pace(adoption_curve(), "core")
    assert pace == [
        Pace("3.3", START + timedelta(days=10), {10: None, 50: None}, before_history=False),
        Pace("3.2", START + timedelta(days=1), {10: 2, 50: 9}, before_history=False),
        Pace("3.1", START, {10: 0, 50: 0}, before_history=True),
    ]


def test_a_release_first_seen_at_its_peak_reaches_both_shares_at_once() -> None:
    history = [day(0, {"core": {"3.1": 10}}), day(5, {"core": {"3.1": 2, "3.2": 8}})]
    assert decisions.upgrade_pace(history, "core")[0] == Pace(
        "3.2", START + timedelta(days=5), {10: 0, 50: 0}, before_history=False
    )


def test_adoption_curves_give_each_day_s_share_since_first_seen() -> None:
    history = adoption_curve()
    pace = decisions.upgrade_pace(history, "core")
    curves = decisions.adoption_curves(history, "core", pace[:2], 365)
    assert curves == [
        Curve("3.3", START + timedelta(days=10), (0.02, None, 0.06)),
        Curve(
            "3.2",
            START + timedelta(days=1),
            # days 1 to 12; days 2, 5 to 8 and 11 have no summary; (other) is left out
            (0.05, None, 0.12, 0.08, None, None, None, None, 0.45, 0.5, None, 0.64),
        ),
    ]
    # The curve crosses 10 % and 50 % on the days the pace says.
    shares = curves[1].shares
    assert next(i for i, x in enumerate(shares) if x is not None and x >= 0.1) == 2
    assert next(i for i, x in enumerate(shares) if x is not None and x >= 0.5) == 9
    # At most ``days`` days after first seen.
    short = decisions.adoption_curves(history, "core", pace[1:2], 3)
    assert short[0].shares == (0.05, None, 0.12, 0.08)


def test_adoption_curves_without_the_component_have_no_share() -> None:
    history = [
        day(0, {"core": {"3.1": 4}}),
        day(1, {"rpm": {"3.19": 5}}),  # a summary without core: no share that day
        day(2, {"core": {"3.1": 1, "3.2": 3}}),
    ]
    pace = decisions.upgrade_pace(history, "core")
    assert decisions.adoption_curves(history, "core", pace, 30) == [
        Curve("3.2", START + timedelta(days=2), (0.75,)),
        Curve("3.1", START, (1.0, None, 0.25)),
    ]
    assert decisions.adoption_curves([], "core", pace, 30) == []


def test_upgrade_pace_of_nothing() -> None:
    assert decisions.upgrade_pace([], "core") == []
    assert decisions.upgrade_pace(adoption_curve(), "rpm") == []


# -- PostgreSQL -----------------------------------------------------------------------------

PG = {"0": 10, "90620": 5, "100007": 5, "130004": 20, "130010": 10, "150002": 50, FOLDED: 3}


def test_postgresql_versions_ascending_with_unknown_and_folded_apart() -> None:
    pg = decisions.postgresql_day(PG)
    assert (pg.known_systems, pg.unknown_systems, pg.other_systems) == (90, 10, 3)
    expected = [
        ("9.6.20", 90620, 5, 5, 5),
        ("10.7", 100007, 5, 5, 10),
        ("13.4", 130004, 20, 20, 30),
        ("13.10", 130010, 10, 10, 40),
        ("15.2", 150002, 50, 50, 90),
    ]
    assert list(pg.versions) == [
        PostgresqlVersion(label, num, n, pytest.approx(share / 90), pytest.approx(older / 90))
        for label, num, n, share, older in expected
    ]
    assert pg.versions[-1].share_this_or_older == 1.0


def test_candidate_minimums_are_the_major_versions_present() -> None:
    assert decisions.candidate_minimums(PG) == [90600, 100000, 130000, 150000]
    assert [decisions.major_label(m) for m in decisions.candidate_minimums(PG)] == [
        "9.6",
        "10",
        "13",
        "15",
    ]


def test_share_below_a_minimum_leaves_unknown_versions_out() -> None:
    assert decisions.minimums(PG) == [
        Minimum("9.6", 90600, 0, 0.0),
        Minimum("10", 100000, 5, pytest.approx(5 / 90)),
        Minimum("13", 130000, 10, pytest.approx(10 / 90)),
        Minimum("15", 150000, 40, pytest.approx(40 / 90)),
    ]
    # A minimum that is not present on the day: every known system below it is counted.
    assert decisions.below(PG, 140000) == Minimum("14", 140000, 40, pytest.approx(40 / 90))
    # A system on the minimum's first release (14.0) is not below it.
    assert decisions.below({"140000": 3, "130004": 1}, 140000) == Minimum("14", 140000, 1, 0.25)
    # Only unknown versions: nothing is below, and there is no share to give.
    assert decisions.below({"0": 7}, 130000) == Minimum("13", 130000, 0, None)
    assert decisions.minimums({"0": 7}) == []
    assert decisions.minimums({}) == []


def test_share_below_each_minimum_over_time() -> None:
    history = [
        day(0, postgresql={"120015": 60, "130004": 40}),
        day(1),  # no PostgreSQL figures that day (an older summary): not a day of the series
        day(2, postgresql={"0": 50, "120015": 25, "130004": 25, "150002": 50}),
        day(3, postgresql={"0": 4}),
    ]
    candidates = decisions.candidate_minimums(history[2].metrics["postgresql_version"])
    assert candidates == [120000, 130000, 150000]
    assert decisions.below_over_time(history, candidates) == [
        (START, [0.0, 0.6, 1.0]),
        (START + timedelta(days=2), [0.0, 0.25, 0.5]),
        (START + timedelta(days=3), [None, None, None]),
    ]


# -- numbers for people ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0, "0"),
        (0.4, "0"),
        (0.5, "1"),
        (949.5, "950"),
        (950, "950"),
        (999.4, "999"),
        (999.5, "1k"),  # rounds up into the next unit
        (1000, "1k"),
        (1049.9, "1k"),
        (1050, "1.1k"),  # halves round up
        (1234, "1.2k"),
        (9949, "9.9k"),
        (9950, "10k"),
        (12345, "12k"),
        (99499, "99k"),
        (99500, "100k"),
        (999499, "999k"),
        (999500, "1M"),  # not "1000k"
        (1_234_567, "1.2M"),
        (12_500_000, "13M"),
        (999_500_000, "1G"),
    ],
)
def test_people_rounding(number: float, text: str) -> None:
    assert people(number) == text


@pytest.mark.parametrize(
    ("share", "text"),
    [
        (None, "n/a"),
        (0, "0.0%"),
        (0.0004, "<0.1%"),  # one decimal would say nobody
        (0.0005, "0.1%"),
        (7 / 87, "8.0%"),
        (1 / 3, "33.3%"),
        (0.5, "50.0%"),
        (0.9994, "99.9%"),
        (0.9995, ">99.9%"),  # one decimal would say everybody
        (1.0, "100.0%"),
    ],
)
def test_shares_for_people(share: float | None, text: str) -> None:
    assert decisions.percent(share) == text


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_people_rounding_refuses_what_is_not_a_count(bad: float) -> None:
    with pytest.raises(ValueError, match="not a count"):
        people(bad)


# -- medians and percentiles of bucket counts ---------------------------------------------


def labels(counts: dict[str, int]) -> tuple[str | None, ...]:
    """The median and the 90th percentile of ``counts`` as people read them."""
    return tuple(None if b is None else b.label for b in decisions.percentiles(counts))


def test_percentiles_of_exact_buckets() -> None:
    # 10 systems: 1, 1, 1, 2, 2, 2, 2, 3, 3, 4 -> median between the 5th and 6th (both 2), the
    # 90th percentile between the 9th (3) and the 10th (4)
    assert labels({"1": 3, "2": 4, "3": 2, "4": 1}) == ("2", "3\u20134")
    assert labels({"0": 1, "1": 8, "2": 1}) == ("1", "1\u20132")  # nearly all on 1


def test_a_median_on_a_bucket_boundary_spans_both_buckets() -> None:
    # 10 systems, 5 on 8 and 5 in 9-16: the median lies between 8 and something in 9-16.
    assert decisions.percentile({"8": 5, "9-16": 5}, 50) == Bucket(8, 16)
    assert labels({"8": 5, "9-16": 5})[0] == "8\u201316"
    # One system more in 9-16 puts both middle systems there.
    assert labels({"8": 5, "9-16": 6})[0] == "9\u201316"
    assert labels({"1": 5, "2": 5})[0] == "1\u20132"


def test_percentiles_of_nothing_are_none() -> None:
    assert decisions.percentiles({}) == (None, None)
    assert decisions.percentiles({"3": 0}) == (None, None)  # a zero count is nobody
    # Too few systems to publish in order: no percentile rather than a guess.
    assert decisions.percentiles({"(other)": 3}) == (None, None)


def test_one_bucket_is_every_percentile() -> None:
    assert labels({"9-16": 40}) == ("9\u201316", "9\u201316")
    assert labels({"3": 1}) == ("3", "3")  # a single system is its own median


def test_all_in_the_open_top_bucket() -> None:
    assert decisions.percentiles({"33+": 7}) == (Bucket(33, None), Bucket(33, None))
    assert labels({"33+": 7}) == ("\u2265 33", "\u2265 33")
    # Between a closed bucket and the open one: from the first's low, no end.
    assert labels({"0-4": 5, "5+": 5}) == ("\u2265 0", "\u2265 5")


def test_the_ninetieth_percentile_of_a_long_tail() -> None:
    counts = {"1": 50, "2": 30, "3-4": 9, "5-8": 6, "9-16": 4, "17+": 1}  # 100, as published
    # ranks from 0: median between 49 and 50 (1 and 2), 90th between 89.1's neighbours 89
    # (3-4 ends at 88) and 90: both in the merged bucket 5-8
    assert labels(counts) == ("1\u20132", "5\u20138")
    assert decisions.percentile(counts, 0) == Bucket(1, 1)
    assert decisions.percentile(counts, 100) == Bucket(17, None)


@given(st.dictionaries(st.integers(0, 300), st.integers(1, 40), min_size=1))
def test_a_percentile_holds_the_exact_one(values: dict[int, int]) -> None:
    """Whatever the systems' numbers, the bucket reported holds numpy's percentile of them."""
    numbers = sorted(n for value, count in values.items() for n in [value] * count)
    counts = buckets.count_map(values.items())
    for percent in (50, 90):
        h = (len(numbers) - 1) * percent / 100
        low, high = numbers[math.floor(h)], numbers[math.ceil(h)]
        exact = low + (h - math.floor(h)) * (high - low)
        found = decisions.percentile(counts, percent)
        assert found is not None
        assert found.low <= exact and (found.high is None or exact <= found.high)


def test_percentiles_over_time_skip_days_without_the_counts() -> None:
    days = [day(n) for n in range(3)]
    days[1].metrics["online_workers_buckets"] = {"processes": {"2": 9}, "hosts": {}}
    days[2].metrics["online_workers_buckets"] = {"processes": {"1": 5, "2": 5}, "hosts": {}}
    assert decisions.percentiles_over_time(days, "online_workers_buckets", "processes") == [
        (days[1].date, (Bucket(2, 2), Bucket(2, 2))),
        (days[2].date, (Bucket(1, 2), Bucket(2, 2))),
    ]
    assert decisions.percentiles_over_time(days, "online_workers_buckets", "hosts") == []
