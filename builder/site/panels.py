"""The decision views' HTML: figures from ``builder.site.decisions``, laid out for people.

A panel is server-rendered HTML that needs no JavaScript: the figures that open a component
page, the table of PostgreSQL minimums above their chart, the table of a component's upgrade
pace above its adoption chart, and the components index's ranked table with its filter box.
Each is a frozen dataclass made from the summaries by its ``of`` and turned into HTML by
``html(rel)``; ``builder.site.pages`` places them. Every figure comes from
``builder.site.decisions`` (as the public API's do); this module only formats them. Strings
from clients (component names, versions) are escaped here.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from builder.buckets import Bucket
from builder.site import decisions
from builder.site.decisions import Minimum, Pace, PostgresqlDay, Trend, Usage, VersionShare
from builder.summaries.summary import Summary

Rel = Callable[[str], str]  # a site path -> a URL relative to the page
MINUS = "\u2212"
FILTER_ID = "pa-filter-components"
COMPONENTS_TABLE_ID = "pa-components"


class Panel(Protocol):
    """Anything a page or a figure shows as server-rendered HTML."""

    def html(self, rel: Rel) -> str: ...


# -- small pieces ---------------------------------------------------------------------------


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def stat_html(value: str, label: str, detail: str, change: str = "") -> str:
    """One headline figure: its value, what it is, a detail line and an optional change."""
    return (
        f'<div class="pa-stat"><span class="pa-stat__value">{esc(value)}</span>'
        f'<span class="pa-stat__label">{esc(label)}</span>'
        f'<span class="pa-stat__detail">{esc(detail)}</span>'
        + (f'<span class="pa-stat__change">{esc(change)}</span>' if change else "")
        + "</div>"
    )


def mean_text(value: float) -> str:
    """A mean of systems for people: whole systems from 100 on, one decimal below."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def signed(value: float, text: str) -> str:
    """``text`` (a magnitude) with the sign of ``value``: "+3.5", or a real minus sign
    (U+2212) before "2.0"."""
    return ("+" if value >= 0 else MINUS) + text


def change_text(trend: Trend) -> str:
    """A trend for people: "+14.5 (+24.2%)", "+3.0" when the previous mean was 0, "n/a"."""
    change = trend.change
    if change is None:
        return "n/a"
    text = signed(change, mean_text(abs(change)))
    relative = trend.relative
    if relative is None:
        return text
    return f"{text} ({signed(relative, decisions.percent(abs(relative)))})"


@dataclass(frozen=True)
class Cell:
    """A table cell's text (escaped when rendered), or ``html`` when it holds a link."""

    text: str = ""
    html: str = ""


def cell(value: str | int | Cell) -> Cell:
    if isinstance(value, Cell):
        return value
    return Cell(f"{value:,}" if isinstance(value, int) else value)


