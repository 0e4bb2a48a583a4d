"""The static site: which chart goes on which page, the HTML around each chart, the build.

:func:`plan_site` turns the summaries into pages of figures, each figure one or more chart
data files (views) computed by ``builder.site.charts``; it follows ``builder.metrics.METRICS``, so a
new metric with a known chart kind shows up without a change here. Every view also gets a page
of its own holding its whole table (``tables/<data path>/``), so that chart pages stay light.
:func:`render_page` is the HTML the MkDocs plugin (``builder.site.plugin``) puts into a page.
:func:`build_site` runs MkDocs for one deployment.

Beside the charts of the metrics, the decision views (``builder.site.panels``, figures from
``builder.site.decisions``): a panel opening each component page, its upgrade pace, the
PostgreSQL minimums after the PostgreSQL chart, the newest day's mean, median and 90th
percentile above each percentile chart, and the components index as a ranked table.

Every string that can come from a client (component names, versions) is escaped here, and
never used in a page title, a file name or a URL: components whose name is not a plain
``[a-z0-9_]`` word get a neutral slug.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder.components import OTHER
from builder.components import names as reviewed_names
from builder.metrics import (
    METRICS,
    Chart,
    CountBuckets,
    CountEach,
    Metric,
    Versions,
    VersionsAlongside,
)
from builder.site import charts, decisions
from builder.site.charts import ChartData, ChartError, Limits
from builder.site.panels import (
    ComponentPanel,
    ComponentsTable,
    MinimumsPanel,
    PacePanel,
    Panel,
    SizesPanel,
    mean_text,
    signed,
    stat_html,
)
from builder.summaries.gitcommit import head_revision
from builder.summaries.summary import DEPLOYMENTS, Summary

ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = ROOT / "mkdocs.yml"
PLUGIN_NAME = "pulp-analytics"
PLACEHOLDER = "<!-- pulp-analytics -->"

KNOWN_COMPONENTS = reviewed_names()  # builder/components.py: the names a summary may hold
SYSTEMS = "systems.json"
SYSTEMS_BY_AGE = "systems_by_age.json"
DEMOGRAPHY = "demography.json"
OVERVIEW = (
    SYSTEMS,
    "plugin_stats/core.json",
    SYSTEMS_BY_AGE,
    DEMOGRAPHY,
    "postgresql_versions.json",
)
MINIMUMS = "postgresql_minimums.json"
ADOPTION_DAYS = 365  # an adoption curve's days after the release was first seen
API_DIR = "api/v1"  # the JSON API's folder in the site (builder.site.api)
RANGES = (("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("all", "All"))
UNITS = (("0", "Count"), ("1", "Percent"))
KEY_TITLES = {"postgresql": "PostgreSQL version"}
# Top-level names a metric page must not take: hand-written pages, generated folders, and
# dev/, where the demo (and a combined Pages site) puts the dev deployment.
RESERVED = (
    "index", "about", "components", "data", "assets", "tables", "404", "sitemap", "search",
    "what-we-collect", "api", "dev",
)  # fmt: skip
SAFE_NAME = re.compile(r"[a-z0-9_]{1,64}")
DATA_PATH = re.compile(r"[a-z0-9_]+(?:[./-][a-z0-9_]+)*\.json")
PER_COMPONENT = (Versions, VersionsAlongside)  # aggregates charted on each component's page


class SiteError(Exception):
    """The site cannot be built as asked; the message says why in one line."""


@dataclass(frozen=True)
class Settings:
    """The site's choices, set in the plugin's part of mkdocs.yml."""

    known_components: tuple[str, ...] = KNOWN_COMPONENTS
    min_component_count: int = 10  # peak daily systems for a component not in the list
    overview: tuple[str, ...] = OVERVIEW  # data files drawn on the overview, in order
    pages: Mapping[str, str] = field(default_factory=dict)  # metric key -> page title
    limits: Limits = field(default_factory=Limits)
    recent_rows: int = 14  # rows of the short table under a chart; the whole one has a page
    provenance: Provenance = field(default_factory=lambda: Provenance())


@dataclass(frozen=True)
class Provenance:
    """Where the published figures come from: linked under every chart and table."""

    summaries_url: str = ""  # the deployment's folder of summary files in the repository
    schema_url: str = ""  # the JSON Schema of summary files

    @classmethod
    def of(cls, repository: str, branch: str, deployment: str) -> Provenance:
        """The links for a GitHub repository URL and the branch that holds the summaries."""
        if not repository:
            return cls()
        base = repository.rstrip("/")
        return cls(
            f"{base}/tree/{branch}/summaries/{deployment}",
            f"{base}/blob/{branch}/proto/summary.schema.json",
        )


@dataclass(frozen=True, eq=False)
class View:
    """One chart data file, drawn in a figure; a figure with several has a switch."""

    path: str  # under data/
    kind: str
    data: ChartData
    label: str = ""  # the switch's label
    key_title: str = "value"  # a pie's first table column

    @property
    def csv_path(self) -> str:
        return self.path.removesuffix(".json") + ".csv"

    @property
    def table_src(self) -> str:
        """The page of this view's whole table: ``tables/plugin_stats/core/index.md``."""
        return "tables/" + self.path.removesuffix(".json") + "/index.md"


