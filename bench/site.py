"""Benchmark: build the site from 10 years of daily summaries and draw its overview.

    python -m bench.site [--days 3650] [--seed 4] [--keep DIR]
    python -m bench.site --screenshot docs/overview.png --days 90 --systems 300

Writes a deterministic, realistic history of summary files into a temporary folder (15
components whose X.Y versions come out every one to four months, each with several X.Y.Z
releases, adopted with a lag and fading out over about two years; on every day also the core
versions among each component's systems and the worker and content-app buckets), times
``build_site`` and,
apart, the public JSON API's share of it, measures the largest chart data file and the largest
API file, the HTML of every page, the bytes a first visit to each page transfers
(gzip-compressed, as GitHub Pages serves them), and the time from navigation start until every
chart of the overview is drawn in headless Chromium from a local server. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from bench.machine import machine
from builder.metrics import RBAC_MEASURES
from builder.site.api import api_files
from builder.site.pages import Settings, build_site
from builder.summaries.publish import DEFAULT_MIN_COUNT, publishable
from builder.summaries.summary import Summary, load_all, summary_path

END = date(2026, 11, 27)
FADED_DAYS = 1200  # releases older than this run nowhere any more
BUDGET = {
    "build_s": 30.0,
    "largest_data_file_bytes": 300_000,
    "largest_api_file_bytes": 300_000,
    "largest_page_html_bytes": 250_000,
    "largest_first_load_gzip_bytes": 400_000,
    "overview_drawn_ms": 2000.0,
}


@dataclass(frozen=True)
class Component:
    name: str
    share: float  # of persistent systems that run it
    major: int
    minor: int  # X.Y at the start of the history
    every: int  # days between X.Y releases
    patches: int  # X.Y.Z releases per X.Y
    phase: int  # days into the release cycle at the start


COMPONENTS = (
    Component("core", 1.0, 3, 10, 60, 6, 10),
    Component("file", 0.8, 1, 4, 60, 5, 25),
    Component("rpm", 0.5, 3, 9, 75, 7, 40),
    Component("container", 0.4, 2, 5, 70, 5, 5),
    Component("ansible", 0.25, 0, 10, 90, 4, 60),
    Component("certguard", 0.2, 1, 3, 120, 3, 30),
    Component("deb", 0.15, 2, 14, 110, 4, 90),
    Component("python", 0.2, 3, 4, 100, 5, 15),
    Component("galaxy", 0.1, 4, 2, 60, 6, 20),
    Component("gem", 0.05, 0, 1, 150, 3, 70),
    Component("maven", 0.03, 0, 2, 150, 2, 110),
    Component("ostree", 0.05, 2, 0, 130, 3, 45),
    Component("cookbook", 0.02, 0, 3, 200, 2, 80),
    Component("npm", 0.04, 0, 1, 140, 3, 10),
    Component("hugging_face", 0.03, 0, 1, 120, 3, 50),
)
POSTGRESQL = (90600, 100007, 110012, 120015, 130004, 140005, 150002, 160001, 170002)


@cache
def releases(c: Component, days: int) -> list[tuple[int, str, str]]:
    """(release day, X.Y, X.Y.Z) of every release of ``c`` from 4 years before the history."""
    first = -c.phase - 4 * 365  # older releases still run when the history starts
    at_start = (0 - first) // c.every  # the release that is X.Y = major.minor on day 0
    out = []
    for n in range(0, (days - first) // c.every + 1):
        major, minor = divmod(c.major * 20 + c.minor + n - at_start, 20)
        if major >= 0:
            out.extend(
                (first + n * c.every + z * 15, f"{major}.{minor}", f"{major}.{minor}.{z}")
                for z in range(c.patches)
            )
    return sorted(out)


def adoption(age: int, newer_patches: int) -> float:
    """How many systems run a release ``age`` days old (ramp up, fade over about two years)."""
    return (1 - math.exp(-(age + 1) / 40)) * math.exp(-age / 200) * 0.45**newer_patches


def allocate(total: int, weights: dict[str, float]) -> dict[str, int]:
    """``total`` split by ``weights`` (largest remainders); zero counts left out."""
    whole = sum(weights.values())
    if total <= 0 or whole <= 0:
        return {}
    exact = {k: total * w / whole for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    left = total - sum(counts.values())
    for k in sorted(exact, key=lambda k: counts[k] - exact[k])[:left]:
        counts[k] += 1
    return {k: n for k, n in counts.items() if n > 0}


def versions(
    c: Component, day: int, days: int, persistent: int, rng: random.Random
) -> tuple[dict[str, int], dict[str, int]]:
    """The X.Y and X.Y.Z counts of one component on one day of the history."""
    every = releases(c, days)
    out = every[
        bisect.bisect_left(every, (day - FADED_DAYS, "", "")) : bisect.bisect_right(
            every, (day, "~", "~")
        )
    ]
    patches = Counter(xy for _, xy, _ in out)
    seen: Counter[str] = Counter()
    weights: dict[str, float] = {}
    for at, xy, xyz in out:
        seen[xy] += 1
        w = adoption(day - at, patches[xy] - seen[xy]) * rng.uniform(0.9, 1.1)
        if w > 1e-3:
            weights[xyz] = w
    total = min(persistent, round(persistent * c.share * rng.uniform(0.95, 1.05)))
    xyz_counts = allocate(total, weights)
    xy_counts: Counter[str] = Counter()
    for xyz, n in xyz_counts.items():
        xy_counts[xyz.rsplit(".", 1)[0]] += n
    return dict(xy_counts), xyz_counts


def day_summary(index: int, days: int, systems_end: int, rng: random.Random) -> Summary:
    day = END - timedelta(days=days - 1 - index)
    growth = 0.15 + 0.85 * max(0.0, 1 - (days - 1 - index) / 3650)  # 10 years from 15 %
    weekend = 0.9 if day.weekday() >= 5 else 1.0
    systems = max(1, round(systems_end * growth * weekend * rng.uniform(0.97, 1.03)))
    fleet_age = index + max(0, 3650 - days)  # a short history is the end of a 10-year one
    mean_age = 60 + fleet_age / 3
    ages = Counter(
        0 if rng.random() < 0.15 else min(fleet_age, int(rng.expovariate(1 / mean_age)))
        for _ in range(systems)
    )
    persistent = systems - ages.get(0, 0)
    xy, xyz = {}, {}
    for c in COMPONENTS:
        counts = versions(c, index, days, persistent, rng)
        if counts[0]:
            xy[c.name], xyz[c.name] = counts
    pg = {
        str(v): rng.uniform(0.8, 1.2) * adoption(max(0, index - (i - 5) * 365), 0)
        for i, v in enumerate(POSTGRESQL)
        if (i - 5) * 365 <= index
    }
    rbac_share = 0.0 if index < days - 3 * 365 else 0.6  # sent for the last three years
    rbac = {
        measure: {
            str(n): k
            for n, k in allocate(
                round(persistent * rbac_share),
                {str(n): math.exp(-n / scale) for n in range(0, 64)},
            ).items()
        }
        for measure, scale in zip(RBAC_MEASURES, (8, 3, 0.5, 0.3, 1.2), strict=True)
    }
    workers = {"processes__avg": round(2 + index / days + rng.uniform(0, 0.3), 4)}
    workers["hosts__avg"] = round(1.2 + rng.uniform(0, 0.2), 4)
    apps = {"processes__avg": round(2.5 + rng.uniform(0, 0.4), 4), "hosts__avg": 1.1}
    growth_of_size = index / days  # installations grow a little over the years
    return Summary(
        date=day,
        deployment="prod",
        systems=systems,
        persistent_systems=persistent,
        age_count=dict(ages),
        metrics={
            "xy_component": xy,
            "xyz_component": xyz,
            "postgresql_version": {k: int(v) for k, v in allocate(persistent, pg).items()},
            "online_workers": workers,
            "online_content_apps": apps,
            "rbac_stats": rbac,
            "core_xy_by_component": core_by_component(xy, persistent, rng),
            "online_workers_buckets": {
                "processes": sizes(persistent, PROCESSES, growth_of_size, rng),
                "hosts": sizes(persistent, HOSTS, growth_of_size, rng),
            },
            "online_content_apps_buckets": {
                "processes": sizes(persistent, APP_PROCESSES, growth_of_size, rng),
                "hosts": sizes(persistent, HOSTS, growth_of_size, rng),
            },
        },
    )


# Weights of the buckets of worker processes, hosts and content-app processes per system: most
# installations are small, a few are large (their weight grows over the years).
PROCESSES = {"1": 20, "2": 30, "3": 8, "4": 15, "5": 3, "6": 4, "7": 1, "8": 6, "9-16": 8,
             "17-32": 3, "33-64": 1, "65-128": 0.3, "129-256": 0.05}  # fmt: skip
APP_PROCESSES = {"1": 25, "2": 35, "3": 8, "4": 15, "6": 3, "8": 4, "9-16": 5, "17-32": 1}
HOSTS = {"1": 70, "2": 15, "3": 8, "4": 3, "5": 1, "6": 1, "8": 1, "9-16": 0.5, "17-32": 0.1}


def sizes(
    persistent: int, weights: dict[str, float], growth: float, rng: random.Random
) -> dict[str, int]:
    """Systems per bucket of a worker or content-app number, as counted: nine in ten systems
    report it; the larger buckets gain weight with ``growth`` (0 to 1)."""
    shifted = {
        key: w * rng.uniform(0.9, 1.1) * (1 + growth * i / len(weights))
        for i, (key, w) in enumerate(weights.items())
    }
    return allocate(round(persistent * 0.9), shifted)


def core_by_component(
    xy: dict[str, dict[str, int]], persistent: int, rng: random.Random
) -> dict[str, dict[str, int]]:
    """Per component other than core, its systems by core X.Y: the day's core versions, a
    little newer for plugins that follow core closely, 1 % without core."""
    core = xy.get("core", {})
    out = {}
    for name, versions in xy.items():
        if name == "core":
            continue
        weights: dict[str, float] = {v: n * rng.uniform(0.8, 1.2) for v, n in core.items()}
        weights["(no core)"] = 0.01 * sum(core.values())
        out[name] = allocate(sum(versions.values()), weights)
    return out


def write_history(root: Path, days: int, systems: int, seed: int) -> int:
    """Write ``days`` daily summaries ending on END, as prod publishes them (SPEC §8); returns
    how many files were written."""
    rng = random.Random(seed)
    for index in range(days):
        summary = publishable(day_summary(index, days, systems, rng), DEFAULT_MIN_COUNT["prod"])
        path = summary_path(root, "prod", summary.date)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(summary.to_json(), encoding="utf-8")
    return days


def overview_times(site: Path, runs: int = 3) -> tuple[float, list[float]]:
    """Milliseconds to a fully drawn overview: a first load, then ``runs`` fresh pages."""
    from tests.browser import chromium, serve, wait_drawn

    times = []
    with serve(site) as base, chromium() as browser:
        for _ in range(runs + 1):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(base, wait_until="commit")
            times.append(wait_drawn(page, timeout_ms=60_000))
            context.close()
    return times[0], times[1:]


def screenshot(site: Path, target: Path) -> None:
    from tests.browser import chromium, serve, wait_drawn

    with serve(site) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(base)
        wait_drawn(page)
        target.parent.mkdir(parents=True, exist_ok=True)
        clip = {"x": 0, "y": 0, "width": 1280, "height": 2000}  # headline, systems, core
        page.screenshot(path=str(target), full_page=True, clip=clip)


def page_paths(site: Path) -> list[str]:
    """Every page of a built site as a URL path relative to its root (``components/core/``)."""
    paths = []
    for html in sorted(site.rglob("index.html")):
        relative = html.parent.relative_to(site).as_posix()
        paths.append("" if relative == "." else relative + "/")
    return paths


def html_sizes(site: Path) -> dict[str, int]:
    """Bytes of each page's HTML, by URL path."""
    return {path: (site / path / "index.html").stat().st_size for path in page_paths(site)}