def table_html(
    table_id: str,
    caption: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str | int | Cell]],
    empty: str,
) -> str:
    """A table of decision figures, the first cell of each row its header, in a scrollable
    region the keyboard can reach (as the charts' tables); ``empty`` fills a table without
    rows. Every text is escaped here."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            (f'<th scope="row">{c.html or esc(c.text)}</th>' if i == 0 else
             f"<td>{c.html or esc(c.text)}</td>")
            for i, c in enumerate(map(cell, row))
        )
        + "</tr>"
        for row in rows
    )  # fmt: skip
    if not rows:
        body = f'<tr><td colspan="{len(header)}">{esc(empty)}</td></tr>'
    caption_id = f"{table_id}-caption"
    return (
        f'<div class="pa-table" role="region" tabindex="0" aria-labelledby="{caption_id}">'
        f'<table class="pa-tab pa-tab--decision" id="{esc(table_id)}">'
        f'<caption id="{caption_id}">{esc(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def note_html(text: str) -> str:
    return f'<p class="pa-note">{esc(text)}</p>'


# -- a component page's opening panel -------------------------------------------------------


@dataclass(frozen=True)
class ComponentPanel:
    """A component on the newest day: systems and share, the 30-day mean, the newest and the
    oldest version in use, and its X.Y versions with "this version or older"."""

    name: str
    usage: Usage
    month: decisions.WindowMean
    versions: tuple[VersionShare, ...]
    z_versions: tuple[VersionShare, ...]
    other_systems: int
    api_src: str  # the component's file of the JSON API, a site path

    @classmethod
    def of(cls, summaries: Sequence[Summary], name: str, api_src: str) -> ComponentPanel:
        newest = summaries[-1]
        xy = decisions.component_counts(newest, name, decisions.XY)
        xyz = decisions.component_counts(newest, name, decisions.XYZ)
        return cls(
            name=name,
            usage=decisions.usage(newest, name),
            month=decisions.window_mean(summaries, name, decisions.TREND_WINDOW),
            versions=tuple(decisions.version_shares(xy)),
            z_versions=tuple(decisions.version_shares(xyz)),
            other_systems=decisions.other_systems(xy),
            api_src=api_src,
        )

    def html(self, rel: Rel) -> str:
        day = self.usage.day.isoformat()
        return (
            '<section class="pa-panel" aria-labelledby="pa-panel-title">'
            f'<h2 id="pa-panel-title">In use on {day}</h2>'
            f'<div class="pa-headline" role="group" aria-label="{esc(self.name)} on {day}">'
            + "".join(self.stats())
            + "</div>"
            + table_html(
                "pa-versions",
                f"{self.name} X.Y versions on {day}, newest first",
                ("version", "systems", "share", "this version or older"),
                [version_row(v) for v in self.versions],
                f"No persistent system ran {self.name} on {day}.",
            )
            + self.notes()
            + f'<p class="pa-data">The same figures as JSON: <a href="{esc(rel(self.api_src))}" '
            f'type="application/json">{esc(self.api_src)}</a></p>'
            "</section>"
        )

    def stats(self) -> list[str]:
        use, month, day = self.usage, self.month, self.usage.day.isoformat()
        window = month.length
        if month.mean_systems is None:
            mean, mean_detail = "n/a", f"no summary in the newest {window} days"
        else:
            days = (
                f"{window} days"
                if month.days == window
                else f"the {month.days} days with data of {window}"
            )
            mean = mean_text(month.mean_systems)
            mean_detail = (
                f"systems per day over {days}; {decisions.percent(month.mean_share)} "
                "of persistent systems"
            )
        return [
            stat_html(f"{use.systems:,}", "persistent systems", f"run {self.name} on {day}"),
            stat_html(
                decisions.percent(use.share),
                "of all persistent systems",
                f"{use.systems:,} of {use.persistent_systems:,}",
            ),
            stat_html(mean, f"{window}-day mean", mean_detail),
            version_stat("newest version in use", self.versions[:1], self.z_versions[:1]),
            version_stat("oldest version in use", self.versions[-1:], self.z_versions[-1:]),
        ]

    def notes(self) -> str:
        if not self.other_systems:
            return ""
        listed = sum(v.systems for v in self.versions)
        return note_html(
            f"{self.other_systems:,} more systems run versions too rare to publish (other); "
            f"the shares are of the {listed:,} systems whose version is listed."
        )


def version_row(v: VersionShare) -> tuple[str, int, str, str]:
    share, older = decisions.percent(v.share), decisions.percent(v.share_this_or_older)
    return (v.version, v.systems, share, older)


def version_stat(label: str, xy: Sequence[VersionShare], xyz: Sequence[VersionShare]) -> str:
    if not xy:
        return stat_html("none", label, "no listed version on the newest day")
    detail = f"X.Y.Z: {xyz[0].version}" if xyz else "no listed X.Y.Z version"
    return stat_html(xy[0].version, label, detail)


# -- PostgreSQL minimums --------------------------------------------------------------------


@dataclass(frozen=True)
class MinimumsPanel:
    """The newest day's share of systems below each candidate minimum PostgreSQL version."""

    day: date | None
    persistent_systems: int
    versions: PostgresqlDay
    minimums: tuple[Minimum, ...]

    @classmethod
    def of(cls, summaries: Sequence[Summary]) -> MinimumsPanel:
        newest = summaries[-1] if summaries else None
        counts: Mapping[str, int] = newest.metrics.get(decisions.POSTGRESQL, {}) if newest else {}
        return cls(
            day=newest.date if newest else None,
            persistent_systems=newest.persistent_systems if newest else 0,
            versions=decisions.postgresql_day(counts),
            minimums=tuple(decisions.minimums(counts)),
        )

    def html(self, rel: Rel) -> str:
        if self.day is None:
            return '<p class="pa-lead">No summaries yet.</p>'
        day, pg = self.day.isoformat(), self.versions
        left_out = []
        if pg.unknown_systems:
            left_out.append(f"{pg.unknown_systems:,} did not say (unknown)")
        if pg.other_systems:  # rare versions, and unknown too when few systems did not say
            left_out.append(
                f"{pg.other_systems:,} run a version too rare to publish or did not say (other)"
            )
        lead = (
            f"On {day}, {pg.known_systems:,} of {self.persistent_systems:,} persistent systems "
            "reported a known PostgreSQL version"
            + (f"; {' and '.join(left_out)}" if left_out else "")
            + ". The shares are of the systems whose version is known: the others are neither"
            " below nor above any minimum."
        )
        return f'<p class="pa-lead">{esc(lead)}</p>' + table_html(
            "pa-minimums",
            f"Systems below each candidate minimum on {day}",
            ("minimum", "systems below", "share below"),
            [(m.minimum, m.systems_below, decisions.percent(m.share_below)) for m in self.minimums],
            f"No known PostgreSQL version on {day}.",
        )