@dataclass(frozen=True, eq=False)
class Figure:
    title: str  # plain text; escaped when rendered
    description: str
    views: tuple[View, ...]
    page_title: str = ""  # the title of its table pages: never a client's string; "" = title
    panel: Panel | None = None  # server-rendered figures above the chart (decision views)
    empty: str = ""  # what the chart says when it has no data; "" = "No data yet."
    switch: str = "Versions"  # what the switch between several views switches

    @property
    def id(self) -> str:
        return "chart-" + re.sub(r"[^a-z0-9]+", "-", self.views[0].path.removesuffix(".json"))

    @property
    def kind(self) -> str:
        return self.views[0].kind


@dataclass(frozen=True, eq=False)
class TableOf:
    """The whole table of one view, on a page of its own; ``chart`` is the figure's page."""

    figure: Figure
    view: View
    chart: str


@dataclass(frozen=True)
class Page:
    src: str  # path under the docs folder, e.g. components/core/index.md
    title: str  # nav title: never a client's string
    section: str = ""  # nav section, "" for a top-level page
    intro: str = ""  # plain text above the figures
    figures: tuple[Figure, ...] = ()
    headline: charts.Headline | None = None
    panels: tuple[Panel, ...] = ()  # server-rendered decision views, above the figures
    overview: bool = False
    table: TableOf | None = None  # a page of one whole table, linked under its chart
    listed: bool = True  # in the navigation

    @property
    def url(self) -> str:
        """Where MkDocs publishes it (directory URLs): ``a.md`` and ``a/index.md`` are ``a/``."""
        path = self.src.removesuffix(".md").removesuffix("index").rstrip("/")
        return path + "/" if path else ""


@dataclass(frozen=True)
class Plan:
    pages: tuple[Page, ...]

    def page(self, src: str) -> Page | None:
        return next((p for p in self.pages if p.src == src), None)

    def views(self) -> dict[str, View]:
        """Every data file of the site, by its path under data/."""
        return {v.path: v for p in self.pages for f in p.figures for v in f.views}

    def nav(self) -> list[Any]:
        """MkDocs ``nav`` entries: top-level pages and one list per section, in plan order."""
        nav: list[Any] = []
        sections: dict[str, list[Any]] = {}
        for page in self.pages:
            if not page.listed:
                continue
            if not page.section:
                nav.append({page.title: page.src})
            elif page.section not in sections:
                sections[page.section] = [page.src]
                nav.append({page.section: sections[page.section]})
            else:
                sections[page.section].append({page.title: page.src})
        return nav


# -- planning -------------------------------------------------------------------------------


def plan_site(summaries: Sequence[Summary], settings: Settings = Settings()) -> Plan:
    """Every page of the site with its figures, computed from the summaries."""
    names = components(summaries, settings)
    figures: dict[str, list[tuple[str, Figure]]] = {}  # page title -> (metric key, figure)
    per_component: dict[tuple[str, str], list[tuple[Metric, Chart]]] = {}
    for metric in drawn_metrics(summaries):
        page = page_of(metric, settings)
        for chart in metric.charts:
            if "{name}" in chart.data and isinstance(metric.aggregate, PER_COMPONENT):
                group = (chart.kind, type(metric.aggregate).__name__)
                per_component.setdefault(group, []).append((metric, chart))
            else:
                drawn = metric_figures(summaries, metric, chart, settings)
                place(figures.setdefault(page, []), metric, drawn)
        if metric.key in FOLLOWERS:  # a decision view right after the metric's charts
            view = FOLLOWERS[metric.key](summaries, settings)
            place(figures.setdefault(page, []), metric, [view])
    component_pages = [component_page(summaries, name, per_component, settings) for name in names]
    pages = [metric_page(title, [f for _, f in figs]) for title, figs in figures.items()]
    every = [f for p in (*component_pages, *pages) for f in p.figures]
    overview = overview_page(summaries, every, settings)
    index = components_index(summaries, names)
    charted = (overview, *([index, *component_pages] if names else []), *pages)
    return Plan(unique((*charted, *table_pages(charted))))