def first_load_sizes(site: Path, paths: list[str]) -> dict[str, int]:
    """Gzip-compressed bytes a first visit to each page transfers, by URL path."""
    from tests.browser import chromium, first_load, serve

    with serve(site) as base, chromium() as browser:
        return {path: sum(first_load(browser, base + path).values()) for path in paths}


def page_kind(path: str) -> str:
    """A page's kind for the summary: overview, component, table or other."""
    if path == "":
        return "overview"
    if path.startswith("tables/"):
        return "table"
    if path.startswith("components/") and path != "components/":
        return "component"
    return "other"


def weights(site: Path) -> dict[str, Any]:
    """Page weights: the largest HTML and first load of each kind of page, and overall."""
    html = html_sizes(site)
    loads = first_load_sizes(site, list(html))
    out: dict[str, Any] = {"pages": len(html)}
    for kind in ("overview", "component", "table", "other"):
        mine = [p for p in html if page_kind(p) == kind]
        out[kind] = {
            "largest_html": max(mine, key=lambda p: html[p]),
            "largest_html_bytes": max(html[p] for p in mine),
            "largest_first_load": max(mine, key=lambda p: loads[p]),
            "largest_first_load_gzip_bytes": max(loads[p] for p in mine),
        }
    out["largest_page_html_bytes"] = max(html.values())
    out["largest_first_load_gzip_bytes"] = max(loads.values())
    return out


