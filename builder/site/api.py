"""The public JSON API (SPEC §9): static files under ``api/v1/`` beside the pages.

``index.json`` (the deployment and its components, most used first), ``components/<name>.json``
(systems, share, window means, versions with "this version or older", upgrade pace, the core
versions its systems run), ``badges/<name>.json`` (shields.io endpoint badges),
``postgresql.json`` (versions ascending and what each candidate minimum would leave behind)
and ``deployments.json`` (workers and content apps: mean, median, 90th percentile and the
buckets behind them), with their JSON Schemas under
``schema/`` (kept in ``proto/api/``). Every figure comes from ``builder.site.decisions``; this
module only shapes and rounds them. Version 1 only ever gains fields; a breaking change is
``api/v2/``. docs/api.md and the site's API page describe every field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from builder.buckets import Bucket
from builder.metrics import METRICS, CountBuckets
from builder.site import decisions
from builder.site.decisions import Pace, PostgresqlDay, Trend, VersionShare, WindowMean
from builder.site.pages import (
    API_DIR,
    ROOT,
    SAFE_NAME,
    Settings,
    api_component_file,
    components,
    slug,
)
from builder.summaries.summary import Summary, dumps

SCHEMA_SOURCE = ROOT / "proto" / "api"
SCHEMAS = ("index", "component", "badge", "postgresql", "deployments")
SHARE_DIGITS = 4  # shares: 0.0001 is one system in ten thousand
MEAN_DIGITS = 2
BADGE_WINDOW = decisions.TREND_WINDOW  # days of the mean a badge shows
BADGE_COLOR = "blue"
BADGE_NO_DATA_COLOR = "lightgrey"
BADGE_CACHE_SECONDS = 3600  # shields.io may keep a badge this long; the site changes daily

Document = dict[str, Any]


def api_files(summaries: Sequence[Summary], settings: Settings, deployment: str) -> dict[str, str]:
    """Every file of the API, by its path in the site, as JSON text.

    The components are those the site draws (``builder.site.pages.components``), so the API
    and the pages always publish the same names.
    """
    names = components(summaries, settings)
    files = {
        f"{API_DIR}/index.json": index_document(summaries, names, deployment),
        f"{API_DIR}/postgresql.json": postgresql_document(summaries, deployment),
        f"{API_DIR}/deployments.json": deployments_document(summaries, deployment),
    }
    for name in names:
        means = decisions.window_means(summaries, name)
        files[f"{API_DIR}/{api_component_file(name)}"] = component_document(
            summaries, name, deployment, means
        )
        files[f"{API_DIR}/{badge_file(name)}"] = badge_document(name, window_of(means))
    texts = {path: dumps(document) for path, document in files.items()}
    for schema in SCHEMAS:
        texts[f"{API_DIR}/schema/{schema}.schema.json"] = schema_path(schema).read_text("utf-8")
    return texts


def schema_path(schema: str) -> Path:
    """The JSON Schema of one kind of API file, as kept in the repository."""
    return SCHEMA_SOURCE / f"{schema}.schema.json"


def badge_file(name: str) -> str:
    return f"badges/{slug(name)}.json"


def share(value: float | None) -> float | None:
    return None if value is None else round(value, SHARE_DIGITS)


def mean(value: float | None) -> float | None:
    return None if value is None else round(value, MEAN_DIGITS)


def day_text(summaries: Sequence[Summary], index: int) -> str | None:
    return summaries[index].date.isoformat() if summaries else None


# -- index.json -----------------------------------------------------------------------------


def index_document(summaries: Sequence[Summary], names: Sequence[str], deployment: str) -> Document:
    """The deployment's newest day and its components, most used on that day first."""
    newest = summaries[-1] if summaries else None
    listed = []
    if newest is not None:  # without summaries there are no components
        for name in decisions.rank(newest, names):
            use = decisions.usage(newest, name)
            listed.append(
                {
                    "name": name,
                    "systems": use.systems,
                    "share": share(use.share),
                    "trend": trend_document(decisions.trend(summaries, name)),
                    "file": api_component_file(name),
                    "badge": badge_file(name),
                }
            )
    return {
        "deployment": deployment,
        "newest_day": day_text(summaries, -1),
        "oldest_day": day_text(summaries, 0),
        "days": len(summaries),
        "systems": newest.systems if newest else None,
        "persistent_systems": newest.persistent_systems if newest else None,
        "components": listed,
    }


# -- components/<name>.json -------------------------------------------------------------------


def component_document(
    summaries: Sequence[Summary], name: str, deployment: str, means: Sequence[WindowMean]
) -> Document:
    """One component on the newest day, its window means, versions and upgrade pace."""
    newest = summaries[-1]
    use = decisions.usage(newest, name)
    xy = decisions.component_counts(newest, name, decisions.XY)
    xyz = decisions.component_counts(newest, name, decisions.XYZ)
    return {
        "name": name,
        "deployment": deployment,
        "newest_day": newest.date.isoformat(),
        "systems": use.systems,
        "persistent_systems": use.persistent_systems,
        "share": share(use.share),
        "windows": {f"{w.length}d": window_document(w) for w in means},
        "trend": trend_document(decisions.trend(summaries, name)),
        "versions": [version_document(v) for v in decisions.version_shares(xy)],
        "other_systems": decisions.other_systems(xy),
        "z_versions": [version_document(v) for v in decisions.version_shares(xyz)],
        "z_other_systems": decisions.other_systems(xyz),
        "upgrade_pace": [pace_document(p) for p in decisions.upgrade_pace(summaries, name)],
        **core_versions_fields(newest, name),
    }


