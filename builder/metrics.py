"""Every metric, defined once: how it is read, how a day is summarized, which charts it feeds.

A metric is one :class:`Metric` in :data:`METRICS`. Its ``aggregate`` says how a day of
submissions becomes the value stored under ``key`` in the summary file; the summarizer turns
it into SQL and the JSON schema for summary files is generated from it. Its ``charts`` name
the chart transforms of ``builder.site.charts`` that draw it on the site. The receiver stores every
decoded field generically, so a new field in ``proto/analytics.proto`` plus one entry here is
the whole change (see docs/metrics.md for a worked example).

Paths are dotted names into the decoded submission, as the export shows it:
``online_workers.processes`` is ``{"online_workers": {"processes": 4}}``.

Each metric also says how its small cells are published (SPEC §8: no count below the
deployment's minimum, no unreviewed component name): ``small_cells`` is one of the rules
below, or None for the default of its aggregate (:func:`default_small_cells`).
``builder.summaries.publish`` applies the rule when a summary is written and checks it when a
summary file is read.

Each metric also says why it may be collected (SPEC §8): ``approval`` names the reviewed
proposal that approved its field(s), or says why there is none, and the first pulpcore release
that sends them. The site's "What we collect" page (``builder.site.collect``) shows both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

RBAC_MEASURES = ("users", "groups", "domains", "custom_access_policies", "custom_roles")


@dataclass(frozen=True)
class CountBy:
    """Systems per value of one scalar field: ``{"130004": 97, "0": 3}``.

    Systems that did not send the field are left out. Keys are the values as strings, in
    numeric order when the values are numbers.
    """

    path: str


@dataclass(frozen=True)
class CountEach:
    """A :class:`CountBy` for each named field below ``path``: ``{"users": {"1": 60}, ...}``."""

    path: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class MeanOf:
    """The mean of each named number below ``path``: ``{"processes__avg": 2.5}``.

    Systems that did not send a number are left out of its mean; the mean of nobody is null.
    """

    path: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Versions:
    """Systems per version of each item of a repeated ``{name, version}`` field.

    ``parts`` keeps that many leading dot-separated parts of the version (2 gives X.Y); None
    keeps the whole version. ``{"core": {"3.21": 80}, "rpm": {"3.19": 40}}``.
    """

    path: str
    parts: int | None = None
    name_field: str = "name"
    version_field: str = "version"


@dataclass(frozen=True)
class VersionsAlongside:
    """For each item of a repeated ``{name, version}`` field other than the one named ``of``,
    the systems running it by the version of ``of`` in the same submission.

    ``parts`` keeps that many leading dot-separated parts of ``of``'s version (2 gives X.Y). A
    system whose list has no ``of`` item is counted under :attr:`missing` (``"(no core)"``).
    ``{"rpm": {"3.21": 40, "3.22": 10, "(no core)": 1}}``: of the systems running rpm, 40 run
    core 3.21. Per component the counts add up to the systems running it (its
    :class:`Versions` counts added up), since the receiver accepts each name once per report.
    """

    path: str
    of: str
    parts: int | None = 2
    name_field: str = "name"
    version_field: str = "version"

    @property
    def missing(self) -> str:
        """The key of the systems that did not list ``of``; cannot be a version a release
        sends (prod keeps only plain X.Y.Z versions)."""
        return f"(no {self.of})"


@dataclass(frozen=True)
class CountBuckets:
    """Systems per bucket of each named whole number below ``path``, for medians and
    percentiles: ``{"processes": {"1": 40, "2": 30, "9-16": 10}, "hosts": {...}}``.

    Buckets have fixed boundaries (``builder.buckets``): every number from 0 to ``exact`` is a
    bucket of its own, then powers of two, ``9-16``, ``17-32``, ``33-64`` and so on, so small
    installations are counted exactly and any number has a bucket. Counts of the same bucket
    add up across days and receivers. Systems that did not send a number are left out of its
    buckets.
    """

    path: str
    fields: tuple[str, ...]
    exact: int = 8  # a power of two: the first range bucket starts right after it


Aggregate = CountBy | CountEach | MeanOf | Versions | VersionsAlongside | CountBuckets


@dataclass(frozen=True)
class FoldSmall:
    """Counts below the minimum are summed into the key ``"(other)"`` of their map.

    For a :class:`CountBy` that map is the value; for a :class:`CountEach`, each field's map.
    ``{"0": 2, "130004": 97}`` with a minimum of 5 is published as
    ``{"130004": 97, "(other)": 2}``.
    """


@dataclass(frozen=True)
class FoldComponents:
    """For :class:`Versions` and :class:`VersionsAlongside`: only reviewed component names
    (``builder/components.py``), and no component or version counted below the minimum.

    A component that is not reviewed, or whose versions add up to fewer systems than the
    minimum, is counted whole under the component ``"(other)"``, which has the single version
    ``"(other)"`` (its versions would mix different plugins'). Within a component that is kept,
    versions below the minimum are summed into its version ``"(other)"``. Metrics with the same
    ``group`` fold the same components: a component folded in one (X.Y.Z, say) is folded in all
    of them (X.Y), so that one map cannot be subtracted from the other.
    """

    group: str = "components"


@dataclass(frozen=True)
class MergeBuckets:
    """For :class:`CountBuckets`: a bucket below the minimum is merged with its neighbours
    towards the median until every published bucket holds at least the minimum.

    Buckets stay in order, so the median and the 90th percentile can still be read, from
    wider buckets (``{"0": 2, "1": 40, "2": 30, "3": 3}`` is published at 5 as
    ``{"0-1": 42, "2+": 33}``). A merged bucket that takes in the lowest one starts at 0 and
    one that takes in the highest is open-ended (``"33+"``), so that neither end says what the
    smallest or the largest installation runs. When fewer systems than the minimum sent the
    number at all, they are published as ``{"(other)": n}`` alone: no bucket and no percentile.
    """


@dataclass(frozen=True)
class NullMean:
    """A mean over fewer systems than the minimum is published as null, like a mean of nobody.

    Where the number of systems behind a mean is not known (imported history), the persistent
    systems of the day bound it: every mean is null on a day with fewer than the minimum.
    """


@dataclass(frozen=True)
class Exact:
    """Published as counted, small cells included. ``reason`` says why that is safe; it is
    reviewed with the metric."""

    reason: str


SmallCells = FoldSmall | FoldComponents | NullMean | MergeBuckets | Exact


def default_small_cells(aggregate: Aggregate) -> SmallCells:
    """The rule of a metric that states none: counts fold into "(other)", versions fold by
    component, means of too few systems are null, small buckets merge with their neighbours."""
    if isinstance(aggregate, Versions | VersionsAlongside):
        return FoldComponents()
    if isinstance(aggregate, MeanOf):
        return NullMean()
    if isinstance(aggregate, CountBuckets):
        return MergeBuckets()
    return FoldSmall()


RELEASE = re.compile(r"[1-9][0-9]*\.(?:0|[1-9][0-9]*)")  # a pulpcore X.Y


@dataclass(frozen=True)
class Approval:
    """Why a field may be collected: the proposal that approved it, and since when it is sent.

    ``proposal`` is the public URL of the reviewed proposal; where none exists it is None and
    ``no_proposal`` says why, in a sentence for readers (never a made-up URL). ``since`` is the
    pulpcore X.Y whose releases first sent the field(s) to analytics.pulpproject.org. The
    evidence for both is a comment beside each use.
    """

    proposal: str | None
    since: str
    no_proposal: str = ""

    def __post_init__(self) -> None:
        if self.proposal is None and not self.no_proposal.strip():
            raise ValueError("an approval without a proposal must say why in no_proposal")
        if self.proposal is not None and self.no_proposal:
            raise ValueError("an approval has a proposal URL or a reason for none, not both")
        if self.proposal is not None and not re.fullmatch(r"https://\S+", self.proposal):
            raise ValueError(f"proposal {self.proposal!r} is not an https:// URL")
        if not RELEASE.fullmatch(self.since):
            raise ValueError(f"since {self.since!r} is not a pulpcore X.Y release")


# -- where each field comes from (evidence in the comments) ---------------------------------
#
# pulpcore's analytics code (pulp/pulpcore PR #2118, "Create systemID and post telemetry data
# for devs", merged June 2022) first posted only from development builds, to the dev site (the
# analytics working group's notes, https://hackmd.io/@pulp/telemetry_notes, 2022-06-16: "pulpcore
# will post only to the dev site, and only if the user has a .dev installation"). Releases
# began posting with pulpcore 3.21.0 (2022-09-08; CHANGES: "Introduces anonymous telemetry data
# posting to https://analytics.pulpproject.org/ ... #3115"), with fields 1-4.

# Fields 2-4 (online content apps and workers, processes and hosts; components and versions):
# "Proposal: gather /status/ telemetry" of the analytics working group, asking "What specific
# plugin-versions are in use?" and how many content apps and workers, on how many hosts, run.
STATUS = Approval(proposal="https://hackmd.io/@pulp/telemetry_status", since="3.21")

# Field 5 (postgresql_version): pulp/pulpcore issue #3396 "Gather postgresql version metric
# collection ... consistent with this proposal" links it; PR #3397. CHANGES 3.22.0 (2022-12-18):
# "The postgresql version is now included in analytics data posted ... #3396".
POSTGRESQL = Approval(proposal="https://hackmd.io/zJ1dJe8qQtmzr0JiM1jptw", since="3.22")

# Field 6 (rbac_stats): pulp/pulpcore issue #3639 "analytics.pulpproject.org should collect
# statistics about RBAC usage: The proposed metrics are outlined here" links the proposal,
# pulp/analytics.pulpproject.org issue #84; PR #3640 (opened 2023-03-07) waited for Domains,
# which came with pulpcore 3.23 (pulp_file raised its pulpcore floor to 3.23 "need domain
# support" on 2023-03-22). The old site charts RBAC counts from 2023-03-10 on (its index.html).
# No changelog line names the release: 3.23 is the first X.Y with both, not a quoted entry.
RBAC = Approval(
    proposal="https://github.com/pulp/analytics.pulpproject.org/issues/84", since="3.23"
)

# Summaries this project added over fields already sent (the components, the workers and
# content apps of STATUS, so since 3.21 too): no proposal was written for them. A new summary of
# a field can be proposed like a new field (.github/ISSUE_TEMPLATE/metric-proposal.md).
DERIVED = Approval(
    proposal=None,
    since="3.21",
    no_proposal="A newer summary of fields approved with the /status/ proposal; it had no"
    " proposal of its own.",
)


@dataclass(frozen=True)
class Unsummarized:
    """A field of ``proto/analytics.proto`` that no metric reads: why it is sent anyway."""

    approval: Approval
    use: str  # what the receiver does with it, for readers


# Fields no metric reads. A field of the .proto in neither a metric nor here stops the site's
# build ("What we collect" lists every field), so a new field cannot go undocumented.
UNSUMMARIZED: dict[str, Unsummarized] = {
    # Sent since the first release that posted (above); no metric proposal covers it: it came
    # with pulpcore's first analytics code (PR #2118) as the installation's random SystemID.
    "system_id": Unsummarized(
        Approval(
            proposal=None,
            since="3.21",
            no_proposal="Part of pulpcore's first analytics code, to count each installation"
            " once a day; never published.",
        ),
        "Counts each installation once a day and gives its age (days since its first report)."
        " Replaced at rest by a keyed hash, and never published.",
    ),
}


@dataclass(frozen=True)
class Chart:
    """One chart on the site: a transform of ``builder.site.charts`` and where its data goes.

    ``kind`` names the transform; ``data`` is the data file under ``data/`` (``{name}`` is
    replaced for charts drawn once per component or per field); ``options`` are passed to the
    transform (for example a label formatter).
    """

    kind: str
    data: str
    title: str
    description: str = ""
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Metric:
    key: str  # the key in each summary file; never renamed once published
    title: str
    aggregate: Aggregate
    approval: Approval  # the proposal of its field(s), and since when pulpcore sends them
    charts: tuple[Chart, ...] = ()
    persistent_only: bool = True  # count only systems older than the persistence threshold
    required: bool = False  # every summary file has it (True only for the original metrics)
    description: str = field(default="", compare=False)
    small_cells: SmallCells | None = None  # how small cells are published; None: the default
    follows: str = ""  # on its page, its figures come right after those of this metric key

    @property
    def small_cell_rule(self) -> SmallCells:
        """The rule that applies: ``small_cells``, or the default of the aggregate."""
        if self.small_cells is not None:
            return self.small_cells
        return default_small_cells(self.aggregate)


def _means_chart(name: str, title: str) -> Chart:
    return Chart(
        kind="means_over_time",
        data=f"deployment_stats/{name}.json",
        title=title,
        description="Mean number of processes and of hosts per system that reported them.",
    )


def _percentiles_chart(name: str, title: str, what: str) -> Chart:
    return Chart(
        kind="percentiles_over_time",
        data=f"deployment_stats/{name}_percentiles/{{name}}.json",
        title=f"{title}: median and 90th percentile",
        description=f"Per day, the median and the 90th percentile of the number of {what}"
        f" processes (and of {what} hosts) per system that reported it, as the bucket they fall"
        " in: every number up to 8, then 9-16, 17-32 and so on. A band spans a bucket's range;"
        " one that reaches the top is open-ended (33 or more).",
        options=(("fields", "views"),),
    )


METRICS: tuple[Metric, ...] = (
    Metric(
        key="xy_component",
        title="Component versions (X.Y)",
        aggregate=Versions("components", parts=2),
        approval=STATUS,
        charts=(
            Chart(
                kind="versions_over_time",
                data="plugin_stats/{name}.json",
                title="{name} versions",
                description="Persistent systems running each X.Y version of {name}.",
            ),
        ),
        small_cells=FoldComponents(),
        required=True,
    ),
    Metric(
        key="xyz_component",
        title="Component versions (X.Y.Z)",
        aggregate=Versions("components"),
        approval=STATUS,
        charts=(
            Chart(
                kind="versions_over_time",
                data="plugin_stats/{name}.z_stream.json",
                title="{name} versions (X.Y.Z)",
                description="Persistent systems running each X.Y.Z version of {name}.",
            ),
        ),
        small_cells=FoldComponents(),
        required=True,
    ),
    Metric(
        key="postgresql_version",
        title="PostgreSQL versions",
        aggregate=CountBy("postgresql_version"),
        approval=POSTGRESQL,
        charts=(
            Chart(
                kind="newest_pie",
                data="postgresql_versions.json",
                title="PostgreSQL versions",
                description="Persistent systems by PostgreSQL server version on the newest day.",
                options=(("labels", "postgresql"),),
            ),
        ),
        small_cells=FoldSmall(),
        required=True,
    ),
    Metric(
        key="online_workers",
        title="Online workers",
        aggregate=MeanOf("online_workers", ("processes", "hosts")),
        approval=STATUS,
        charts=(_means_chart("worker", "Online workers"),),
        small_cells=NullMean(),
        required=True,
    ),
    Metric(
        key="online_content_apps",
        title="Online content apps",
        aggregate=MeanOf("online_content_apps", ("processes", "hosts")),
        approval=STATUS,
        charts=(_means_chart("content_app", "Online content apps"),),
        small_cells=NullMean(),
        required=True,
    ),
    Metric(
        key="rbac_stats",
        title="RBAC usage",
        aggregate=CountEach("rbac_stats", RBAC_MEASURES),
        approval=RBAC,
        charts=(
            Chart(
                kind="buckets_over_time",
                data="rbac_stats/{name}.json",
                title="Systems by number of {name}",
                description="Persistent systems by how many {name} they have, in buckets.",
            ),
        ),
        small_cells=FoldSmall(),
        required=True,
    ),
    Metric(
        key="core_xy_by_component",
        title="pulpcore versions among systems running each component",
        aggregate=VersionsAlongside("components", of="core", parts=2),
        approval=DERIVED,
        charts=(
            Chart(
                kind="versions_over_time",
                data="plugin_stats/{name}.core.json",
                title="pulpcore versions among systems running {name}",
                description="Persistent systems running {name}, by the X.Y version of pulpcore"
                " (core) they run; (no core) counts those that did not report core.",
            ),
        ),
        # Folded with the component versions: a component folded in X.Y or X.Y.Z is folded
        # here too, so that no map can be subtracted from another; within a component, a
        # pulpcore X.Y (or "(no core)") below the minimum is summed under "(other)".
        small_cells=FoldComponents(group="components"),
    ),
    Metric(
        key="online_workers_buckets",
        title="Online workers by bucket",
        aggregate=CountBuckets("online_workers", ("processes", "hosts")),
        approval=DERIVED,
        charts=(_percentiles_chart("worker", "Online workers", "worker"),),
        small_cells=MergeBuckets(),
        follows="online_workers",
    ),
    Metric(
        key="online_content_apps_buckets",
        title="Online content apps by bucket",
        aggregate=CountBuckets("online_content_apps", ("processes", "hosts")),
        approval=DERIVED,
        charts=(_percentiles_chart("content_app", "Online content apps", "content app"),),
        small_cells=MergeBuckets(),
        follows="online_content_apps",
    ),
)


def metric(key: str) -> Metric:
    """The metric stored under ``key``."""
    for candidate in METRICS:
        if candidate.key == key:
            return candidate
    raise KeyError(key)
