"""What a summary file may publish (SPEC §8): only reviewed component names, no small counts.

:func:`publishable` is the one place the rules are applied: ``summarize`` and
``import-legacy`` pass every day through it just before its file is written, so git history,
the site, its downloads and the API never hold a private plugin name or a lone system.
:func:`first_publishing_error` is the same rules read back: ``check-summaries`` and ``build``
refuse a file that breaks them, so a hand-edited or old file cannot slip through review.

Each metric states its rule (``builder.metrics.Metric.small_cells``): counts fold into
``"(other)"``, components fold whole into the component ``"(other)"``, means of too few
systems become null, small buckets merge with their neighbours towards the median, or
(reviewed, with a reason) nothing folds. The totals ``systems`` and
``persistent_systems`` and the ages of ``age_count`` are never folded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from builder import buckets
from builder.buckets import Bucket
from builder.components import OTHER, is_reviewed
from builder.metrics import (
    METRICS,
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
    SmallCells,
    Versions,
    VersionsAlongside,
)

if TYPE_CHECKING:
    from builder.summaries.summary import Summary

# The smallest count a published cell other than "(other)" may hold, per deployment. Dev keeps
# every count (its systems are developers' and CI's), but names are reviewed there too.
DEFAULT_MIN_COUNT = {"prod": 5, "dev": 1}
KEY_CHARS = 80  # a key quoted in a problem is cut to this many characters

MeanSystems = Mapping[str, Mapping[str, int]]  # MeanOf key -> field -> systems averaged


class MinCountError(ValueError):
    """A minimum count the deployment's files would be refused with; nothing was written."""


def min_count_for(deployment: str, given: int | None = None) -> int:
    """``given``, or the deployment's default; MinCountError for one below the default, since
    check-summaries and build refuse every file written with it."""
    floor = DEFAULT_MIN_COUNT[deployment]
    if given is None:
        return floor
    if given < floor:
        raise MinCountError(
            f"--min-count {given} is below the {deployment} minimum of {floor}: check-summaries"
            " and build refuse a published count below it (SPEC §8); nothing was written"
        )
    return given


# -- applying the rules ----------------------------------------------------------------------


def publishable(
    summary: Summary, min_count: int, mean_systems: MeanSystems | None = None
) -> Summary:
    """``summary`` as it may be published, every metric folded by its rule at ``min_count``.

    ``mean_systems`` gives the number of systems behind each mean; without it (imported
    history) the day's persistent systems stand in for it.
    """
    folded = fold_metrics(summary.metrics, min_count, summary.persistent_systems, mean_systems)
    return replace(summary, metrics=folded)


def fold_metrics(
    metrics: Mapping[str, Any],
    min_count: int,
    persistent: int,
    mean_systems: MeanSystems | None = None,
) -> dict[str, Any]:
    """Every metric value of a summary folded by its metric's rule; other keys unchanged."""
    kept = kept_components(metrics, min_count)
    out = dict(metrics)
    for metric in METRICS:
        if metric.key in metrics:
            rule = metric.small_cell_rule
            value = metrics[metric.key]
            if isinstance(rule, FoldSmall):
                out[metric.key] = _fold_counts(metric, value, min_count)
            elif isinstance(rule, FoldComponents):
                _require(metric, rule, Versions, VersionsAlongside)
                out[metric.key] = fold_components(value, kept.get(rule.group, set()), min_count)
            elif isinstance(rule, NullMean):
                _require(metric, rule, MeanOf)
                systems = (mean_systems or {}).get(metric.key)
                out[metric.key] = null_small_means(value, min_count, persistent, systems)
            elif isinstance(rule, MergeBuckets):
                _require(metric, rule, CountBuckets)
                out[metric.key] = {
                    name: merge_small_buckets(counts, min_count) for name, counts in value.items()
                }
    return out


def _require(metric: Metric, rule: SmallCells, *aggregates: type) -> None:
    if not isinstance(metric.aggregate, aggregates):
        names = " or ".join(a.__name__ for a in aggregates)
        raise TypeError(
            f"metric {metric.key}: {type(rule).__name__} applies to {names},"
            f" not {type(metric.aggregate).__name__}"
        )