def core_versions_fields(newest: Summary, name: str) -> Document:
    """The core X.Y versions among the component's systems on the newest day; null for core
    itself and on a day without them (history imported from the old site)."""
    core = decisions.core_versions(newest, name)
    if core is None:
        return {"core_versions": None, "core_other_systems": None, "no_core_systems": None}
    return {
        "core_versions": [version_document(v) for v in core.versions],
        "core_other_systems": core.other_systems,
        "no_core_systems": core.no_core_systems,
    }


def window_document(w: WindowMean) -> Document:
    return {
        "mean_systems": mean(w.mean_systems),
        "mean_share": share(w.mean_share),
        "days": w.days,
        "share_days": w.share_days,
    }


def trend_document(t: Trend) -> Document:
    """The mean of the newest window against the window just before it, as the components
    index of the site shows it ("is it gaining systems?")."""
    return {
        "length_days": t.current.length,
        "mean_systems": mean(t.current.mean_systems),
        "days": t.current.days,
        "previous_mean_systems": mean(t.previous.mean_systems),
        "previous_days": t.previous.days,
        "change": mean(t.change),
        "relative_change": share(t.relative),
    }


def version_document(v: VersionShare) -> Document:
    return {
        "version": v.version,
        "systems": v.systems,
        "share": share(v.share),
        "share_this_or_older": share(v.share_this_or_older),
    }


def pace_document(p: Pace) -> Document:
    out: Document = {"version": p.version, "first_seen": p.first_seen.isoformat()}
    out.update({f"days_to_{percent}": days for percent, days in p.days_to.items()})
    out["before_history"] = p.before_history
    return out


# -- badges/<name>.json ---------------------------------------------------------------------


def window_of(means: Sequence[WindowMean], length: int = BADGE_WINDOW) -> WindowMean | None:
    return next((w for w in means if w.length == length), None)


def badge_document(name: str, window: WindowMean | None) -> Document:
    """A shields.io endpoint badge: the 30-day mean of systems running ``name``, for people."""
    label = f"{name} systems" if SAFE_NAME.fullmatch(name) else "systems"
    if window is None or window.mean_systems is None:
        message, color = "no data", BADGE_NO_DATA_COLOR
    else:
        message, color = decisions.people(window.mean_systems), BADGE_COLOR
    return {
        "schemaVersion": 1,
        "label": label,
        "message": message,
        "color": color,
        "cacheSeconds": BADGE_CACHE_SECONDS,
    }


# -- deployments.json -----------------------------------------------------------------------


def deployments_document(summaries: Sequence[Summary], deployment: str) -> Document:
    """Per measured thing (online workers, content apps) and field (processes, hosts), on the
    newest day with bucket counts: systems, mean, median, 90th percentile and the buckets."""
    measured = [m for m in METRICS if isinstance(m.aggregate, CountBuckets)]
    keys = {m.key for m in measured}
    newest = next((s for s in reversed(summaries) if keys & s.metrics.keys()), None)
    out: Document = {
        "deployment": deployment,
        "newest_day": day_text(summaries, -1),
        "sizes_day": newest.date.isoformat() if newest else None,
    }
    for metric in measured:
        agg = metric.aggregate
        assert isinstance(agg, CountBuckets)
        counts = newest.metrics.get(metric.key, {}) if newest else {}
        means = newest.metrics.get(decisions.followed_means(metric) or "", {}) if newest else {}
        out[agg.path] = {
            field: size_document(counts.get(field, {}), means.get(f"{field}__avg"))
            for field in agg.fields
        }
    return out


def size_document(counts: Mapping[str, int], mean_value: float | None) -> Document:
    median, ninetieth = decisions.percentiles(counts)
    return {
        "systems": decisions.systems_in_buckets(counts),
        "mean": mean(mean_value),
        "median": bucket_document(median),
        "percentile_90": bucket_document(ninetieth),
        "buckets": dict(counts),
    }


def bucket_document(bucket: Bucket | None) -> Document | None:
    if bucket is None:
        return None
    return {"low": bucket.low, "high": bucket.high, "text": bucket.label}


# -- postgresql.json ------------------------------------------------------------------------


def postgresql_document(summaries: Sequence[Summary], deployment: str) -> Document:
    """The newest day's PostgreSQL versions, ascending, and what each minimum leaves behind."""
    newest = summaries[-1] if summaries else None
    counts: Mapping[str, int] = newest.metrics.get(decisions.POSTGRESQL, {}) if newest else {}
    day: PostgresqlDay = decisions.postgresql_day(counts)
    return {
        "deployment": deployment,
        "newest_day": day_text(summaries, -1),
        "persistent_systems": newest.persistent_systems if newest else None,
        "known_systems": day.known_systems,
        "unknown_systems": day.unknown_systems,
        "other_systems": day.other_systems,
        "versions": [
            {
                "version": v.version,
                "server_version_num": v.server_version_num,
                "systems": v.systems,
                "share": share(v.share),
                "share_this_or_older": share(v.share_this_or_older),
            }
            for v in day.versions
        ],
        "minimums": [
            {
                "minimum": m.minimum,
                "server_version_num": m.server_version_num,
                "systems_below": m.systems_below,
                "share_below": share(m.share_below),
            }
            for m in decisions.minimums(counts)
        ],
    }
