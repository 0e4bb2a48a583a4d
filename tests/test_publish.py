"""The publishing rules of SPEC §8 on hand-made days: whole outputs, and the check that reads
them back. tests/test_published_privacy.py runs them end to end."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder import buckets, components, metrics
from builder.components import OTHER
from builder.metrics import (
    METRICS,
    Approval,
    CountBuckets,
    CountBy,
    CountEach,
    Exact,
    FoldComponents,
    FoldSmall,
    MeanOf,
    MergeBuckets,
    Metric,
    NullMean,
    Versions,
    VersionsAlongside,
    default_small_cells,
)
from builder.site import decisions
from builder.site.pages import KNOWN_COMPONENTS
from builder.summaries import publish, summary
from builder.summaries.publish import (
    MinCountError,
    first_publishing_error,
    fold_metrics,
    min_count_for,
    publishable,
)
from builder.summaries.summary import Summary

NO_RBAC: dict[str, dict[str, int]] = {m: {} for m in metrics.RBAC_MEASURES}
NULL_MEANS = {"processes__avg": None, "hosts__avg": None}


def counted(**changes: Any) -> dict[str, Any]:
    """A day's metric values as counted: 40 persistent systems, every value ``changes`` gives."""
    values: dict[str, Any] = {
        "xy_component": {},
        "xyz_component": {},
        "postgresql_version": {},
        "online_workers": NULL_MEANS,
        "online_content_apps": NULL_MEANS,
        "rbac_stats": NO_RBAC,
    }
    return {**values, **changes}


# -- components ----------------------------------------------------------------------------


def test_unreviewed_and_small_components_fold_whole_and_small_versions_fold_inside() -> None:
    folded = fold_metrics(
        counted(
            xy_component={
                "core": {"3.21": 30, "3.22": 4, "3.9": 1},
                "rpm": {"3.19": 6},
                "acme_private": {"1.0": 9},  # not reviewed, however many run it
                "cookbook": {"0.1": 2, "0.2": 2},  # reviewed, but 4 systems in all
            },
            xyz_component={
                "core": {"3.21.0": 20, "3.21.1": 10, "3.22.0": 4, "3.9.9": 1},
                "rpm": {"3.19.4": 3, "3.19.5": 3},
                "acme_private": {"1.0.0+build7": 9},
                "cookbook": {"0.1.0": 2, "0.2.0": 2},
            },
        ),
        5,
        40,
    )
    assert folded == counted(
        xy_component={
            "core": {"3.21": 30, "(other)": 5},
            "rpm": {"3.19": 6},
            "(other)": {"(other)": 13},  # acme_private's 9 and cookbook's 4
        },
        xyz_component={
            "core": {"3.21.0": 20, "3.21.1": 10, "(other)": 5},
            "rpm": {"(other)": 6},  # kept: 6 systems run rpm, none of its versions has 5
            "(other)": {"(other)": 13},
        },
    )


def test_a_component_folded_in_one_map_is_folded_in_the_other() -> None:
    """Imported history may count a component differently in X.Y and X.Y.Z: the smaller count
    decides for both, so that neither map can be subtracted from the other."""
    folded = fold_metrics(
        counted(
            xy_component={"core": {"3.21": 20}, "rpm": {"3.19": 5}},
            xyz_component={"core": {"3.21.0": 20}, "rpm": {"3.19.4": 4}},
        ),
        5,
        40,
    )
    assert folded["xy_component"] == {"core": {"3.21": 20}, "(other)": {"(other)": 5}}
    assert folded["xyz_component"] == {"core": {"3.21.0": 20}, "(other)": {"(other)": 4}}


def test_on_dev_only_names_fold() -> None:
    day = counted(
        xy_component={"core": {"3.21": 1}, "zz_private": {"0.1": 1}, "file": {"1.0": 0}},
        postgresql_version={130004: 1, 0: 0},
        rbac_stats={**NO_RBAC, "users": {1: 1}},
    )
    assert fold_metrics(day, 1, 1) == counted(
        xy_component={"core": {"3.21": 1}, "(other)": {"(other)": 1}},  # a zero count is dropped
        postgresql_version={130004: 1},
        rbac_stats={**NO_RBAC, "users": {1: 1}},
    )