def largest_file(site: Path, folder: str) -> tuple[str, int]:
    """The largest JSON file under ``folder`` of the site: (its path in the site, bytes)."""
    files = [(p.stat().st_size, p) for p in (site / folder).rglob("*.json")]
    size, path = max(files)
    return str(path.relative_to(site)), size


def api_schema_errors(site: Path) -> int:
    """How many API files break their published JSON Schema (0 expected)."""
    from jsonschema import Draft202012Validator

    root = site / "api" / "v1"
    validators = {
        kind: Draft202012Validator(
            json.loads((root / "schema" / f"{kind}.schema.json").read_text())
        )
        for kind in ("index", "component", "badge", "postgresql")
    }
    errors = 0
    for path in root.rglob("*.json"):
        kind = {"components": "component", "badges": "badge"}.get(path.parent.name, path.stem)
        if kind in validators:
            errors += sum(1 for _ in validators[kind].iter_errors(json.loads(path.read_text())))
    return errors


def api_seconds(summaries: Path) -> float:
    """Seconds to compute every API file from the loaded summaries (part of ``build_s``)."""
    loaded = load_all(summaries, "prod")
    started = time.perf_counter()
    api_files(loaded, Settings(), "prod")
    return time.perf_counter() - started


def run(days: int, systems: int, seed: int, keep: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        work = keep or Path(tmp)
        summaries, out = work / "summaries", work / "site"
        started = time.perf_counter()
        files = write_history(summaries, days, systems, seed)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        build_site(summaries, "prod", out, revision="bench")
        built = time.perf_counter() - started
        path, size = largest_file(out, "data")
        api_path, api_size = largest_file(out, "api")
        api_s = api_seconds(summaries)
        page_weights = weights(out)
        first, rest = overview_times(out)
        figures = {
            "summary_files": files,
            "components": len(COMPONENTS),
            "generate_s": round(generated, 2),
            "build_s": round(built, 2),
            "api_s": round(api_s, 2),
            "largest_data_file": path,
            "largest_data_file_bytes": size,
            "largest_api_file": api_path,
            "largest_api_file_bytes": api_size,
            "api_schema_errors": api_schema_errors(out),
            "largest_page_html_bytes": page_weights.pop("largest_page_html_bytes"),
            "largest_first_load_gzip_bytes": page_weights.pop("largest_first_load_gzip_bytes"),
            "page_weights": page_weights,
            "overview_drawn_ms_first": round(first),
            "overview_drawn_ms": round(statistics.median(rest)),
        }
    figures["within_budget"] = figures["api_schema_errors"] == 0 and all(
        figures[k] <= v for k, v in BUDGET.items()
    )
    return {"benchmark": "site", "machine": machine(), "budget": BUDGET, **figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3650)
    parser.add_argument("--systems", type=int, default=1500, help="systems on the newest day")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--screenshot", type=Path, help="only build and save the overview here")
    args = parser.parse_args(argv)
    if args.screenshot:
        with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
            write_history(Path(tmp) / "summaries", args.days, args.systems, args.seed)
            build_site(Path(tmp) / "summaries", "prod", Path(tmp) / "site", revision="demo")
            screenshot(Path(tmp) / "site", args.screenshot)
        return 0
    result = run(args.days, args.systems, args.seed, args.keep)
    print(json.dumps(result, indent=2))
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