# -- sizes: median and 90th percentile beside the mean --------------------------------------


@dataclass(frozen=True)
class SizeRow:
    """One measure (worker processes, say) on one day."""

    field: str
    systems: int  # that sent the number (the buckets added up)
    mean: float | None  # from the metric of means, when the page has one
    percentiles: tuple[Bucket | None, ...]  # one per decisions.PERCENTILES


@dataclass(frozen=True)
class SizesPanel:
    """The newest day's median and 90th percentile of each field of a bucket metric, beside its
    mean: one large installation moves a mean, not a median."""

    key: str  # the bucket metric's key: the table's id
    title: str  # what is measured: "Online workers"
    day: date | None
    rows: tuple[SizeRow, ...]

    @classmethod
    def of(
        cls,
        summaries: Sequence[Summary],
        key: str,
        fields: Sequence[str],
        means_key: str | None,
        title: str,
    ) -> SizesPanel:
        newest = next((s for s in reversed(summaries) if key in s.metrics), None)
        if newest is None:
            return cls(key, title, None, ())
        counts, means = newest.metrics[key], newest.metrics.get(means_key or "", {})
        rows = tuple(
            SizeRow(
                field,
                decisions.systems_in_buckets(counts.get(field, {})),
                means.get(f"{field}__avg"),
                decisions.percentiles(counts.get(field, {})),
            )
            for field in fields
        )
        return cls(key, title, newest.date, rows)

    def html(self, rel: Rel) -> str:
        if self.day is None:
            return note_html(
                "No day has these counts yet (days imported from the old site do not)."
            )
        day = self.day.isoformat()
        names = [name for _, name in decisions.PERCENTILES]
        return table_html(
            f"pa-sizes-{self.key}",
            f"{self.title.removesuffix(' by bucket')} per system on {day}",
            ("measure", "systems", "mean", *names),
            [self.row(r) for r in self.rows],
            f"No system reported these numbers on {day}.",
        ) + note_html(
            "Systems: those that reported the number. The median and the 90th percentile are "
            "the bucket they fall in (every number up to 8, then 9-16, 17-32, ...); n/a where "
            "too few systems reported it to publish."
        )

    @staticmethod
    def row(row: SizeRow) -> tuple[str, int, str, *tuple[str, ...]]:
        mean = "n/a" if row.mean is None else f"{row.mean:,.2f}"
        cells = ("n/a" if b is None else b.label for b in row.percentiles)
        return (row.field.replace("_", " "), row.systems, mean, *cells)