def drawn_metrics(summaries: Sequence[Summary]) -> list[Metric]:
    """The metrics the site draws: every required one, and each other one that some summary
    holds (a metric added after the history began, which imported days lack, is drawn once a
    day has it)."""
    held = {key for summary in summaries for key in summary.metrics}
    return [m for m in METRICS if m.required or m.key in held]


def page_of(metric: Metric, settings: Settings) -> str:
    """The title of the page that draws a metric: as mkdocs.yml's ``pages`` says, else the page
    of the metric it follows, else its own title."""
    if metric.key in settings.pages:
        return settings.pages[metric.key]
    followed = next((m for m in METRICS if m.key == metric.follows), None)
    return page_of(followed, settings) if followed is not None else metric.title


def place(page: list[tuple[str, Figure]], metric: Metric, new: Sequence[Figure]) -> None:
    """Add a metric's figures to a page: after the figures of the metric it follows (and of
    those that follow it already) when the page has them, else at the end."""
    keys = [key for key, _ in page]
    at = len(page)
    if metric.follows in keys:
        followers = {m.key for m in METRICS if m.follows == metric.follows} - {metric.key}
        at = max(i for i, key in enumerate(keys) if key == metric.follows or key in followers) + 1
    page[at:at] = [(metric.key, figure) for figure in new]


def table_pages(pages: Iterable[Page]) -> list[Page]:
    """A page per view holding its whole table; it links back to the first page that draws
    the view, other than the overview."""
    out: dict[str, Page] = {}
    for page in sorted(pages, key=lambda p: p.overview):
        for figure in page.figures:
            for view in figure.views:
                if view.table_src not in out:
                    suffix = f" ({view.label})" if view.label else ""
                    title = f"{figure.page_title or figure.title}{suffix}: table"
                    table = TableOf(figure, view, page.src)
                    out[view.table_src] = Page(view.table_src, title, table=table, listed=False)
    return list(out.values())


def unique(pages: Sequence[Page]) -> tuple[Page, ...]:
    """``pages``, refusing two that MkDocs would publish at the same URL (one would be lost)."""
    seen: dict[str, str] = {}
    for page in pages:
        if page.url in seen:
            raise SiteError(f"pages {seen[page.url]} and {page.src} would both be /{page.url}")
        seen[page.url] = page.src
    return tuple(pages)


def components(summaries: Sequence[Summary], settings: Settings) -> list[str]:
    """Components drawn: the known ones that have data, others from a peak daily count on;
    never "(other)", which sums what may not be named (SPEC §8)."""
    peak: dict[str, int] = {}
    keys = [m.key for m in METRICS if isinstance(m.aggregate, Versions)]
    for summary in summaries:
        for key in keys:
            for name, counts in summary.metrics.get(key, {}).items():
                total = sum(counts.values())
                if total > peak.get(name, 0):
                    peak[name] = total
    known = set(settings.known_components)
    chosen = [
        name
        for name, n in peak.items()
        if name != OTHER
        and ((name in known and n > 0) or n >= max(settings.min_component_count, 1))
    ]
    return sorted(chosen, key=lambda name: (not SAFE_NAME.fullmatch(name), slug(name)))


def slug(name: str) -> str:
    """A component's name in file names and URLs; names beyond [a-z0-9_] get a neutral one."""
    if SAFE_NAME.fullmatch(name):
        return name
    return "x-" + hashlib.sha256(name.encode()).hexdigest()[:12]


def data_path(chart: Chart, name: str | None = None) -> str:
    path = chart.data if name is None else chart.data.replace("{name}", slug(name))
    if not DATA_PATH.fullmatch(path) or ".." in path:
        raise SiteError(f"chart {chart.title!r}: data file {path!r} is not a plain relative path")
    return path