def _fold_counts(metric: Metric, value: Any, min_count: int) -> Any:
    if isinstance(metric.aggregate, CountBy):
        return fold_small(value, min_count)
    if isinstance(metric.aggregate, CountEach):
        return {name: fold_small(counts, min_count) for name, counts in value.items()}
    raise TypeError(
        f"metric {metric.key}: FoldSmall applies to CountBy and CountEach,"
        f" not {type(metric.aggregate).__name__}"
    )


def fold_small(counts: Mapping[Any, int], min_count: int) -> dict[Any, int]:
    """``counts`` with every count below ``min_count`` (and any "(other)") summed as "(other)";
    a map that needs no folding comes back equal, and no zero count is kept."""
    out: dict[Any, int] = {}
    other = 0
    for key, n in counts.items():
        if key == OTHER or n < min_count:
            other += n
        else:
            out[key] = n
    if other:
        out[OTHER] = other
    return out


def kept_components(metrics: Mapping[str, Any], min_count: int) -> dict[str, set[str]]:
    """Per group of :class:`FoldComponents` metrics, the component names published as
    themselves: reviewed, and counting at least ``min_count`` in every map of the group."""
    totals: dict[str, dict[str, int]] = {}  # group -> name -> smallest total in any map
    for metric in METRICS:
        rule = metric.small_cell_rule
        if isinstance(rule, FoldComponents) and metric.key in metrics:
            group = totals.setdefault(rule.group, {})
            for name, versions in metrics[metric.key].items():
                total = sum(versions.values())
                group[name] = min(total, group.get(name, total))
    return {
        group: {n for n, total in names.items() if is_reviewed(n) and total >= min_count}
        for group, names in totals.items()
    }


def fold_components(
    value: Mapping[str, Mapping[str, int]], kept: set[str], min_count: int
) -> dict[str, dict[str, int]]:
    """A versions map with only the ``kept`` components as themselves, their small versions
    folded; every other component is summed under the component "(other)", version "(other)"."""
    out: dict[str, dict[str, int]] = {}
    other = 0
    for name, versions in value.items():
        if name in kept:
            out[name] = fold_small(versions, min_count)
        else:
            other += sum(versions.values())
    if other:
        out[OTHER] = {OTHER: other}
    return out


def null_small_means(
    means: Mapping[str, float | None],
    min_count: int,
    persistent: int,
    systems: Mapping[str, int] | None,
) -> dict[str, float | None]:
    """Means over fewer than ``min_count`` systems as null. ``systems`` maps each field to the
    systems behind its mean; without it, ``persistent`` (their upper bound) decides."""
    out: dict[str, float | None] = {}
    for key, mean in means.items():
        field = key.removesuffix("__avg")
        behind = persistent if systems is None else systems.get(field, 0)
        out[key] = None if mean is None or behind < min_count else mean
    return out


Run = tuple[Bucket, int]  # a bucket (or merged neighbours) and its systems


def merge_small_buckets(counts: Mapping[str, int], min_count: int) -> dict[str, int]:
    """A map of bucket counts (``builder.buckets``) with every bucket of at least
    ``min_count`` systems, neighbours merged towards the median (``MergeBuckets``).

    Below the median's bucket, runs of buckets are merged from the lowest up until each holds
    ``min_count``; above it, from the highest down; what is left next to the median's bucket
    joins it, and the median's bucket, if still too small, joins its smaller neighbour (the
    lower one on a tie). A run that takes in the lowest bucket starts at 0, one that takes in
    the highest has no end (when those buckets were too small themselves). Fewer than
    ``min_count`` systems in all, or a map that holds ``"(other)"`` already (published at a
    lower minimum): ``{"(other)": n}``. A map that needs nothing merged comes back equal; no
    zero count is kept.
    """
    listed = [(b, n) for b, n in buckets.ordered(counts) if n > 0]
    total = sum(n for _, n in listed) + counts.get(OTHER, 0)
    if OTHER in counts or total < min_count:
        return {OTHER: total} if total else {}
    if all(n >= min_count for _, n in listed):
        return {b.key: n for b, n in listed}
    middle = _median_index(listed, total)
    low, low_rest = _runs(listed[:middle], min_count)
    high, high_rest = _runs(listed[middle + 1 :][::-1], min_count)
    centre = _join([*low_rest, listed[middle], *high_rest])
    runs = [*low, centre, *high[::-1]]
    while centre[1] < min_count:  # its neighbours hold enough: one merge suffices
        at = runs.index(centre)
        below = runs[at - 1][1] if at > 0 else None
        above = runs[at + 1][1] if at + 1 < len(runs) else None
        side = at - 1 if above is None or (below is not None and below <= above) else at + 1
        first, last = sorted((at, side))
        centre = _join(runs[first : last + 1])
        runs[first : last + 1] = [centre]
    return _open_ends(runs, listed, min_count)