# -- upgrade pace ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PacePanel:
    """Each X.Y release of a component: first seen, days to 10 % and 50 % of its systems."""

    name: str
    start: date | None  # the first day of the summaries
    day: date | None  # the newest
    paces: tuple[Pace, ...]
    shares: Mapping[str, float | None]  # each X.Y's share on the newest day

    @classmethod
    def of(cls, summaries: Sequence[Summary], name: str, paces: Sequence[Pace]) -> PacePanel:
        newest = summaries[-1] if summaries else None
        counts = decisions.component_counts(newest, name) if newest else {}
        return cls(
            name=name,
            start=summaries[0].date if summaries else None,
            day=newest.date if newest else None,
            paces=tuple(paces),
            shares={v.version: v.share for v in decisions.version_shares(counts)},
        )

    def html(self, rel: Rel) -> str:
        percents = decisions.PACE_PERCENTS
        day = self.day.isoformat() if self.day else "the newest day"
        table = table_html(
            "pa-pace",
            f"{self.name} X.Y releases, newest first: days from first seen to "
            + " and ".join(f"{p}%" for p in percents)
            + f" of {self.name}'s systems",
            (
                "release",
                "first seen",
                *(f"days to {p}%" for p in percents),
                f"share on {day}",
            ),
            [self.row(p) for p in self.paces],
            f"No release of {self.name} in the summaries.",
        )
        before = [p.version for p in self.paces if p.before_history]
        note = ""
        if before and self.start is not None:
            start = self.start.isoformat()
            note = note_html(
                f"{', '.join(before)} already ran on {start}, the first day of the summaries: "
                "they came out earlier, on a day the summaries do not know, so their days are "
                f'counted from {start} ("at least") rather than from their release.'
            )
        return table + note

    def row(self, pace: Pace) -> tuple[str, ...]:
        seen = pace.first_seen.isoformat()
        first = f"{seen} or before" if pace.before_history else seen
        days = [days_text(pace.days_to[p], pace.before_history) for p in decisions.PACE_PERCENTS]
        # A release nobody runs any more has a share of 0, unless nobody runs the component.
        share = self.shares.get(pace.version, 0.0 if self.shares else None)
        return (pace.version, first, *days, decisions.percent(share))


def days_text(days: int | None, before_history: bool) -> str:
    """Days to a share, for people: "12", "not yet"; for a release older than the summaries,
    "before the summaries" (reached on their first day) or "at least 12"."""
    if days is None:
        return "not yet"
    if not before_history:
        return f"{days:,}"
    return "before the summaries" if days == 0 else f"at least {days:,}"


# -- the components index -------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentRow:
    name: str
    src: str  # its page, a site path
    usage: Usage
    trend: Trend


@dataclass(frozen=True)
class ComponentsTable:
    """Every component drawn, most systems on the newest day first, with its share and its
    30-day trend; a filter box (JavaScript) hides the rows whose name does not match."""

    day: date | None
    rows: tuple[ComponentRow, ...]

    @classmethod
    def of(
        cls, summaries: Sequence[Summary], names: Sequence[str], src: Callable[[str], str]
    ) -> ComponentsTable:
        if not summaries:
            return cls(None, ())
        newest = summaries[-1]
        rows = tuple(
            ComponentRow(
                name, src(name), decisions.usage(newest, name), decisions.trend(summaries, name)
            )
            for name in decisions.rank(newest, names)
        )
        return cls(newest.date, rows)

    def html(self, rel: Rel) -> str:
        day = self.day.isoformat() if self.day else "the newest day"
        total = len(self.rows)
        window = decisions.TREND_WINDOW
        return (
            '<div class="pa-filter" hidden>'
            f'<label for="{FILTER_ID}">Filter components by name</label>'
            f'<input type="search" id="{FILTER_ID}" autocomplete="off" spellcheck="false" '
            f'data-filter="{COMPONENTS_TABLE_ID}" data-noun="components" '
            f'aria-controls="{COMPONENTS_TABLE_ID}">'
            f'<p class="pa-filter__count" role="status" aria-live="polite"></p></div>'
            + table_html(
                COMPONENTS_TABLE_ID,
                f"Components by persistent systems running them on {day}: {total:,} components",
                (
                    "component",
                    "systems",
                    "share",
                    f"{window}-day mean",
                    f"{window}-day trend",
                ),
                [self.row(r, rel) for r in self.rows],
                "No components yet.",
            )
            + note_html(
                f"Share: of all persistent systems on {day}. Trend: the change of the mean "
                f"systems per day over the newest {window} days against the {window} days "
                "before (n/a without a summary in those days)."
            )
        )

    def row(self, row: ComponentRow, rel: Rel) -> tuple[Cell, int, str, str, str]:
        link = Cell(html=f'<a href="{esc(rel(row.src))}">{esc(row.name)}</a>')
        mean = row.trend.current.mean_systems
        return (
            link,
            row.usage.systems,
            decisions.percent(row.usage.share),
            "n/a" if mean is None else mean_text(mean),
            change_text(row.trend),
        )