def make_view(
    summaries: Sequence[Summary],
    metric: Metric,
    chart: Chart,
    name: str | None,
    limits: Limits,
    label: str = "",
) -> View:
    """The data of one chart of ``metric`` (for one component or field when ``name`` is set)."""
    options = dict(chart.options)
    try:
        data = chart_data(summaries, metric, chart.kind, name, options, limits)
    except ChartError as exc:
        raise SiteError(f"metric {metric.key}, chart {chart.kind}: {exc}") from None
    key_title = KEY_TITLES.get(options.get("labels", ""), "value")
    return View(data_path(chart, name), chart.kind, data, label, key_title)


def chart_data(
    summaries: Sequence[Summary],
    metric: Metric,
    kind: str,
    name: str | None,
    options: Mapping[str, str],
    limits: Limits,
) -> ChartData:
    """Dispatch one chart kind of ``builder.metrics.Chart`` to its transform."""
    agg = metric.aggregate
    if kind == "versions_over_time":
        apart = (agg.missing,) if isinstance(agg, VersionsAlongside) else ()
        series = charts.count_series(summaries, metric, name)
        return charts.versions_over_time(series, limits, apart)
    if kind == "percentiles_over_time":
        if not isinstance(agg, CountBuckets) or name is None:
            raise ChartError("percentiles are drawn from one field of bucket counts")
        rows = decisions.percentiles_over_time(summaries, metric.key, name)
        names = [label for _, label in decisions.PERCENTILES]
        return charts.percentiles_over_time(rows, names, limits)
    if kind == "buckets_over_time":
        return charts.buckets_over_time(
            charts.count_series(summaries, metric, name),
            limits,
            zero_alone=options.get("zero", "alone") == "alone",
            largest_first=options.get("order") == "largest_first",
        )
    if kind == "newest_pie":
        labels = options.get("labels", "plain")
        if labels not in charts.LABELS:
            raise ChartError(f"unknown label format {labels!r}")
        series = charts.count_series(summaries, metric, name)
        return charts.newest_pie(series, limits, labels=labels)
    if kind == "means_over_time":
        fields = getattr(metric.aggregate, "fields", ())
        return charts.means_over_time(charts.mean_series(summaries, metric), fields, limits)
    raise ChartError(f"unknown chart kind {kind!r}")


def fill(text: str, name: str) -> str:
    return text.replace("{name}", name.replace("_", " "))


def metric_figures(
    summaries: Sequence[Summary], metric: Metric, chart: Chart, settings: Settings
) -> list[Figure]:
    """The figures of a chart not drawn per component: one, or one per field of a CountEach."""
    if "{name}" not in chart.data:
        view = make_view(summaries, metric, chart, None, settings.limits)
        return [Figure(chart.title, chart.description, (view,))]
    agg = metric.aggregate
    if not isinstance(agg, CountEach | CountBuckets):
        raise SiteError(
            f"metric {metric.key}: only versions, CountEach and CountBuckets charts take {{name}}"
        )
    if dict(chart.options).get("fields") == "views":  # one figure, a switch between fields
        views = tuple(
            make_view(summaries, metric, chart, f, settings.limits, field_label(f))
            for f in agg.fields
        )
        make_panel = FIGURE_PANELS.get(chart.kind)
        panel = make_panel(summaries, metric) if make_panel is not None else None
        return [Figure(chart.title, chart.description, views, switch="Measure", panel=panel)]
    return [
        Figure(
            fill(chart.title, f),
            fill(chart.description, f),
            (make_view(summaries, metric, chart, f, settings.limits),),
        )
        for f in agg.fields
    ]


def field_label(name: str) -> str:
    """A field as a switch names it: ``custom_roles`` -> ``Custom roles``."""
    return name.replace("_", " ").capitalize()


def sizes_panel(summaries: Sequence[Summary], metric: Metric) -> Panel:
    """The newest day's median and 90th percentile of each field of a bucket metric, beside the
    mean of the metric it follows (when that is a mean of the same fields)."""
    fields = getattr(metric.aggregate, "fields", ())
    return SizesPanel.of(
        summaries, metric.key, fields, decisions.followed_means(metric), metric.title
    )


def view_label(metric: Metric) -> str:
    """The switch label of a version chart: X.Y for two parts, X.Y.Z for whole versions."""
    parts = getattr(metric.aggregate, "parts", None)
    return "X.Y.Z" if parts is None else ".".join("XYZW"[:parts] if parts <= 4 else "X" * parts)


