"""Real MkDocs builds of hand-made summaries: data files, tables, escaping, deployments, errors."""

from __future__ import annotations

import html
import json
import re
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from builder import components
from builder.components import Component
from builder.metrics import METRICS, Approval, Chart, CountBy, Metric, metric
from builder.site import charts
from builder.site.pages import (
    ROOT,
    Page,
    Settings,
    SiteError,
    build_site,
    plan_site,
    render_page,
    unique,
)
from builder.site.plugin import VENDOR
from builder.summaries.publish import DEFAULT_MIN_COUNT, publishable
from builder.summaries.summary import Summary, SummaryError, load_all, summary_path
from tests.test_charts import BLANKS, HOSTILE, spreadsheet_cells

NEWEST = date(2026, 11, 27)
XSS_NAME = "<img src=x onerror=window.__xss=1>"
XSS_VERSION = "</script><img src=x onerror=window.__xss=2>"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def sample_day(n: int, days: int, deployment: str = "prod") -> Summary:
    """Day ``n`` of a made-up history as counted: core 3.20 fading as 3.21 comes (day 40), rpm,
    file, a component whose name is markup and one tiny component (neither reviewed, so both
    are published under "(other)"), a version that is markup (on odd days). PostgreSQL: 2
    systems unknown (published under "(other)"), 12.15 fading from 30 systems, 15.2 growing
    from 0, the rest on 13.4 (on the newest day: 7, 29 and 51 of 87 known).

    From day 60 on (as after an upgrade: earlier days lack them, like imported history), the
    core X.Y among systems running each component and the worker and content-app buckets:
    rpm's systems on core 3.20 (10), (no core) (6) and 3.21 (the rest, 4 to 8); worker
    processes from 1 to 65-128 and hosts 1 to 3, content-app processes 2 and 4, no hosts."""
    when = NEWEST - timedelta(days=days - 1 - n)
    new = max(0, n - 40)
    core = {"3.20": 60 - min(new, 50), **({"3.21": new} if new else {})}
    core_z = {f"{v}.0": c for v, c in core.items()}
    if n % 2:
        core_z = {**core_z, XSS_VERSION: 5}
    rpm = {"3.19": 20 + n % 5}
    xy = {
        "core": core,
        "rpm": rpm,
        "file": {"1.1": 15},
        XSS_NAME: {"9.9": 12},
        "tiny_private": {"0.1": 3},
    }
    xyz = {
        "core": core_z,
        "rpm": {"3.19.4": rpm["3.19"]},
        "file": {"1.1.0": 15},
        XSS_NAME: {XSS_VERSION: 12},
        "tiny_private": {"0.1.0": 3},
    }
    persistent = sum(core.values())
    later = metrics_since_day_60(n, persistent, rpm["3.19"]) if n >= 60 else {}
    pg12, pg15 = 30 - n // 5, n // 4
    postgresql = {"0": 2, "120015": pg12, "130004": persistent - 2 - pg12 - pg15, "150002": pg15}
    return Summary(
        date=when,
        deployment=deployment,
        systems=persistent + 10,
        persistent_systems=persistent,
        age_count={0: 10, n: persistent // 2, n // 2: persistent - persistent // 2},
        metrics={
            "xy_component": xy,
            "xyz_component": xyz,
            "postgresql_version": {k: v for k, v in postgresql.items() if v},
            "online_workers": {"processes__avg": 2.0 + n % 3, "hosts__avg": 1.0},
            "online_content_apps": {"processes__avg": 2.5, "hosts__avg": None},
            "rbac_stats": {
                "users": {"1": persistent // 2, "5": persistent - persistent // 2},
                "groups": {"0": persistent},
                "domains": {},
                "custom_access_policies": {},
                "custom_roles": {"2": 3},
            },
            **later,
        },
    )


def metrics_since_day_60(n: int, persistent: int, rpm: int) -> dict[str, Any]:
    """The metrics added on day 60 of the sample (see sample_day), as counted."""
    return {
        "core_xy_by_component": {
            "rpm": {"3.20": 10, "3.21": rpm - 16, "(no core)": 6},
            "file": {"3.20": 15},
            XSS_NAME: {"3.21": 12},
            "tiny_private": {"3.20": 3},
        },
        "online_workers_buckets": {
            "processes": {
                "1": 20, "2": persistent - 33, "3": n % 3, "5-8": 8, "9-16": 2, "65-128": 1
            },
            "hosts": {"1": persistent - 5, "2": 4, "3": 1},
        },
        "online_content_apps_buckets": {
            "processes": {"2": persistent - 3, "4": 3},
            "hosts": {},
        },
    }  # fmt: skip


def published(summary: Summary) -> Summary:
    """``summary`` as ``summarize`` would write it (SPEC §8)."""
    return publishable(summary, DEFAULT_MIN_COUNT[summary.deployment])


def write_sample(root: Path, days: int = 120, deployment: str = "prod") -> Path:
    """``days`` summary files ending on NEWEST, as published; returns ``root``."""
    for n in range(days):
        summary = published(sample_day(n, days, deployment))
        path = summary_path(root, deployment, summary.date)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(summary.to_json(), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One prod build of the sample: (summaries, site)."""
    base = tmp_path_factory.mktemp("site")
    summaries = write_sample(base / "summaries")
    build_site(summaries, "prod", base / "site", revision=REVISION)
    return summaries, base / "site"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_data_files_hold_the_transforms_output(built: tuple[Path, Path]) -> None:
    summaries_dir, site = built
    summaries = load_all(summaries_dir, "prod")
    core = charts.count_series(summaries, metric("xy_component"), "core")
    assert read_json(site / "data/plugin_stats/core.json") == charts.versions_over_time(core)
    pg = charts.count_series(summaries, metric("postgresql_version"))
    assert (
        read_json(site / "data/postgresql_versions.json")
        == {
            "labels": ["12.15", "13.4", "15.2", "other"],  # "Unknown" on 2 is below prod's 5
            "datasets": [{"data": [7, 51, 29, 2]}],
        }
        == charts.newest_pie(pg, labels="postgresql")
    )
    workers = read_json(site / "data/deployment_stats/worker.json")
    assert [d["label"] for d in workers["datasets"]] == ["Mean Processes", "Mean Hosts"]
    assert len(workers["labels"]) == 120
    users = read_json(site / "data/rbac_stats/users.json")
    assert [d["label"] for d in users["datasets"]] == ["1", "5-8"]
    by_age = read_json(site / "data/systems_by_age.json")
    assert [d["label"] for d in by_age["datasets"]][-2:] == ["1", "0"]
    assert read_json(site / "data/demography.json")["datasets"][1]["label"] == "accumulated"
    assert read_json(site / "data/systems.json")["datasets"][0]["data"][-1] == 99


def test_every_chart_file_listed_in_spec_exists_with_its_csv(built: tuple[Path, Path]) -> None:
    _, site = built
    expected = {
        "demography",
        "systems",
        "systems_by_age",
        "postgresql_versions",
        "deployment_stats/worker",
        "deployment_stats/content_app",
        *(
            f"rbac_stats/{m}"
            for m in ("users", "groups", "domains", "custom_access_policies", "custom_roles")
        ),
        *(f"plugin_stats/{c}{z}" for c in ("core", "rpm", "file") for z in ("", ".z_stream")),
        "postgresql_minimums",
        *(f"upgrade_pace/{c}" for c in ("core", "rpm", "file")),
        "plugin_stats/rpm.core",
        "plugin_stats/file.core",
        *(
            f"deployment_stats/{what}_percentiles/{field}"
            for what in ("worker", "content_app")
            for field in ("processes", "hosts")
        ),
    }
    found = {
        str(p.relative_to(site / "data").with_suffix("")) for p in (site / "data").rglob("*.json")
    }
    assert expected <= found
    assert not any("tiny" in name or "other" in name for name in found)  # never a component
    for name in found:
        assert (site / "data" / f"{name}.csv").is_file()
    csv = (site / "data/plugin_stats/core.csv").read_text(encoding="utf-8").splitlines()
    assert csv[0] == "date,3.21,3.20,other"  # other: 3.21 on its first days, 1 to 4 systems
    assert csv[1] == f"{NEWEST - timedelta(days=119)},0,60,0"
    assert csv[42] == f"{NEWEST - timedelta(days=78)},0,59,1"
    assert len(csv) == 121


def test_every_chart_has_a_short_table_and_links(built: tuple[Path, Path]) -> None:
    _, site = built
    page = (site / "components/core/index.html").read_text(encoding="utf-8")
    sections = re.findall(r'<section class="pa-chart".*?</section>', page, re.S)
    assert len(sections) == 2  # X.Y with its X.Y.Z switch, and the upgrade pace
    section = sections[0]
    assert section.count("<details>") == 2 and section.count("<table ") == 2
    assert 'href="../../data/plugin_stats/core.json"' in section
    assert 'href="../../data/plugin_stats/core.z_stream.csv" download' in section
    assert 'href="../../tables/plugin_stats/core/">Whole table</a>' in section
    assert 'href="../../tables/plugin_stats/core.z_stream/">Whole table</a>' in section
    first = section.index("<tbody>")
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th>', section[first:])
    assert rows[:14] == [str(NEWEST - timedelta(days=n)) for n in range(14)]  # newest first
    assert '<th scope="row">2026-11-27</th><td>79</td><td>10</td><td>0</td><td>89</td>' in section
    assert '<th scope="col">total</th>' in section
    for path in html_files(site):
        text = path.read_text(encoding="utf-8")
        figures = text.count('<section class="pa-chart"')
        assert text.count('<div class="pa-view"') >= figures
        if figures or "/tables/" in str(path):  # hand-written pages (the API page) have their own
            decision = text.count("pa-tab--decision")  # tables of figures (panels), not of data
            assert text.count("<table ") - decision == text.count('<div class="pa-view"') + (
                "/tables/" in str(path)
            )


def test_every_view_has_its_whole_table_on_a_page_of_its_own(built: tuple[Path, Path]) -> None:
    _, site = built
    data = sorted(p.relative_to(site / "data").with_suffix("") for p in site.glob("data/**/*.json"))
    tables = sorted(
        p.parent.relative_to(site / "tables") for p in (site / "tables").rglob("index.html")
    )
    assert data == tables
    page = (site / "tables/plugin_stats/core/index.html").read_text(encoding="utf-8")
    assert "<title>core versions (X.Y): table - Pulp analytics</title>" in page
    assert 'href="../../../components/core/#chart-plugin-stats-core">The chart</a>' in page
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th>((?:<td>[^<]*</td>)*)</tr>', page)
    assert len(rows) == 120
    assert rows[0] == ("2026-11-27", "<td>79</td><td>10</td><td>0</td><td>89</td>")
    assert rows[-1] == ("2026-07-31", "<td>0</td><td>60</td><td>0</td><td>60</td>")
    assert "core versions (X.Y): 120 days" in page
    pie = (site / "tables/postgresql_versions/index.html").read_text(encoding="utf-8")
    assert '<tfoot><tr><th scope="row">total</th><td>89</td></tr></tfoot>' in pie
    # Only reviewed names are published, so no table page is named after a client's string.
    assert not list((site / "tables/plugin_stats").glob("x-*"))
    nav = (site / "index.html").read_text(encoding="utf-8")
    assert "tables/" not in "".join(re.findall(r'<nav class="md-nav.*?</nav>', nav, re.S))


def decision_table(page: str, table_id: str) -> tuple[str, list[str], list[list[str]]]:
    """A table of figures (a decision view) of a page: its caption, header and rows as text."""
    found = re.search(f'<table class="pa-tab pa-tab--decision" id="{table_id}">(.*?)</table>', page)
    assert found, table_id
    text = lambda cell: html.unescape(re.sub(r"<[^>]+>", "", cell))  # noqa: E731
    caption = re.search(r"<caption[^>]*>(.*?)</caption>", found.group(1))
    head, body = found.group(1).split("</thead>")
    header = [text(c) for c in re.findall(r"<th[^>]*>(.*?)</th>", head)]
    rows = [
        [text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]
    return text(caption.group(1) if caption else ""), header, rows


def test_a_component_page_opens_with_its_figures(built: tuple[Path, Path]) -> None:
    _, site = built
    page = (site / "components/core/index.html").read_text(encoding="utf-8")
    panel = page.index('<section class="pa-panel"')
    assert panel < page.index('<section class="pa-chart"')  # before every chart
    assert "In use on 2026-11-27</h2>" in page
    values = re.findall(r'<span class="pa-stat__value">([^<]*)</span>', page)
    labels = re.findall(r'<span class="pa-stat__label">([^<]*)</span>', page)
    # Newest day: 3.21 on 79 and 3.20 on 10 of 89 persistent systems, all running core. The
    # 30 days to 2026-11-27 (days 90 to 119) had 60, 61, ... 89 systems: a mean of 74.5.
    assert list(zip(values, labels, strict=True)) == [
        ("89", "persistent systems"),
        ("100.0%", "of all persistent systems"),
        ("74.5", "30-day mean"),
        ("3.21", "newest version in use"),
        ("3.20", "oldest version in use"),
    ]
    assert "X.Y.Z: 3.20.0" in page
    assert decision_table(page, "pa-versions") == (
        "core X.Y versions on 2026-11-27, newest first",
        ["version", "systems", "share", "this version or older"],
        [["3.21", "79", "88.8%", "100.0%"], ["3.20", "10", "11.2%", "11.2%"]],
    )
    link = re.search(r'The same figures as JSON: <a href="([^"]+)"', page)
    assert link and link.group(1) == "../../api/v1/components/core.json"
    assert (site / "api/v1/components/core.json").is_file()
    rpm = (site / "components/rpm/index.html").read_text(encoding="utf-8")
    assert decision_table(rpm, "pa-versions")[2] == [["3.19", "24", "100.0%", "100.0%"]]


def test_a_component_nobody_runs_any_more_says_so() -> None:
    days = [sample_day(n, 3) for n in range(3)]
    for summary in days[:2]:  # deb ran on the first two days only
        summary.metrics["xy_component"]["deb"] = {"3.1": 4, "3.0": 2}
        summary.metrics["xyz_component"]["deb"] = {"3.1.0": 4, "3.0.1": 2}
    plan = plan_site(days, Settings())
    page = plan.page("components/deb/index.md")
    assert page is not None
    text = render_page(page, lambda src: src)
    values = re.findall(r'<span class="pa-stat__value">([^<]*)</span>', text)
    assert values == ["0", "0.0%", "4.0", "none", "none"]  # 6, 6 and 0 systems: 4 a day
    assert decision_table(text, "pa-versions")[2] == [
        ["No persistent system ran deb on 2026-11-27."]
    ]
    # Its releases ran from the first day; nobody runs deb now, so they have no share today.
    assert decision_table(text, "pa-pace")[2] == [
        ["3.1", "2026-11-25 or before", "before the summaries", "before the summaries", "n/a"],
        ["3.0", "2026-11-25 or before", "before the summaries", "not yet", "n/a"],
    ]
    index = plan.page("components/index.md")
    assert index is not None
    rows = decision_table(render_page(index, lambda src: src), "pa-components")[2]
    assert rows[-1] == ["deb", "0", "0.0%", "4.0", "n/a"]  # no summary in the 30 days before


def test_every_versions_chart_has_a_count_percent_toggle(built: tuple[Path, Path]) -> None:
    _, site = built
    found = 0
    for path in (site / "components").glob("*/index.html"):
        text = path.read_text(encoding="utf-8")
        for section in re.findall(r'<section class="pa-chart".*?</section>', text, re.S):
            if 'data-kind="versions_over_time"' in section:
                found += 1
                views = re.findall(r'data-view="(\d)" aria-pressed="\w+">([^<]*)</button>', section)
                core = "pulpcore versions among" in section  # one view: no switch
                assert views == ([] if core else [("0", "X.Y"), ("1", "X.Y.Z")]), path
                units = re.findall(r'data-pct="(\d)" aria-pressed="\w+">(\w+)</button>', section)
                assert units == [("0", "Count"), ("1", "Percent")], path
    # core, rpm and file (the component named with markup is not reviewed), and the core
    # versions among systems running rpm and file
    assert found == 5


def test_upgrade_pace_on_each_component_page(built: tuple[Path, Path]) -> None:
    _, site = built
    page = (site / "components/core/index.html").read_text(encoding="utf-8")
    ids = re.findall(r'<section class="pa-chart" id="([^"]+)"', page)
    assert ids == ["chart-plugin-stats-core", "chart-upgrade-pace-core"]
    # 3.21 runs from day 41 on 1 of 60 systems, one more each day, but prod publishes it only
    # from 5 systems (SPEC §8): first seen on day 45 (2026-09-14) on 5 of 60, 6 of 60 (10%) on
    # day 46, 30 of 60 (50%) on day 70. 3.20 ran from the first day of the summaries.
    assert decision_table(page, "pa-pace") == (
        "core X.Y releases, newest first: days from first seen to 10% and 50% of core's systems",
        ["release", "first seen", "days to 10%", "days to 50%", "share on 2026-11-27"],
        [
            ["3.21", "2026-09-14", "1", "25", "88.8%"],
            ["3.20", "2026-07-31 or before", "before the summaries", "before the summaries",
             "11.2%"],
        ],
    )  # fmt: skip
    assert "3.20 already ran on 2026-07-31, the first day of the summaries" in page
    curves = read_json(site / "data/upgrade_pace/core.json")
    assert curves["labels"] == list(range(75))  # 2026-09-14 to 2026-11-27
    assert [d["label"] for d in curves["datasets"]] == ["3.21"]  # 3.20 is older than the data
    shares = curves["datasets"][0]["data"]
    assert (shares[0], shares[1], shares[24], shares[25]) == (8.3, 10.0, 48.3, 50.0)
    assert shares[-1] == 88.8 and curves["levels"] == [10, 50]
    csv = (site / "data/upgrade_pace/core.csv").read_text(encoding="utf-8").splitlines()
    assert csv[:3] == ["days since first seen,3.21", "0,8.3", "1,10.0"]
    table = (site / "tables/upgrade_pace/core/index.html").read_text(encoding="utf-8")
    rows = re.findall(r'<tr><th scope="row">(\d+)</th><td>([^<]*)</td></tr>', table)
    assert rows[:2] == [("0", "8.3"), ("1", "10.0")] and len(rows) == 75  # first seen first
    assert "<title>core upgrade pace: table - Pulp analytics</title>" in table
    # rpm's only release ran from the first day: a table, and a chart saying why it is empty.
    rpm = (site / "components/rpm/index.html").read_text(encoding="utf-8")
    assert decision_table(rpm, "pa-pace")[2] == [
        ["3.19", "2026-07-31 or before", "before the summaries", "before the summaries", "100.0%"]
    ]
    assert 'data-empty="No release of rpm was first seen after 2026-07-31' in rpm
    assert read_json(site / "data/upgrade_pace/rpm.json") == {"labels": [], "datasets": []}


def test_postgresql_minimum_view_follows_the_postgresql_chart(built: tuple[Path, Path]) -> None:
    _, site = built
    page = (site / "deployments/index.html").read_text(encoding="utf-8")
    ids = re.findall(r'<section class="pa-chart" id="([^"]+)"', page)
    assert ids[:2] == ["chart-postgresql-versions", "chart-postgresql-minimums"]
    # Newest day: 2 unknown (fewer than 5: published as "(other)"), 7 on 12.15, 51 on 13.4, 29
    # on 15.2: 87 known of 89.
    assert "On 2026-11-27, 87 of 89 persistent systems reported a known PostgreSQL" in page
    assert "; 2 run a version too rare to publish or did not say (other)." in page
    assert decision_table(page, "pa-minimums") == (
        "Systems below each candidate minimum on 2026-11-27",
        ["minimum", "systems below", "share below"],
        [["12", "0", "0.0%"], ["13", "7", "8.0%"], ["15", "58", "66.7%"]],
    )
    data = read_json(site / "data/postgresql_minimums.json")
    assert [d["label"] for d in data["datasets"]] == ["below 12", "below 13", "below 15"]
    assert len(data["labels"]) == 120 and data["labels"][-1] == "2026-11-27"
    # The first day: 30 on 12.15, 28 on 13.4, none on 15.2, 58 known.
    assert [d["data"][0] for d in data["datasets"]] == [0.0, 51.7, 100.0]
    assert [d["data"][-1] for d in data["datasets"]] == [0.0, 8.0, 66.7]
    table = (site / "tables/postgresql_minimums/index.html").read_text(encoding="utf-8")
    assert '<tr><th scope="row">2026-11-27</th><td>0.0</td><td>8.0</td><td>66.7</td></tr>' in table


def test_core_versions_among_systems_running_each_component(built: tuple[Path, Path]) -> None:
    summaries_dir, site = built
    rpm = (site / "components/rpm/index.html").read_text(encoding="utf-8")
    ids = re.findall(r'<section class="pa-chart" id="([^"]+)"', rpm)
    assert ids == [
        "chart-plugin-stats-rpm",
        "chart-plugin-stats-rpm-core",
        "chart-upgrade-pace-rpm",
    ]
    assert ">pulpcore versions among systems running rpm</h2>" in rpm
    core = (site / "components/core/index.html").read_text(encoding="utf-8")
    assert "pulpcore versions among" not in core  # core's own versions are its versions chart
    assert not (site / "data/plugin_stats/core.core.json").exists()
    data = read_json(site / "data/plugin_stats/rpm.core.json")
    summaries = load_all(summaries_dir, "prod")
    series = charts.count_series(summaries, metric("core_xy_by_component"), "rpm")
    assert data == charts.versions_over_time(series, apart=("(no core)",))
    # From day 60 (2026-09-29) on: 20 to 24 systems run rpm, 10 of them on core 3.20, 6
    # without core (drawn last), the rest on 3.21 (folded into other on days it has 4).
    assert data["labels"][0] == "2026-09-29" and len(data["labels"]) == 60
    assert [d["label"] for d in data["datasets"]] == ["3.21", "3.20", "other", "(no core)"]
    assert [d["data"][0] for d in data["datasets"]] == [0, 10, 4, 6]
    assert [d["data"][-1] for d in data["datasets"]] == [8, 10, 0, 6]
    table = (site / "tables/plugin_stats/rpm.core/index.html").read_text(encoding="utf-8")
    assert "<title>pulpcore versions among systems running rpm: table - Pulp analytics" in table
    assert (
        '<th scope="row">2026-11-27</th><td>8</td><td>10</td><td>0</td><td>6</td><td>24</td>'
        in table
    )
    csv = (site / "data/plugin_stats/file.core.csv").read_text(encoding="utf-8").splitlines()
    assert csv[:2] == ["date,3.20", "2026-09-29,15"]


def test_worker_and_content_app_percentiles_beside_their_means(built: tuple[Path, Path]) -> None:
    _, site = built
    page = (site / "deployments/index.html").read_text(encoding="utf-8")
    ids = re.findall(r'<section class="pa-chart" id="([^"]+)"', page)
    assert ids[2:] == [
        "chart-deployment-stats-worker",
        "chart-deployment-stats-worker-percentiles-processes",
        "chart-deployment-stats-content-app",
        "chart-deployment-stats-content-app-percentiles-processes",
    ]
    section = re.search(
        r'<section class="pa-chart" id="chart-deployment-stats-worker-percentiles-processes".*?'
        r"</section>",
        page,
        re.S,
    )
    assert section
    assert ">Online workers: median and 90th percentile</h2>" in section.group(0)
    assert re.findall(r'data-view="(\d)" aria-pressed="\w+">(\w+)</button>', section.group(0)) == [
        ("0", "Processes"), ("1", "Hosts")
    ]  # fmt: skip
    assert 'role="group" aria-label="Measure"' in section.group(0)
    # The newest day (published): processes {"1": 20, "2-3": 58, "5+": 11} (3 on 3, 1 in
    # 65-128 and 2 in 9-16 were too few), hosts {"1": 84, "2+": 5}; the sample's means.
    assert decision_table(page, "pa-sizes-online_workers_buckets") == (
        "Online workers per system on 2026-11-27",
        ["measure", "systems", "mean", "median", "90th percentile"],
        [
            ["processes", "89", "4.00", "2\u20133", "\u2265 5"],
            ["hosts", "89", "1.00", "1", "1"],
        ],
    )
    assert decision_table(page, "pa-sizes-online_content_apps_buckets")[2] == [
        ["processes", "89", "2.50", "\u2265 2", "\u2265 2"],  # 86 on 2 and 3 on 4: "2+"
        ["hosts", "0", "n/a", "n/a", "n/a"],
    ]
    data = read_json(site / "data/deployment_stats/worker_percentiles/processes.json")
    assert [d["label"] for d in data["datasets"]] == ["median", "90th percentile"]
    assert data["labels"][0] == "2026-09-29" and len(data["labels"]) == 60
    median, ninetieth = data["datasets"]
    # 2026-09-29 (nobody on 3): {"1": 20, "2": 27, "5+": 11}; from then on, every third day.
    assert (median["data"][:2], median["high"][:2], median["ranges"][:2]) == (
        [2, 2], [2, 3], ["2", "2\u20133"]
    )  # fmt: skip
    assert (ninetieth["data"][0], ninetieth["high"][0], ninetieth["ranges"][0]) == (
        5, None, "\u2265 5"
    )  # fmt: skip
    csv = (site / "data/deployment_stats/worker_percentiles/processes.csv").read_text("utf-8")
    assert csv.splitlines()[:3] == [
        "date,median,90th percentile",
        "2026-09-29,2,\u2265 5",
        "2026-09-30,2\u20133,\u2265 5",
    ]
    table = read_table_page(site, "deployment_stats/worker_percentiles/hosts")
    assert '<th scope="row">2026-11-27</th><td>1</td><td>1</td></tr>' in table
    assert "Online workers: median and 90th percentile (Hosts): 60 days" in table
    empty = read_json(site / "data/deployment_stats/content_app_percentiles/hosts.json")
    assert empty["labels"] == []  # nobody reports content-app hosts in the sample


def read_table_page(site: Path, path: str) -> str:
    return (site / "tables" / path / "index.html").read_text(encoding="utf-8")


def test_metrics_no_summary_holds_yet_are_not_drawn() -> None:
    """Imported history lacks the metrics added later: their charts wait for a day that has
    them, rather than drawing empty charts on every component page."""
    plan = plan_site([published(sample_day(n, 60)) for n in range(60)], Settings())
    paths = set(plan.views())
    assert "plugin_stats/rpm.json" in paths
    assert not {p for p in paths if p.endswith(".core.json") or "_percentiles/" in p}
    page = plan.page("online-workers.md")  # without mkdocs.yml's pages, a page per metric
    assert page is not None and [f.title for f in page.figures] == ["Online workers"]


def test_components_index_is_a_table_ranked_by_systems(built: tuple[Path, Path]) -> None:
    _, site = built
    page = (site / "components/index.html").read_text(encoding="utf-8")
    caption, header, rows = decision_table(page, "pa-components")
    assert caption == "Components by persistent systems running them on 2026-11-27: 3 components"
    assert header == ["component", "systems", "share", "30-day mean", "30-day trend"]
    # core: 74.5 a day over the newest 30 days, 60 over the 30 before. rpm runs on 20 to 24
    # systems in turn (22 on average), file on 15; the component named with markup is not
    # reviewed, so it is published under "(other)", which is no component of the index.
    assert rows == [
        ["core", "89", "100.0%", "74.5", "+14.5 (+24.2%)"],
        ["rpm", "24", "27.0%", "22.0", "+0.0 (+0.0%)"],
        ["file", "15", "16.9%", "15.0", "+0.0 (+0.0%)"],
    ]
    assert '<th scope="row"><a href="core/">core</a></th>' in page
    # The filter box: labelled, controlling the table, with a live status; hidden until the
    # script shows it, so that without JavaScript the page is the plain table.
    assert '<div class="pa-filter" hidden><label for="pa-filter-components">' in page
    assert 'aria-controls="pa-components"' in page
    assert '<p class="pa-filter__count" role="status" aria-live="polite"></p>' in page


def test_overview_headline(built: tuple[Path, Path]) -> None:
    _, site = built
    page = (site / "index.html").read_text(encoding="utf-8")
    values = re.findall(r'<span class="pa-stat__value">([^<]*)</span>', page)
    assert values == ["96.0", "86.0", "2026-11-27"]
    changes = re.findall(r'<span class="pa-stat__change">([^<]*)</span>', page)
    assert changes == [
        "+7.0 (+7.9%) on the 7 days to 2026-11-20",
        "+7.0 (+8.9%) on the 7 days to 2026-11-20",
    ]
    assert "mean per day over the 7 days to 2026-11-27" in page
    assert "99 systems reported" in page
    ids = re.findall(r'<section class="pa-chart" id="([^"]+)"', page)
    assert ids == [
        "chart-systems",
        "chart-plugin-stats-core",
        "chart-systems-by-age",
        "chart-demography",
        "chart-postgresql-versions",
    ]


def test_provenance_under_each_chart_and_in_the_footer(built: tuple[Path, Path]) -> None:
    _, site = built
    repo = "https://github.com/pulp/pulp-analytics"
    for path in html_files(site):
        text = path.read_text(encoding="utf-8")
        if path.name == "404.html":
            continue
        assert "data as of 2026-11-27 · built from" in text, path
        assert f'<a href="{repo}/commit/{REVISION}">{REVISION[:12]}</a>' in text, path
        charts_here = text.count('<section class="pa-chart"')
        tables_here = "/tables/" in str(path)
        sources = text.count(
            f'Source: <a href="{repo}/tree/main/summaries/prod">Summary files</a> · '
            f'<a href="{repo}/blob/main/proto/summary.schema.json">JSON Schema</a>'
        )
        assert sources == charts_here + tables_here, path


def test_strings_from_summaries_are_escaped(built: tuple[Path, Path]) -> None:
    _, site = built
    for path in html_files(site):
        text = path.read_text(encoding="utf-8")
        assert "<img src=x" not in text, path
        assert "</script><img" not in text, path
    hostile = [p for p in html_files(site) if "&lt;/script&gt;&lt;img src=x" in p.read_text()]
    where = {str(p.relative_to(site)) for p in hostile}
    assert {"index.html", "components/core/index.html"} <= where  # core's X.Y.Z table
    assert XSS_VERSION in json.dumps(read_json(site / "data/plugin_stats/core.z_stream.json"))
    titles = re.findall(r"<title>(.*?)</title>", "".join(p.read_text() for p in html_files(site)))
    assert not any("<" in t for t in titles)


def test_unreviewed_component_names_reach_no_file_of_the_site(built: tuple[Path, Path]) -> None:
    _, site = built
    escaped = XSS_NAME.replace("<", "&lt;").replace(">", "&gt;")
    for path in site.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for name in (XSS_NAME, escaped, "tiny_private"):
                assert name.encode() not in data, (path, name)
    assert not list((site / "data/plugin_stats").glob("x-*"))


def test_revision_and_prod_links(built: tuple[Path, Path]) -> None:
    _, site = built
    page = (site / "index.html").read_text(encoding="utf-8")
    assert f'<meta name="revision" content="{REVISION}">' in page
    assert "pa-dev-banner" not in page
    assert '<script src="/pulp-analytics/assets/analytics.js">' in (site / "404.html").read_text()


def test_nothing_is_loaded_from_another_host(built: tuple[Path, Path]) -> None:
    _, site = built
    for path in html_files(site):
        text = path.read_text(encoding="utf-8")
        for url in re.findall(r'<(?:script|img|iframe)[^>]*\bsrc="([^"]*)"', text):
            assert "//" not in url, (path, url)
        for url in re.findall(r'<link[^>]*\bhref="([^"]*)"', text):
            rel = re.search(r'<link[^>]*rel="([^"]*)"[^>]*href="' + re.escape(url), text)
            if rel and rel.group(1) in ("canonical", "prev", "next"):
                continue
            if path.name != "404.html":
                assert "//" not in url, (path, url)
        assert "fonts.googleapis" not in text
    for source, target in VENDOR:
        assert (site / target).read_bytes() == (ROOT / "node_modules" / source).read_bytes()


def test_dev_build_has_a_banner_and_its_base_path(tmp_path: Path) -> None:
    summaries = write_sample(tmp_path / "summaries", days=3, deployment="dev")
    subprocess.run(["git", "init", "-q", str(summaries)], check=True)
    subprocess.run(
        ["git", "-C", str(summaries), "-c", "user.name=t", "-c", "user.email=t@example.org",
         "commit", "-q", "--allow-empty", "-m", "summaries"],
        check=True,
    )  # fmt: skip
    head = subprocess.run(
        ["git", "-C", str(summaries), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    build_site(summaries, "dev", tmp_path / "site")
    page = (tmp_path / "site/index.html").read_text(encoding="utf-8")
    assert 'class="pa-dev-banner"' in page and "Development deployment." in page
    assert f'<meta name="revision" content="{head}">' in page
    assert "<title>Pulp analytics (dev)</title>" in page
    repo = "https://github.com/pulp/pulp-analytics"
    assert f'<a href="{repo}/tree/dev/summaries/dev">Summary files</a>' in page
    assert f'<a href="{repo}/commit/{head}">{head[:12]}</a>' in page
    assert (
        '<script src="/pulp-analytics/dev/assets/analytics.js">'
        in (tmp_path / "site/404.html").read_text()
    )
    assert (
        "https://pulp.github.io/pulp-analytics/dev/" in (tmp_path / "site/sitemap.xml").read_text()
    )
    for path in html_files(tmp_path / "site"):
        if path.name != "404.html":
            assert not re.search(r'(?:href|src)="/(?!/)', path.read_text()), path


def test_revision_outside_git_is_unknown_and_empty_history_builds(tmp_path: Path) -> None:
    (tmp_path / "summaries").mkdir()
    build_site(tmp_path / "summaries", "prod", tmp_path / "site")
    page = (tmp_path / "site/index.html").read_text(encoding="utf-8")
    assert '<meta name="revision" content="unknown">' in page
    assert "No summaries yet." in page
    assert "no data yet · built from unknown</p>" in page  # no link to a commit
    assert read_json(tmp_path / "site/data/systems.json")["labels"] == []


def test_a_broken_summary_stops_the_build_naming_the_file(tmp_path: Path) -> None:
    summaries = write_sample(tmp_path / "summaries", days=3)
    bad = summary_path(summaries, "prod", NEWEST - timedelta(days=1))
    bad.write_text('{"schema_version": 1,', encoding="utf-8")
    with pytest.raises(SummaryError, match=re.escape(str(bad))):
        build_site(summaries, "prod", tmp_path / "site")
    data = json.loads(summary_path(summaries, "prod", NEWEST).read_text())
    data["systems"] = -1
    bad.write_text(published(sample_day(1, 3)).to_json(), encoding="utf-8")
    invalid = summary_path(summaries, "prod", NEWEST)
    invalid.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SummaryError, match=re.escape(str(invalid)) + ".*systems"):
        build_site(summaries, "prod", tmp_path / "site")
    assert not (tmp_path / "site").exists()


def test_refuses_to_empty_the_sources_or_build_an_unknown_deployment(tmp_path: Path) -> None:
    (tmp_path / "summaries").mkdir()
    with pytest.raises(SiteError, match="output folder"):
        build_site(tmp_path / "summaries", "prod", ROOT)
    with pytest.raises(SiteError, match="output folder"):
        build_site(tmp_path / "summaries", "prod", tmp_path)
    with pytest.raises(SiteError, match="deployment"):
        build_site(tmp_path / "summaries", "staging", tmp_path / "site")
    with pytest.raises(SiteError, match="no such directory"):
        build_site(tmp_path / "missing", "prod", tmp_path / "site")


def test_a_new_metric_with_a_known_chart_kind_needs_no_site_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new = Metric(
        key="python_version",
        title="Python versions",
        aggregate=CountBy("python_version"),
        approval=Approval(proposal=None, since="3.30", no_proposal="A test metric."),
        charts=(Chart(kind="newest_pie", data="python_versions.json", title="Python versions"),),
    )
    monkeypatch.setattr("builder.site.pages.METRICS", (*METRICS, new))
    summary = sample_day(0, 1)
    summary.metrics["python_version"] = {"3.11": 4, "3.12": 9}
    plan = plan_site([summary], Settings())
    page = plan.page("python-versions.md")
    assert page is not None and page.title == "Python versions"
    assert plan.views()["python_versions.json"].data == {
        "labels": ["3.11", "3.12"],
        "datasets": [{"data": [4, 9]}],
    }
    assert {"Python versions": "python-versions.md"} in plan.nav()


def test_a_component_named_index_gets_its_own_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid name the reviewed list could one day hold, which a page path must not take."""
    monkeypatch.setitem(components._BY_NAME, "index", Component("index", "Index", "", ""))
    summaries = tmp_path / "summaries"
    for n in range(3):
        summary = sample_day(n, 3)
        for key, version in (("xy_component", "1.2"), ("xyz_component", "1.2.3")):
            summary.metrics[key] = {**summary.metrics[key], "index": {version: 11}}
        summary = published(summary)
        path = summary_path(summaries, "prod", summary.date)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(summary.to_json(), encoding="utf-8")
    build_site(summaries, "prod", tmp_path / "site", revision=REVISION)
    listing = (tmp_path / "site/components/index.html").read_text(encoding="utf-8")
    table = re.findall(
        r'<table class="pa-tab pa-tab--decision" id="pa-components">(.*?)</table>', listing
    )[0]
    assert '<tr><th scope="row"><a href="index/">index</a></th><td>11</td>' in table
    assert '<a href="core/">core</a>' in table
    own = (tmp_path / "site/components/index/index.html").read_text(encoding="utf-8")
    assert 'data-src="../../data/plugin_stats/index.json"' in own
    data = read_json(tmp_path / "site/data/plugin_stats/index.json")
    assert data["datasets"][0]["label"] == "1.2"


def test_pages_that_would_share_a_url_are_refused() -> None:
    a = Page("components/core/index.md", "core")
    assert a.url == "components/core/"
    assert Page("index.md", "Overview").url == ""
    assert Page("rbac.md", "RBAC").url == "rbac/"
    with pytest.raises(SiteError, match=r"pages rbac.md and rbac/index.md would both be /rbac/"):
        unique([Page("rbac.md", "RBAC"), Page("rbac/index.md", "RBAC again")])
    plan = plan_site([sample_day(0, 1)], Settings())
    urls = [page.url for page in plan.pages]
    assert len(urls) == len(set(urls))


def test_csv_files_never_start_a_formula_in_any_locale(tmp_path: Path) -> None:
    """Versions a summary may hold (it is only schema-checked) reach every CSV file safely."""
    summaries = tmp_path / "summaries"
    for n in range(2):
        summary = sample_day(n, 2)
        hostile = {v: 5 + i for i, v in enumerate(HOSTILE)}
        summary.metrics["xyz_component"] = {**summary.metrics["xyz_component"], "core": hostile}
        summary = published(summary)
        path = summary_path(summaries, "prod", summary.date)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(summary.to_json(), encoding="utf-8")
    build_site(summaries, "prod", tmp_path / "site", revision=REVISION)
    files = list((tmp_path / "site/data").rglob("*.csv"))
    assert len(files) > 15
    text = (tmp_path / "site/data/plugin_stats/core.z_stream.csv").read_text(encoding="utf-8")
    assert "'=1+1" in text and "\r" not in text
    for path in files:
        for cell in spreadsheet_cells(path.read_text(encoding="utf-8")):
            assert not cell.lstrip(BLANKS).startswith(tuple(charts.FORMULA_START)), (path, cell)