def test_core_versions_by_component_fold_with_the_component_versions() -> None:
    """A component folded in X.Y or X.Y.Z is folded whole in the core versions map too, and
    within a kept one a core X.Y (or "(no core)") below the minimum is summed as "(other)"."""
    folded = fold_metrics(
        counted(
            xy_component={
                "core": {"3.21": 30},
                "rpm": {"3.19": 12},
                "file": {"1.1": 6},
                "acme_private": {"1.0": 9},
            },
            xyz_component={
                "core": {"3.21.0": 30},
                "rpm": {"3.19.4": 12},
                "file": {"1.1.0": 4, "1.1.1": 2},
                "acme_private": {"1.0.0": 9},
            },
            core_xy_by_component={
                "rpm": {"3.21": 8, "3.20": 3, "(no core)": 1},
                "file": {"3.21": 6},
                "acme_private": {"3.21": 9},
            },
        ),
        5,
        40,
    )
    assert folded["core_xy_by_component"] == {
        "rpm": {"3.21": 8, "(other)": 4},
        "file": {"3.21": 6},  # 6 systems in every map: kept, as in X.Y and X.Y.Z
        "(other)": {"(other)": 9},  # never a private name, whatever its count
    }
    shrunk = fold_metrics(
        counted(
            xy_component={"core": {"3.21": 30}, "rpm": {"3.19": 5}},
            xyz_component={"core": {"3.21.0": 30}, "rpm": {"3.19.4": 4}},  # imported: fewer
            core_xy_by_component={"rpm": {"3.21": 5}},
        ),
        5,
        40,
    )
    assert shrunk["core_xy_by_component"] == {"(other)": {"(other)": 5}}
    assert shrunk["xy_component"]["(other)"] == {"(other)": 5}


# -- buckets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "published"),
    [
        # nothing small: as counted
        ({"1": 40, "2": 30, "9-16": 5}, {"1": 40, "2": 30, "9-16": 5}),
        # a small top merges down and opens; a small bottom merges up and starts at 0
        ({"0": 2, "1": 40, "2": 30, "3": 3}, {"0-1": 42, "2+": 33}),
        ({"1": 2, "2": 40, "3": 30}, {"0-2": 42, "3": 30}),
        # the median's bucket too small: it joins its smaller neighbour (the lower on a tie)
        ({"1": 100, "2": 2, "3": 100}, {"1-2": 102, "3": 100}),
        ({"1": 100, "2": 2, "3": 99}, {"1": 100, "2-3": 101}),
        # a small bucket beside the median's joins it
        ({"1": 100, "2": 2, "3": 50}, {"1-2": 102, "3": 50}),
        # runs from each end up to the median's bucket
        (
            {"1": 20, "2": 56, "3": 2, "5": 8, "9-16": 2, "65-128": 1},
            {"1": 20, "2-3": 58, "5+": 11},
        ),
        (
            {"0": 1, "1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "9-16": 3, "17-32": 20,
             "33-64": 1, "129-256": 1},
            {"0-4": 5, "5+": 26},
        ),
        # a big bucket at the top that is large enough keeps its end
        ({"1": 3, "2": 10, "513-1024": 6}, {"0-2": 13, "513-1024": 6}),
        # fewer than the minimum in all: no bucket at all
        ({"1": 2, "33-64": 2}, {"(other)": 4}),
        ({}, {}),
        ({"3": 0, "4": 7}, {"4": 7}),  # a zero count is dropped
    ],
)  # fmt: skip
def test_small_buckets_merge_towards_the_median(
    counts: dict[str, int], published: dict[str, int]
) -> None:
    assert publish.merge_small_buckets(counts, 5) == published
    assert publish.merge_small_buckets(published, 5) == published  # merging twice: no change