def component_page(
    summaries: Sequence[Summary],
    name: str,
    per_kind: Mapping[tuple[str, str], Sequence[tuple[Metric, Chart]]],
    settings: Settings,
) -> Page:
    """One component: its panel of figures, a figure per chart kind and aggregate (several
    metrics of both are its views: X.Y and X.Y.Z), then its upgrade pace. The core versions
    among its systems are not drawn on core's own page."""
    figures = []
    for group in per_kind.values():
        group = [(m, c) for m, c in group if getattr(m.aggregate, "of", None) != name]
        if not group:  # pulpcore versions among systems running core: not drawn
            continue
        views = tuple(
            make_view(
                summaries, metric, chart, name, settings.limits,
                view_label(metric) if len(group) > 1 else "",
            )
            for metric, chart in group
        )  # fmt: skip
        first = group[0][1]
        title, description = first.title.replace("{name}", name), first.description
        page_title = first.title.replace("{name}", slug(name))
        empty = ""
        if isinstance(group[0][0].aggregate, VersionsAlongside):
            empty = f"No day counts them for {name} yet (days imported from the old site do not)."
        figures.append(
            Figure(title, description.replace("{name}", name), views, page_title, empty=empty)
        )
    figures.append(pace_figure(summaries, name, settings))
    safe = SAFE_NAME.fullmatch(name) is not None
    intro = "" if safe else f"Reported component name: {name}"
    panel = ComponentPanel.of(summaries, name, f"{API_DIR}/{api_component_file(name)}")
    return Page(
        component_src(name), slug(name), "Components", intro, tuple(figures), panels=(panel,)
    )


def pace_figure(summaries: Sequence[Summary], name: str, settings: Settings) -> Figure:
    """A component's upgrade pace: the table of every X.Y release (``PacePanel``) above the
    adoption curves of its newest releases first seen since the summaries began."""
    paces = decisions.upgrade_pace(summaries, name)
    recent = [p for p in paces if not p.before_history][: settings.limits.individual]
    curves = decisions.adoption_curves(summaries, name, recent, ADOPTION_DAYS)
    data = charts.adoption_curves([(c.version, c.shares) for c in curves], decisions.PACE_PERCENTS)
    start = summaries[0].date.isoformat() if summaries else "the first day"
    view = View(f"upgrade_pace/{slug(name)}.json", "adoption_curves", data)
    description = (
        f"How fast each X.Y release of {name} was taken up. The table gives, for each release, "
        f"the first day a persistent system ran it and the days until it ran on 10% and on "
        f"50% of the systems running {name}. The chart draws, for the newest releases first "
        f"seen since {start}, their share (in %) of those systems over the first "
        f"{ADOPTION_DAYS} days after."
    )
    return Figure(
        f"{name} upgrade pace",
        description,
        (view,),
        page_title=f"{slug(name)} upgrade pace",
        panel=PacePanel.of(summaries, name, paces),
        empty=f"No release of {name} was first seen after {start}, the first day of the "
        "summaries: the table has every release.",
    )


def minimums_figure(summaries: Sequence[Summary], settings: Settings) -> Figure:
    """What a minimum PostgreSQL version would leave behind: the newest day's table
    (``MinimumsPanel``) above the share below each candidate minimum per day."""
    newest = summaries[-1].metrics.get(decisions.POSTGRESQL, {}) if summaries else {}
    candidates = decisions.candidate_minimums(newest)
    labels = [f"below {decisions.major_label(m)}" for m in candidates]
    data = charts.shares_over_time(
        decisions.below_over_time(summaries, candidates), labels, settings.limits
    )
    return Figure(
        "PostgreSQL minimum: systems left behind",
        "For each major PostgreSQL version in use on the newest day as a minimum, the share "
        "(in %) of the systems whose version is known that run an older one, per day. "
        "Systems that did not say (unknown) are left out.",
        (View(MINIMUMS, "shares_over_time", data),),
        panel=MinimumsPanel.of(summaries),
    )


# Decision panels above a chart whose views are the fields of a metric, by the chart's kind.
FIGURE_PANELS: dict[str, Callable[[Sequence[Summary], Metric], Panel]] = {
    "percentiles_over_time": sizes_panel,
}

# Decision figures placed right after the charts of a metric, by the metric's key.
FOLLOWERS: dict[str, Callable[[Sequence[Summary], Settings], Figure]] = {
    decisions.POSTGRESQL: minimums_figure,
}