def _median_index(listed: list[Run], total: int) -> int:
    """The index of the bucket that holds the median system."""
    running = 0
    for i, (_, n) in enumerate(listed):
        running += n
        if 2 * running >= total:
            return i
    return len(listed) - 1


def _runs(side: list[Run], min_count: int) -> tuple[list[Run], list[Run]]:
    """``side`` (ordered from the outside in) merged into runs of at least ``min_count``,
    and the buckets left over next to the median, still below it."""
    runs: list[Run] = []
    waiting: list[Run] = []
    for item in side:
        waiting.append(item)
        if sum(n for _, n in waiting) >= min_count:
            runs.append(_join(sorted(waiting, key=lambda r: r[0].order)))
            waiting = []
    return runs, sorted(waiting, key=lambda r: r[0].order)


def _join(runs: list[Run]) -> Run:
    """Neighbouring runs (in order) as one."""
    return runs[0][0].span(runs[-1][0]), sum(n for _, n in runs)


def _open_ends(runs: list[Run], listed: list[Run], min_count: int) -> dict[str, int]:
    """The runs keyed by their range; when the lowest bucket was too small to publish, its run
    starts at 0, and when the highest was, its run has no end: the ends of the range then say
    nothing about the smallest or the largest installation."""
    (lowest, low_n), (highest, high_n) = listed[0], listed[-1]
    out: dict[str, int] = {}
    for bucket, n in runs:
        low = 0 if low_n < min_count and bucket.low == lowest.low else bucket.low
        open_top = high_n < min_count and bucket.high == highest.high
        out[Bucket(low, None if open_top else bucket.high).key] = n
    return out


# -- checking a file -------------------------------------------------------------------------


def first_publishing_error(data: Mapping[str, Any]) -> str | None:
    """The first way a schema-valid summary breaks SPEC §8, as a sentence naming the key, or
    None: an unreviewed component name, a cell other than "(other)" below the deployment's
    minimum count, a component "(other)" that names versions, a mean of too few systems."""
    deployment = data["deployment"]
    min_count = DEFAULT_MIN_COUNT[deployment]
    below = f"below the {deployment} minimum of {min_count}"
    for metric in METRICS:
        if metric.key not in data:
            continue
        rule, value = metric.small_cell_rule, data[metric.key]
        problem: str | None = None
        if isinstance(rule, FoldSmall) and isinstance(metric.aggregate, CountEach):
            for name, counts in value.items():
                problem = problem or _small_cell(f"{metric.key}/{name}", counts, min_count, below)
        elif isinstance(rule, FoldSmall):
            problem = _small_cell(metric.key, value, min_count, below)
        elif isinstance(rule, FoldComponents):
            problem = _component_error(metric.key, value, min_count, below)
        elif isinstance(rule, NullMean):
            problem = _mean_error(metric.key, value, data["persistent_systems"], min_count, below)
        elif isinstance(rule, MergeBuckets):
            for name, counts in value.items():
                where = f"{metric.key}/{name}"
                problem = problem or _bucket_error(where, counts, min_count, below)
        if problem:
            return problem
    return None