def test_buckets_are_merged_per_field_and_only_on_prod() -> None:
    day = counted(
        online_workers_buckets={"processes": {"1": 30, "2": 4}, "hosts": {"1": 33, "3": 1}},
        online_content_apps_buckets={"processes": {}, "hosts": {"2": 3}},
    )
    assert fold_metrics(day, 5, 40) == counted(
        online_workers_buckets={"processes": {"1+": 34}, "hosts": {"1+": 34}},
        online_content_apps_buckets={"processes": {}, "hosts": {"(other)": 3}},
    )
    assert fold_metrics(day, 1, 40) == day  # dev: every count is published


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.integers(0, 5000), st.integers(0, 30)),
    st.integers(1, 12),
)
def test_merged_buckets_pass_the_check_and_keep_order_and_percentiles(
    values: dict[int, int], min_count: int
) -> None:
    """For any counts: the published buckets hold every system, none below the minimum, and
    each percentile read from them holds the percentile read from the buckets as counted."""
    counted_map = buckets.count_map(values.items())
    merged = publish.merge_small_buckets(counted_map, min_count)
    assert sum(merged.values()) == sum(counted_map.values())
    data = published_file(online_workers_buckets={"processes": merged, "hosts": {}})
    if min_count >= 5:
        assert first_publishing_error(data) is None
    assert summary.first_content_error(data, Path("2026-11-27.json")) is None
    if OTHER in merged:
        assert list(merged) == [OTHER] and merged[OTHER] < min_count
        return
    for percent in (50, 90):
        exact, wide = (decisions.percentile(m, percent) for m in (counted_map, merged))
        if exact is None:
            assert wide is None
            continue
        assert wide is not None and wide.low <= exact.low
        assert wide.high is None or (exact.high is not None and exact.high <= wide.high)


# -- counts and means ----------------------------------------------------------------------


def test_counts_below_the_minimum_are_summed_as_other() -> None:
    day = counted(
        postgresql_version={0: 2, 130004: 30, 140005: 4, 150002: 5},
        rbac_stats={**NO_RBAC, "users": {1: 20, 2: 3, 1000: 1}, "groups": {0: 24}},
    )
    assert fold_metrics(day, 5, 40) == counted(
        postgresql_version={130004: 30, 150002: 5, "(other)": 6},
        rbac_stats={**NO_RBAC, "users": {1: 20, "(other)": 4}, "groups": {0: 24}},
    )


def test_means_of_too_few_systems_are_null() -> None:
    day = counted(
        online_workers={"processes__avg": 2.5, "hosts__avg": 1.0},
        online_content_apps={"processes__avg": 3.0, "hosts__avg": 1.5},
    )
    behind = {"online_workers": {"processes": 5, "hosts": 4}}  # content apps: not known
    assert fold_metrics(day, 5, 40, behind) == counted(
        online_workers={"processes__avg": 2.5, "hosts__avg": None},
        online_content_apps={"processes__avg": 3.0, "hosts__avg": 1.5},  # 40 persistent bound it
    )
    assert fold_metrics(day, 5, 4) == counted()  # imported history: 4 persistent systems


def test_a_day_that_needs_no_folding_is_published_as_counted() -> None:
    day = counted(
        xy_component={"core": {"3.21": 30}},
        xyz_component={"core": {"3.21.0": 30}},
        postgresql_version={130004: 30},
        online_workers={"processes__avg": 2.0, "hosts__avg": 1.0},
        rbac_stats={**NO_RBAC, "users": {1: 30}},
    )
    assert fold_metrics(day, 5, 30) == day


def test_publishable_folds_the_metrics_and_keeps_the_totals() -> None:
    day = Summary(
        date=date(2026, 11, 27),
        deployment="prod",
        systems=12,
        persistent_systems=9,
        age_count={0: 3, 1: 1, 40: 8},
        metrics=counted(xy_component={"core": {"3.21": 8, "3.22": 1}}),
        duplicate_submissions=1,
        ignored_submissions=2,
    )
    assert publishable(day, 5) == replace(
        day, metrics=counted(xy_component={"core": {"3.21": 8, "(other)": 1}})
    )


def test_folding_twice_changes_nothing() -> None:
    day = counted(
        xy_component={"core": {"3.21": 30, "3.22": 4}, "acme": {"1.0": 2}},
        postgresql_version={0: 2, 130004: 30},
    )
    once = fold_metrics(day, 5, 40)
    assert fold_metrics(once, 5, 40) == once


# -- a metric states its rule ----------------------------------------------------------------


def test_each_aggregate_has_a_default_rule_and_the_metrics_state_theirs() -> None:
    assert default_small_cells(CountBy("x")) == FoldSmall()
    assert default_small_cells(CountEach("x", ("a",))) == FoldSmall()
    assert default_small_cells(MeanOf("x", ("a",))) == NullMean()
    assert default_small_cells(Versions("x")) == FoldComponents()
    assert default_small_cells(VersionsAlongside("x", "core")) == FoldComponents()
    assert default_small_cells(CountBuckets("x", ("a",))) == MergeBuckets()
    assert {m.key: type(m.small_cell_rule).__name__ for m in METRICS} == {
        "xy_component": "FoldComponents",
        "xyz_component": "FoldComponents",
        "postgresql_version": "FoldSmall",
        "online_workers": "NullMean",
        "online_content_apps": "NullMean",
        "rbac_stats": "FoldSmall",
        "core_xy_by_component": "FoldComponents",
        "online_workers_buckets": "MergeBuckets",
        "online_content_apps_buckets": "MergeBuckets",
    }