def api_component_file(name: str) -> str:
    """A component's file under API_DIR; names beyond [a-z0-9_] get a neutral slug."""
    return f"components/{slug(name)}.json"


def component_src(name: str) -> str:
    """A component's page: a folder of its own under components/, so that no name (``index``
    included) can take the place of the components index or of another page."""
    return f"components/{slug(name)}/index.md"


def metric_page(title: str, figures: Sequence[Figure]) -> Page:
    src = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "metric"
    if src in RESERVED:
        src += "-charts"
    return Page(f"{src}.md", title, figures=tuple(figures))


def overview_page(
    summaries: Sequence[Summary], others: Sequence[Figure], settings: Settings
) -> Page:
    limits = settings.limits
    core = {
        SYSTEMS: Figure(
            "Systems reporting per day",
            "Every system that reported that day, and the persistent ones among them "
            "(those the other charts count).",
            (View(SYSTEMS, "systems_over_time", charts.systems_over_time(summaries, limits)),),
        ),
        SYSTEMS_BY_AGE: Figure(
            "Systems by age",
            "Systems reporting each day by how many days ago they first reported.",
            (
                View(
                    SYSTEMS_BY_AGE,
                    "buckets_over_time",
                    charts.buckets_over_time(
                        charts.age_series(summaries), limits, zero_alone=True, largest_first=True
                    ),
                ),
            ),
        ),
        DEMOGRAPHY: Figure(
            "Demography",
            "Systems reporting on the newest day by age in days, and how many are at least "
            "that old (accumulated).",
            (
                View(
                    DEMOGRAPHY,
                    "demography",
                    charts.demography(summaries[-1].age_count if summaries else {}, limits),
                ),
            ),
        ),
    }
    by_path = {v.path: f for f in others for v in f.views} | core
    figures = [by_path[path] for path in settings.overview if path in by_path]
    return Page(
        "index.md",
        "Overview",
        figures=tuple(dict.fromkeys(figures)),
        headline=charts.headline(summaries),
        overview=True,
    )


def components_index(summaries: Sequence[Summary], names: Sequence[str]) -> Page:
    """The components as a table, most persistent systems on the newest day first."""
    intro = (
        "Each component's page has its figures on the newest day, its versions per day and "
        "its upgrade pace."
    )
    table = ComponentsTable.of(summaries, names, component_src)
    return Page("components/index.md", "Components", "Components", intro, panels=(table,))


# -- HTML -----------------------------------------------------------------------------------

Rel = Callable[[str], str]


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_page(page: Page, rel: Rel, settings: Settings = Settings()) -> str:
    """The HTML of a page's generated part; ``rel`` turns a site path into a relative URL."""
    parts = []
    if page.intro:
        parts.append(f'<p class="pa-intro">{esc(page.intro)}</p>')
    if page.overview:
        parts.append(headline_html(page.headline))
    parts.extend(panel.html(rel) for panel in page.panels)
    if page.figures:
        parts.append(
            '<noscript><p class="pa-nojs">The charts need JavaScript; under each chart are its '
            "newest values and a link to its whole table.</p></noscript>"
        )
    parts.extend(figure_html(f, rel, settings) for f in page.figures)
    if page.table is not None:
        parts.append(table_page_html(page.table, rel, settings))
    return "\n".join(parts)


def headline_html(head: charts.Headline | None) -> str:
    if head is None:
        return '<p class="pa-headline pa-empty">No summaries yet.</p>'
    now = head.current
    days = "the 7 days" if now.days == 7 else f"the {now.days} days with data in the 7"
    over = f"mean per day over {days} to {now.last}"
    stats = [
        stat_html(mean_text(now.systems), "systems reporting", over, change_text(head, "systems")),
        stat_html(
            mean_text(now.persistent_systems),
            "persistent systems",
            over,
            change_text(head, "persistent_systems"),
        ),
        stat_html(str(head.day), "newest day", f"{head.systems:,} systems reported", ""),
    ]
    return (
        '<div class="pa-headline" role="group" aria-label="Headline figures">'
        + "".join(stats)
        + "</div>"
    )


def change_text(head: charts.Headline, field: str) -> str:
    change = head.change(field)
    if change is None or head.previous is None:
        return "change: no data in the 7 days before yet"
    diff, relative = change
    percent = (
        f" ({signed(relative, decisions.percent(abs(relative)))})" if relative is not None else ""
    )
    return f"{signed(diff, mean_text(abs(diff)))}{percent} on the 7 days to {head.previous.last}"