def _bucket_error(where: str, counts: Mapping[str, int], min_count: int, below: str) -> str | None:
    if OTHER in counts and len(counts) > 1:
        return (
            f'at {where}/{OTHER}: "{OTHER}" stands alone in a map of buckets (fewer systems'
            " than the minimum in all); beside buckets it would leave systems out of order"
        )
    for key, n in counts.items():
        if key != OTHER and n < min_count:
            return (
                f"at {where}/{_quote(key)}: {_systems(n)}, {below}; a published summary merges"
                " the bucket with its neighbours towards the median (SPEC §8)"
            )
    return None


def _small_cell(where: str, counts: Mapping[str, int], min_count: int, below: str) -> str | None:
    for key, n in counts.items():
        if key != OTHER and n < min_count:
            return (
                f"at {where}/{_quote(key)}: {_systems(n)}, {below}; a published summary counts"
                f' it under "{OTHER}" (SPEC §8)'
            )
    return None


def _component_error(
    key: str, value: Mapping[str, Mapping[str, int]], min_count: int, below: str
) -> str | None:
    for name, versions in value.items():
        where = f"{key}/{_quote(name)}"
        if name == OTHER:
            named = [v for v in versions if v != OTHER]
            if named:
                return (
                    f'at {where}/{_quote(named[0])}: the component "{OTHER}" holds only the'
                    f' version "{OTHER}" (it sums different components)'
                )
            continue
        if not is_reviewed(name):
            return (
                f"at {where}: {name[:KEY_CHARS]!r} is not a reviewed component name"
                f' (builder/components.py); a published summary counts it under "{OTHER}"'
            )
        total = sum(versions.values())
        if total < min_count:
            return (
                f"at {where}: {_systems(total)} in all, {below}; a published summary counts the"
                f' component under "{OTHER}" (SPEC §8)'
            )
        problem = _small_cell(where, versions, min_count, below)
        if problem:
            return problem
    return None


def _mean_error(
    key: str, means: Mapping[str, float | None], persistent: int, min_count: int, below: str
) -> str | None:
    if persistent >= min_count:
        return None
    for field, mean in means.items():
        if mean is not None:
            return (
                f"at {key}/{field}: a mean of at most {persistent} persistent systems, {below};"
                " a published summary has null there (SPEC §8)"
            )
    return None


def _systems(n: int) -> str:
    return "1 system" if n == 1 else f"{n} systems"


def _quote(key: str) -> str:
    return key if len(key) <= KEY_CHARS else key[: KEY_CHARS - 1] + "…"


# -- words for the schema and the docs -------------------------------------------------------


def describe(metric: Metric) -> str:
    """How ``metric``'s small cells are published, in one sentence (schema descriptions)."""
    rule = metric.small_cell_rule
    floor = f"the deployment's minimum count ({DEFAULT_MIN_COUNT['prod']} on prod, 1 on dev)"
    if isinstance(rule, FoldSmall):
        return f'A count below {floor} is summed under the key "{OTHER}".'
    if isinstance(rule, FoldComponents):
        agg = metric.aggregate
        what = "version"
        if isinstance(agg, VersionsAlongside):
            what = f'{agg.of} version (or "{agg.missing}")'
        group = [m.title for m in METRICS if m.small_cell_rule == rule]
        return (
            "Only component names of the reviewed list (builder/components.py). A component"
            f" that is not reviewed, or counts fewer systems than {floor}, is summed under the"
            f' component "{OTHER}", whose only key is "{OTHER}", in every map of its group alike'
            f" ({'; '.join(group)});"
            f' within a component, a {what} below that minimum is summed under "{OTHER}".'
        )
    if isinstance(rule, MergeBuckets):
        return (
            f"Within each field, a bucket counting fewer systems than {floor} is merged with"
            " its neighbours towards the median until every bucket holds that many; a merged"
            " bucket that takes in the lowest starts at 0, one that takes in the highest is"
            ' open-ended ("33+"). Fewer systems than that in all are published as "(other)"'
            " alone."
        )
    if isinstance(rule, NullMean):
        return f"A mean over fewer systems than {floor} is null."
    if isinstance(rule, Exact):
        return f"Published as counted: {rule.reason}"
    raise TypeError(f"unknown rule {rule!r}")