EXACT = Metric(
    key="storage_backend",
    title="Storage backends",
    aggregate=CountBy("storage_backend"),
    approval=Approval(proposal="https://example.org/proposals/storage", since="3.90"),
    small_cells=Exact("one of a handful of class names that ship with pulpcore"),
)
WRONG = Metric(
    key="odd",
    title="Odd",
    aggregate=CountBy("odd"),
    approval=Approval(proposal=None, since="3.90", no_proposal="A test metric."),
    small_cells=NullMean(),
)


def test_an_exact_metric_is_published_as_counted_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(publish, "METRICS", (*METRICS, EXACT))
    day = counted(storage_backend={"FileSystem": 1, "S3Boto3Storage": 2})
    assert fold_metrics(day, 5, 40)["storage_backend"] == {"FileSystem": 1, "S3Boto3Storage": 2}
    data = {**published_file(), "storage_backend": {"FileSystem": 1}}
    assert first_publishing_error(data) is None
    assert publish.describe(EXACT) == (
        "Published as counted: one of a handful of class names that ship with pulpcore"
    )


def test_a_rule_that_does_not_fit_its_aggregate_is_a_definition_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(publish, "METRICS", (*METRICS, WRONG))
    with pytest.raises(TypeError, match="metric odd: NullMean applies to MeanOf, not CountBy"):
        fold_metrics(counted(odd={"a": 1}), 5, 40)


# -- the minimum count -----------------------------------------------------------------------


def test_the_minimum_count_is_the_deployments_or_higher() -> None:
    assert (min_count_for("prod"), min_count_for("dev")) == (5, 1)
    assert (min_count_for("prod", 10), min_count_for("dev", 3)) == (10, 3)
    with pytest.raises(MinCountError, match="--min-count 4 is below the prod minimum of 5"):
        min_count_for("prod", 4)


# -- the check -------------------------------------------------------------------------------


def published_file(deployment: str = "prod", **changes: Any) -> dict[str, Any]:
    """A summary file's content that breaks no rule, with ``changes``."""
    day = Summary(
        date=date(2026, 11, 27),
        deployment=deployment,
        systems=40,
        persistent_systems=30,
        age_count={0: 10, 30: 30},
        metrics=counted(
            xy_component={"core": {"3.21": 25, "(other)": 5}, "(other)": {"(other)": 3}},
            xyz_component={"core": {"3.21.0": 25, "(other)": 5}, "(other)": {"(other)": 3}},
            postgresql_version={130004: 28, "(other)": 2},
            online_workers={"processes__avg": 2.0, "hosts__avg": 1.0},
        ),
    )
    return {**day.to_dict(), **changes}


def test_a_published_file_breaks_no_rule() -> None:
    assert first_publishing_error(published_file()) is None
    assert summary.first_schema_error(published_file()) is None


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"xy_component": {"core": {"3.21": 25}, "acme": {"1.0": 50}}},
            "at xy_component/acme: 'acme' is not a reviewed component name",
        ),
        (
            {"xyz_component": {"core": {"3.21.0": 25, "3.21.1": 4}}},
            "at xyz_component/core/3.21.1: 4 systems, below the prod minimum of 5",
        ),
        (
            {"xy_component": {"core": {"(other)": 4}}},
            "at xy_component/core: 4 systems in all, below the prod minimum of 5",
        ),
        (
            {"xy_component": {"(other)": {"0.1": 3}}},
            'at xy_component/(other)/0.1: the component "(other)" holds only the version',
        ),
        (
            {"postgresql_version": {"130004": 28, "90624": 2}},
            "at postgresql_version/90624: 2 systems, below the prod minimum of 5",
        ),
        (
            {"rbac_stats": {**NO_RBAC, "domains": {"0": 29, "3": 1}}},
            "at rbac_stats/domains/3: 1 system, below the prod minimum of 5",
        ),
        (
            {"persistent_systems": 4},
            "at online_workers/processes__avg: a mean of at most 4 persistent systems",
        ),
        (
            {"core_xy_by_component": {"core": {"3.21": 25}, "acme": {"3.21": 9}}},
            "at core_xy_by_component/acme: 'acme' is not a reviewed component name",
        ),
        (
            {"core_xy_by_component": {"rpm": {"3.21": 6, "(no core)": 2}}},
            "at core_xy_by_component/rpm/(no core): 2 systems, below the prod minimum of 5",
        ),
        (
            {"online_workers_buckets": {"processes": {"1": 20, "9-16": 3}, "hosts": {}}},
            "at online_workers_buckets/processes/9-16: 3 systems, below the prod minimum of 5;"
            " a published summary merges the bucket with its neighbours",
        ),
        (
            {"online_content_apps_buckets": {"processes": {}, "hosts": {"1": 9, "(other)": 2}}},
            'at online_content_apps_buckets/hosts/(other): "(other)" stands alone',
        ),
    ],
)
def test_each_kind_of_violation_is_named_with_its_key(
    changes: dict[str, Any], problem: str
) -> None:
    message = first_publishing_error(published_file(**changes))
    assert message is not None and message.startswith(problem), message
    assert "\n" not in message