def button_group(
    css: str, label: str, attr: str, choices: Sequence[tuple[str, str]], default: str
) -> str:
    """A group of toggle buttons ``(value, text)``, the ``default`` one pressed."""
    buttons = "".join(
        f'<button type="button" data-{attr}="{esc(value)}" '
        f'aria-pressed="{pressed(value == default)}">{esc(text)}</button>'
        for value, text in choices
    )
    return f'<div class="{css}" role="group" aria-label="{esc(label)}">{buttons}</div>'


def figure_html(figure: Figure, rel: Rel, settings: Settings = Settings()) -> str:
    fid = esc(figure.id)
    controls = []
    if figure.kind in charts.TIME_SERIES:
        controls.append(button_group("pa-range", "Date range", "range", RANGES, "all"))
    if len(figure.views) > 1:
        views = [(str(i), view.label) for i, view in enumerate(figure.views)]
        controls.append(button_group("pa-switch", figure.switch, "view", views, "0"))
    if figure.kind in charts.STACKED:
        controls.append(button_group("pa-unit", "Values", "pct", UNITS, "0"))
    title = esc(figure.title)
    empty = f' data-empty="{esc(figure.empty)}"' if figure.empty else ""
    return (
        f'<section class="pa-chart" id="{fid}" data-kind="{esc(figure.kind)}"{empty} '
        f'aria-labelledby="{fid}-title">'
        f'<h2 id="{fid}-title">{title}</h2>'
        + (f'<p class="pa-description">{esc(figure.description)}</p>' if figure.description else "")
        + (figure.panel.html(rel) if figure.panel is not None else "")
        + (f'<div class="pa-controls" hidden>{"".join(controls)}</div>' if controls else "")
        + f'<div class="pa-canvas pa-canvas--{esc(figure.kind)}"><canvas role="img" '
        f'aria-label="{title}: chart; the values are in the table below"></canvas></div>'
        + '<div class="pa-legend" hidden></div>'
        + f'<p class="pa-readout" id="{fid}-readout" aria-live="polite"></p>'
        + "".join(view_html(figure, i, view, rel, settings) for i, view in enumerate(figure.views))
        + source_html(settings.provenance, f"#{figure.id}")
        + "</section>"
    )


def pressed(on: bool) -> str:
    return "true" if on else "false"


def data_links(view: View, rel: Rel, table: bool = True) -> str:
    json_url, csv_url = esc(rel("data/" + view.path)), esc(rel("data/" + view.csv_path))
    links = [
        *([f'<a href="{esc(rel(view.table_src))}">Whole table</a>'] if table else []),
        f'<a href="{json_url}" type="application/json">JSON</a>',
        f'<a href="{csv_url}" download>CSV</a>',
    ]
    return " · ".join(links)


def view_html(
    figure: Figure, index: int, view: View, rel: Rel, settings: Settings = Settings()
) -> str:
    suffix = f" ({view.label})" if view.label else ""
    json_url = esc(rel("data/" + view.path))
    tab = charts.reading_table(view.kind, view.data, view.key_title)
    short, what = recent(tab, view.kind, settings.recent_rows)
    caption = esc(f"{figure.title}{suffix}: {what}")
    table_id = f"{figure.id}-table-{index}"
    return (
        f'<div class="pa-view" data-view="{index}" data-src="{json_url}">'
        f'<p class="pa-data">Data{esc(suffix)}: {data_links(view, rel)}</p>'
        f"<details><summary>{esc(what[:1].upper() + what[1:])}{esc(suffix)}</summary>"
        f"{table_html(short, caption, table_id)}</details></div>"
    )


def recent(tab: charts.Table, kind: str, rows: int) -> tuple[charts.Table, str]:
    """The first ``rows`` rows of a reading table, and what they are in words."""
    if kind == "newest_pie" or len(tab.rows) <= rows:
        return tab, "table"
    what = {"demography": "youngest ages", "adoption_curves": "first days"}.get(kind, "newest days")
    return charts.Table(tab.header, tab.rows[:rows]), f"the {rows} {what}"


