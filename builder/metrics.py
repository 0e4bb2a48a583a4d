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
"""

from __future__ import annotations

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


Aggregate = CountBy | CountEach | MeanOf | Versions


@dataclass(frozen=True)
class FoldSmall:
    """Counts below the minimum are summed into the key ``"(other)"`` of their map.

    For a :class:`CountBy` that map is the value; for a :class:`CountEach`, each field's map.
    ``{"0": 2, "130004": 97}`` with a minimum of 5 is published as
    ``{"130004": 97, "(other)": 2}``.
    """


@dataclass(frozen=True)
class FoldComponents:
    """For :class:`Versions`: only reviewed component names (``builder/components.py``), and no
    component or version counted below the minimum.

    A component that is not reviewed, or whose versions add up to fewer systems than the
    minimum, is counted whole under the component ``"(other)"``, which has the single version
    ``"(other)"`` (its versions would mix different plugins'). Within a component that is kept,
    versions below the minimum are summed into its version ``"(other)"``. Metrics with the same
    ``group`` fold the same components: a component folded in one (X.Y.Z, say) is folded in all
    of them (X.Y), so that one map cannot be subtracted from the other.
    """

    group: str = "components"


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


SmallCells = FoldSmall | FoldComponents | NullMean | Exact


def default_small_cells(aggregate: Aggregate) -> SmallCells:
    """The rule of a metric that states none: counts fold into "(other)", versions fold by
    component, means of too few systems are null."""
    if isinstance(aggregate, Versions):
        return FoldComponents()
    if isinstance(aggregate, MeanOf):
        return NullMean()
    return FoldSmall()


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
    charts: tuple[Chart, ...] = ()
    persistent_only: bool = True  # count only systems older than the persistence threshold
    required: bool = False  # every summary file has it (True only for the original metrics)
    description: str = field(default="", compare=False)
    small_cells: SmallCells | None = None  # how small cells are published; None: the default

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


METRICS: tuple[Metric, ...] = (
    Metric(
        key="xy_component",
        title="Component versions (X.Y)",
        aggregate=Versions("components", parts=2),
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
        charts=(_means_chart("worker", "Online workers"),),
        small_cells=NullMean(),
        required=True,
    ),
    Metric(
        key="online_content_apps",
        title="Online content apps",
        aggregate=MeanOf("online_content_apps", ("processes", "hosts")),
        charts=(_means_chart("content_app", "Online content apps"),),
        small_cells=NullMean(),
        required=True,
    ),
    Metric(
        key="rbac_stats",
        title="RBAC usage",
        aggregate=CountEach("rbac_stats", RBAC_MEASURES),
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
)


def metric(key: str) -> Metric:
    """The metric stored under ``key``."""
    for candidate in METRICS:
        if candidate.key == key:
            return candidate
    raise KeyError(key)