def test_dev_allows_counts_of_one_but_not_unreviewed_names() -> None:
    small = {"xy_component": {"core": {"3.21": 1}}, "postgresql_version": {"0": 1}}
    assert first_publishing_error(published_file("dev", **small)) is None
    assert first_publishing_error(published_file("prod", **small)) is not None
    private = published_file("dev", xy_component={"zz_private_plugin": {"0.1": 1}})
    assert "'zz_private_plugin' is not a reviewed" in str(first_publishing_error(private))


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["core", "rpm", "file", "acme", "zz_private", "(other)"]),
        st.dictionaries(st.sampled_from(["1.0", "1.1", "2.0", "(other)"]), st.integers(0, 12)),
    ),
    st.dictionaries(st.integers(0, 150002), st.integers(0, 12)),
    st.integers(5, 9),
)
def test_any_folded_day_passes_the_check_with_its_totals(
    versions: dict[str, dict[str, int]], pg: dict[int, int], min_count: int
) -> None:
    day = counted(xy_component=versions, xyz_component=versions, postgresql_version=pg)
    folded = fold_metrics(day, min_count, 30)
    data = published_file(**replace_metrics(folded))
    assert first_publishing_error(data) is None
    assert summary.first_schema_error(data) is None
    for key in ("xy_component", "xyz_component"):
        assert sum(map(sum_values, folded[key].values())) == sum(map(sum_values, versions.values()))
    assert sum(folded["postgresql_version"].values()) == sum(pg.values())


def sum_values(counts: dict[str, int]) -> int:
    return sum(counts.values())


def replace_metrics(values: dict[str, Any]) -> dict[str, Any]:
    """Metric values as their file writes them (string keys, sorted)."""
    day = Summary(date(2026, 11, 27), "prod", 40, 30, {0: 10, 30: 30}, values)
    data = day.to_dict()
    return {m.key: data[m.key] for m in METRICS if m.key in data}


# -- the reviewed list ---------------------------------------------------------------------


OLD_SITE_PLUGINS = (
    "ansible", "certguard", "container", "cookbook", "core", "deb", "file",
    "galaxy", "gem", "maven", "ostree", "python", "rpm",
)  # fmt: skip


def test_the_reviewed_list_is_well_formed_and_keeps_the_old_sites_plugins() -> None:
    names = components.names()
    assert list(names) == sorted(set(names))
    assert set(OLD_SITE_PLUGINS) <= set(names)
    for entry in components.COMPONENTS:
        assert re.fullmatch(r"[a-z0-9_]{1,64}", entry.name), entry  # what the receiver accepts
        assert entry.url.startswith("https://github.com/") and entry.title and entry.source
        assert f'label = "{entry.name}"' in entry.source  # the evidence names the label
    assert components.OTHER not in names and not components.is_reviewed(components.OTHER)
    assert components.component("core").title == "Pulpcore"
    assert names == KNOWN_COMPONENTS  # the site draws the same list


def test_the_docs_list_the_same_components() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "metrics.md").read_text()
    rows = re.findall(r"^\| ([^|]+) \| `([a-z0-9_]+)` \| (https://\S+) \|$", text, re.M)
    assert sorted(rows) == sorted((c.title, c.name, c.url) for c in components.COMPONENTS)