def table_page_html(of: TableOf, rel: Rel, settings: Settings) -> str:
    view = of.view
    suffix = f" ({view.label})" if view.label else ""
    tab = charts.reading_table(view.kind, view.data, view.key_title)
    unit = {"demography": "ages", "newest_pie": "values"}.get(view.kind, "days")
    count = f"{len(tab.rows):,} {unit}"
    chart = esc(rel(of.chart) + "#" + of.figure.id)
    return (
        f'<p class="pa-data"><a href="{chart}">The chart</a> · '
        f"{data_links(view, rel, table=False)}</p>"
        + (
            f'<p class="pa-description">{esc(of.figure.description)}</p>'
            if of.figure.description
            else ""
        )
        + table_html(tab, esc(f"{of.figure.title}{suffix}: {count}"), "table", full=True)
        + source_html(settings.provenance)
    )


def source_html(provenance: Provenance, permalink: str = "") -> str:
    """The links under a chart: its summary files and their schema; and a link to the chart."""
    links = []
    if provenance.summaries_url:
        links.append(f'<a href="{esc(provenance.summaries_url)}">Summary files</a>')
    if provenance.schema_url:
        links.append(f'<a href="{esc(provenance.schema_url)}">JSON Schema</a>')
    if permalink:
        links.append(f'<a class="pa-permalink" href="{esc(permalink)}">Link to this view</a>')
    if not links:
        return ""
    return f'<p class="pa-source">Source: {" · ".join(links)}</p>'


def table_html(tab: charts.Table, caption: str, table_id: str, full: bool = False) -> str:
    """An HTML table of a chart's data in a scrollable region with a sticky header;
    ``caption`` is already escaped."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in tab.header)
    body = "".join(
        f'<tr><th scope="row">{esc(row[0])}</th>' + "".join(map(cell_html, row[1:])) + "</tr>"
        for row in tab.rows
    )
    if not tab.rows:
        body = f'<tr><td colspan="{len(tab.header)}">No data yet.</td></tr>'
    foot = ""
    if tab.footer:
        foot = (
            f'<tfoot><tr><th scope="row">{esc(tab.footer[0])}</th>'
            + "".join(map(cell_html, tab.footer[1:]))
            + "</tr></tfoot>"
        )
    css = "pa-table pa-table--full" if full else "pa-table"
    tab_css = "pa-tab pa-tab--totals" if tab.total_column else "pa-tab"
    return (
        f'<div class="{css}" role="region" tabindex="0" aria-labelledby="{table_id}">'
        f'<table class="{tab_css}"><caption id="{table_id}">{caption}</caption>'
        f"<thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody>{foot}</table></div>"
    )


def cell_html(cell: charts.Cell) -> str:
    if cell is None:
        return "<td>n/a</td>"
    if isinstance(cell, int | float):
        return f"<td>{cell}</td>"
    return f"<td>{esc(cell)}</td>"


# -- loading and building -------------------------------------------------------------------


def check_out_dir(out: Path, protected: Iterable[Path]) -> None:
    """MkDocs empties the output folder first: refuse one that holds the sources."""
    target = out.resolve()
    for path in protected:
        inside = path.resolve()
        if inside == target or target in inside.parents:
            raise SiteError(f"{out}: the output folder would contain {path}; choose another")


def build_site(
    summaries: Path,
    deployment: str,
    out: Path,
    *,
    revision: str | None = None,
    config_file: Path = CONFIG_FILE,
    site_url: str | None = None,
) -> None:
    """Build the site of one deployment into ``out`` (emptied first) with MkDocs.

    ``site_url`` defaults to mkdocs.yml's, with ``dev/`` appended for the dev deployment: the
    Pages workflow publishes prod at the root and dev below it.
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    if deployment not in DEPLOYMENTS:
        raise SiteError(f"unknown deployment {deployment!r} (one of {', '.join(DEPLOYMENTS)})")
    if not summaries.is_dir():
        raise SiteError(f"{summaries}: no such directory of summaries")
    check_out_dir(out, (config_file.parent / "site_src", config_file, summaries))
    try:
        config = load_config(str(config_file), site_dir=str(out.resolve()))
        plugin = config.plugins[PLUGIN_NAME]
        plugin.config.summaries = str(summaries.resolve())
        plugin.config.deployment = deployment
        plugin.config.revision = revision or head_revision(summaries)
        base = site_url or config.site_url or "/"
        if site_url is None and deployment == "dev":
            base = base.rstrip("/") + "/dev/"
        config.site_url = base if base.endswith("/") else base + "/"
        build(config)
    except MkDocsException as exc:
        raise SiteError(f"mkdocs: {exc}") from None
