"""For any day of submissions, the summary's numbers add up."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from builder import buckets
from builder.summaries.publish import first_publishing_error
from builder.summaries.sources import DayRows
from builder.summaries.summarize import count_day, summarize_day
from builder.summaries.summary import first_disagreement

count = st.one_of(st.none(), st.integers(0, 50))
submission = st.fixed_dictionaries(
    {
        "age_days": st.integers(0, 40),
        "online_content_apps": st.one_of(
            st.none(), st.fixed_dictionaries({"processes": count, "hosts": count})
        ),
        "online_workers": st.one_of(
            st.none(), st.fixed_dictionaries({"processes": count, "hosts": count})
        ),
        "components": st.dictionaries(
            st.sampled_from(["core", "rpm", "file", "container"]),
            st.from_regex(r"[1-3]\.[0-9]{1,2}\.[0-9]", fullmatch=True),
            max_size=4,
        ).map(lambda d: [{"name": n, "version": v} for n, v in d.items()]),
        "postgresql_version": st.sampled_from([0, 90624, 130004, 150002]),
        "rbac_stats": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {
                    k: count
                    for k in (
                        "users",
                        "groups",
                        "domains",
                        "custom_access_policies",
                        "custom_roles",
                    )
                }
            ),
        ),
    }
)


def day_rows(submissions: list[dict[str, Any]]) -> DayRows:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE rows (data TEXT)")
    conn.executemany("INSERT INTO rows VALUES (?)", [(json.dumps(s),) for s in submissions])
    return DayRows(
        conn, "(SELECT json_extract(data, '$.age_days') AS age_days, data FROM rows)", ()
    )


def mean(values: list[int | None]) -> float | None:
    sent = [v for v in values if v is not None]
    return sum(sent) / len(sent) if sent else None


@settings(max_examples=200, deadline=None)
@given(st.lists(submission, max_size=40), st.integers(0, 3))
def test_counts_add_up(submissions: list[dict[str, Any]], min_age: int) -> None:
    summary = count_day(day_rows(submissions), date(2026, 11, 27), "prod", min_age).summary
    persistent = [s for s in submissions if s["age_days"] >= min_age]
    assert summary.systems == len(submissions)
    assert sum(summary.age_count.values()) == summary.systems
    assert summary.persistent_systems == len(persistent)
    for key in ("xy_component", "xyz_component"):
        for name, versions in summary.metrics[key].items():
            sent = sum(any(c["name"] == name for c in s["components"]) for s in persistent)
            assert sum(versions.values()) == sent
    assert sum(summary.metrics["postgresql_version"].values()) == len(persistent)
    for part in ("online_workers", "online_content_apps"):
        for field in ("processes", "hosts"):
            expected = mean([(s[part] or {}).get(field) for s in persistent])
            got = summary.metrics[part][f"{field}__avg"]
            assert (got is None) == (expected is None)
            if expected is not None:
                assert abs(got - expected) < 1e-9
    for measure, counts in summary.metrics["rbac_stats"].items():
        sent = [s for s in persistent if (s["rbac_stats"] or {}).get(measure) is not None]
        assert sum(counts.values()) == len(sent)
    core_by = summary.metrics["core_xy_by_component"]
    assert "core" not in core_by
    for name, versions in summary.metrics["xy_component"].items():
        if name != "core":  # its systems, by the core X.Y they run or "(no core)"
            assert sum(core_by[name].values()) == sum(versions.values())
            without = sum(
                any(c["name"] == name for c in s["components"])
                and not any(c["name"] == "core" for c in s["components"])
                for s in persistent
            )
            assert core_by[name].get("(no core)", 0) == without
    for part in ("online_workers", "online_content_apps"):
        for field in ("processes", "hosts"):
            sent = [(s[part] or {}).get(field) for s in persistent]
            counts = summary.metrics[f"{part}_buckets"][field]
            assert sum(counts.values()) == sum(v is not None for v in sent)
            for value in sent:
                if value is not None:  # each system is in the one bucket that holds it
                    assert buckets.bucket_of(value).key in counts


@settings(max_examples=200, deadline=None)
@given(st.lists(submission, max_size=40), st.integers(0, 3), st.integers(1, 8))
def test_what_is_published_keeps_the_totals_and_breaks_no_rule(
    submissions: list[dict[str, Any]], min_age: int, min_count: int
) -> None:
    day = date(2026, 11, 27)
    counted = count_day(day_rows(submissions), day, "prod", min_age).summary
    published = summarize_day(day_rows(submissions), day, "prod", min_age, min_count)
    assert (published.systems, published.persistent_systems, published.age_count) == (
        counted.systems,
        counted.persistent_systems,
        counted.age_count,
    )
    for key in (
        "xy_component",
        "xyz_component",
        "postgresql_version",
        "rbac_stats",
        "core_xy_by_component",
        "online_workers_buckets",
        "online_content_apps_buckets",
    ):
        assert total(published.metrics[key]) == total(counted.metrics[key]), key
    for key in ("xy_component", "xyz_component", "core_xy_by_component"):
        for name, versions in published.metrics[key].items():
            if name != "(other)":  # a component published as itself keeps its exact total
                assert sum(versions.values()) == sum(counted.metrics[key][name].values())
                assert sum(versions.values()) >= min_count
    if min_count >= 5:  # at least prod's minimum: check-summaries accepts the file
        assert first_publishing_error(published.to_dict()) is None
    assert first_disagreement(published.to_dict()) is None


def total(value: Any) -> int:
    """Every count in a (nested) map of counts."""
    if isinstance(value, dict):
        return sum(total(v) for v in value.values())
    return int(value)
