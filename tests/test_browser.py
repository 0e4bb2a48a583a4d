"""The built site in a real headless Chromium, served from 127.0.0.1.

Every page must draw each of its charts with data, with no console error, no request to any
other host and no script from the data; views round-trip through the URL; legends and values
work from the keyboard; dark mode redraws the charts; every page links "What we collect" from
its footer and navigation; axe-core finds no violation on desktop or phone, light or dark;
touch targets are at least 44 px on phones. Saves test-artifacts/overview.png.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from bench.site import page_paths
from builder.components import COMPONENTS
from builder.metrics import METRICS
from builder.site.pages import ROOT, build_site
from tests.browser import chromium, serve, wait_drawn
from tests.test_site import XSS_NAME, XSS_VERSION, write_sample

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PAGES = ("", "components/", "components/core/", "components/rpm/", "deployments/", "rbac/")

# For each drawn chart: its datasets' sizes, and how many canvas pixels are not blank.
CHART_STATE = """() => Array.from(document.querySelectorAll("section.pa-chart")).map((s) => {
  const canvas = s.querySelector("canvas");
  const chart = canvas && window.Chart.getChart(canvas);
  let inked = 0;
  if (chart) {
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) inked += 1;
  }
  return {
    id: s.id,
    state: s.dataset.drawn,
    sizes: chart ? chart.data.datasets.map((d) => d.data.length) : [],
    inked: inked,
  };
})"""

VISIBLE_POINTS = """(id) => {
  const chart = window.Chart.getChart(document.querySelector(`#${id} canvas`));
  const {left, right} = chart.chartArea;
  return chart.getDatasetMeta(0).data.filter((p) => p.x >= left - 0.5 && p.x <= right + 0.5).length;
}"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample history built once: the site's folder."""
    base = tmp_path_factory.mktemp("browser")
    summaries = write_sample(base / "summaries")
    build_site(summaries, "prod", base / "site", revision="test")
    return base / "site"


@pytest.fixture(scope="module")
def site(built: Path) -> Iterator[tuple[str, Any]]:
    """The sample site served, and a browser: (base URL, browser)."""
    with serve(built) as url, chromium() as browser:
        yield url, browser


class Watched:
    """A page whose console errors, requests and dialogs are recorded."""

    def __init__(self, browser: Any, base: str, tmp: Path) -> None:
        self.base = base
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def open(self, path: str) -> Any:
        self.page.goto(self.base + path)
        wait_drawn(self.page)
        return self.page

    def fresh(self, path: str) -> Any:
        """A second page of the same context (same storage), opened at ``path``."""
        page = self.context.new_page()
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.goto(self.base + path)
        wait_drawn(page)
        return page

    def check(self) -> None:
        assert self.errors == []
        assert self.dialogs == []
        hosts = {
            urlparse(u).hostname for u in self.requests if not u.startswith(("data:", "blob:"))
        }
        assert hosts == {"127.0.0.1"}
        assert self.page.evaluate("window.__xss") is None


@pytest.fixture
def watched(site: tuple[str, Any], tmp_path: Path) -> Iterator[Watched]:
    base, browser = site
    watched = Watched(browser, base, tmp_path)
    yield watched
    watched.check()
    watched.context.close()


def test_every_chart_is_drawn_with_data(watched: Watched) -> None:
    for path in PAGES:
        page = watched.open(path)
        charts = page.evaluate(CHART_STATE)
        for chart in charts:
            if chart["id"] in (
                "chart-rbac-stats-domains",
                "chart-rbac-stats-custom-access-policies",
                "chart-upgrade-pace-rpm",  # rpm's only release is older than the summaries
            ):
                assert chart["state"] == "empty", chart  # no system has any: "No data yet."
                continue
            assert chart["state"] == "true", (path, chart)
            assert chart["sizes"] and all(chart["sizes"]), (path, chart)
            assert chart["inked"] > 5000, (path, chart)
        if path == "components/rpm/":
            message = page.inner_text("#chart-upgrade-pace-rpm .pa-message")
            assert message.startswith("No release of rpm was first seen after 2026-07-31")
        if path == "":
            assert len(charts) == 5
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)


def test_range_control_changes_the_visible_range(watched: Watched) -> None:
    page = watched.open("")
    assert page.evaluate(VISIBLE_POINTS, "chart-systems") == 120
    page.click("#chart-systems button[data-range='30']")
    assert page.evaluate(VISIBLE_POINTS, "chart-systems") == 30
    assert page.get_attribute("#chart-systems button[data-range='30']", "aria-pressed") == "true"
    page.click("#chart-systems button[data-range='90']")
    assert page.evaluate(VISIBLE_POINTS, "chart-systems") == 90
    page.click("#chart-systems button[data-range='all']")
    assert page.evaluate(VISIBLE_POINTS, "chart-systems") == 120


def test_version_switch_and_csv_downloads_match_the_json(watched: Watched) -> None:
    page = watched.open("components/core/")
    figure = "#chart-plugin-stats-core"
    for view, name in ((0, "core"), (1, "core.z_stream")):
        if view:
            page.click(f"{figure} button[data-view='1']")
            page.wait_for_function(
                "(id) => window.Chart.getChart(document.querySelector(id + ' canvas'))"
                ".data.datasets.some((d) => d.label.endsWith('.0'))",
                arg=figure,
            )
        block = f"{figure} .pa-view[data-view='{view}']"
        assert page.is_visible(f"{block} .pa-data")
        with page.expect_download() as download:
            page.click(f"{block} a[download]")
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
        data = json.loads(
            page.evaluate(
                "(u) => fetch(u).then((r) => r.text())", f"/data/plugin_stats/{name}.json"
            )
        )
        shown = page.evaluate(
            "(id) => window.Chart.getChart(document.querySelector(id + ' canvas'))"
            ".data.datasets.map((d) => d.label)",
            figure,
        )
        assert shown == [d["label"] for d in data["datasets"]]
        assert rows[0] == ["date", *(d["label"] for d in data["datasets"])]
        assert [r[0] for r in rows[1:]] == data["labels"]
        assert [[int(c) for c in r[1:]] for r in rows[1:]] == [
            [d["data"][i] for d in data["datasets"]] for i in range(len(data["labels"]))
        ]


def test_markup_in_versions_stays_text(watched: Watched) -> None:
    page = watched.open("components/")
    links = page.locator("#pa-components a").all_inner_texts()
    assert links == ["core", "rpm", "file"]  # unreviewed names are published as "(other)"
    assert XSS_NAME not in page.content()
    page.click("#pa-components a >> text=core")
    wait_drawn(page)
    page.click("button[data-view='1']")
    page.wait_for_selector(".pa-view[data-view='1']:not([hidden])")
    header = page.locator(".pa-view[data-view='1'] thead th").all_text_contents()
    assert header == ["date", XSS_VERSION, "3.21.0", "3.20.0", "other", "total"]
    labels = page.evaluate(
        "() => window.Chart.getChart(document.querySelector('canvas')).data.datasets"
        ".map((d) => d.label)"
    )
    assert labels == [XSS_VERSION, "3.21.0", "3.20.0", "other"]
    assert page.locator("img[src=x]").count() == 0


def test_without_javascript_the_tables_carry_the_data(site: tuple[str, Any]) -> None:
    base, browser = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "deployments/")
    assert page.is_visible(".pa-nojs")
    assert not page.is_visible(".pa-controls") and not page.is_visible("canvas")
    assert not page.is_visible(".pa-canvas")  # no empty box where the chart would be
    page.click("#chart-postgresql-versions summary")
    rows = page.locator("#chart-postgresql-versions tbody tr").all_inner_texts()
    assert [r.split() for r in rows] == [
        ["12.15", "7"],
        ["13.4", "51"],
        ["15.2", "29"],
        ["other", "2"],  # 2 unknown: below prod's minimum of 5, published as "(other)"
    ]
    page.click("#chart-deployment-stats-worker a:text('Whole table')")
    page.wait_for_url("**/tables/deployment_stats/worker/")
    rows = page.locator("table tbody tr").all_inner_texts()
    assert len(rows) == 120 and rows[0].split()[0] == "2026-11-27"  # every day, newest first
    context.close()


CHART = "(id) => window.Chart.getChart(document.querySelector(`#${id} canvas`))"


def chart_eval(page: Any, chart_id: str, body: str) -> Any:
    """Evaluate ``body`` (an expression of ``chart``) for the chart of section ``chart_id``."""
    return page.evaluate(f"(id) => {{ const chart = ({CHART})(id); return {body}; }}", chart_id)


def pressed(page: Any, selector: str) -> list[str]:
    return [b.inner_text() for b in page.locator(f"{selector} [aria-pressed='true']:visible").all()]


def test_views_round_trip_through_the_url(watched: Watched) -> None:
    page = watched.open("components/core/")
    core = "chart-plugin-stats-core"
    page.click(f"#{core} button[data-range='90']")
    page.click(f"#{core} button[data-view='1']")
    page.click(f"#{core} button[data-pct='1']")
    page.wait_for_function("location.hash.includes('pct=1')")
    url = page.url
    assert url.endswith(f"/components/core/#{core}:range=90,view=1,pct=1")
    link = page.get_attribute(f"#{core} .pa-permalink", "href")
    assert link == f"#{core}:range=90,view=1,pct=1"

    again = watched.fresh(url.removeprefix(watched.base))
    assert pressed(again, f"#{core} .pa-controls") == ["90 days", "X.Y.Z", "Percent"]
    assert again.evaluate(VISIBLE_POINTS, core) == 90
    assert again.is_visible(f"#{core} .pa-view[data-view='1'] .pa-data")
    assert not again.is_visible(f"#{core} .pa-view[data-view='0'] .pa-data")
    assert chart_eval(again, core, "chart.data.datasets.some((d) => d.label.endsWith('.0'))")
    newest = chart_eval(
        again, core, "chart.data.datasets.reduce((s, d) => s + d.data[d.data.length - 1], 0)"
    )
    assert newest == pytest.approx(100)  # percentages of each day's total
    assert chart_eval(again, core, "chart.options.scales.y.max") == 100

    # Several charts: the one changed last comes first, and the page opens at it.
    page = watched.open("")
    page.click("#chart-systems button[data-range='30']")
    page.click("#chart-postgresql-versions .pa-legend button >> nth=0")  # not a view: no URL
    page.click(f"#{core} button[data-pct='1']")
    page.wait_for_function("location.hash.includes('pct=1')")
    assert page.url.endswith(f"/#{core}:pct=1&chart-systems:range=30")
    both = watched.fresh(page.url.removeprefix(watched.base))
    assert both.evaluate(VISIBLE_POINTS, "chart-systems") == 30
    assert pressed(both, f"#{core} .pa-unit") == ["Percent"]
    top = both.evaluate(f"document.getElementById('{core}').getBoundingClientRect().top")
    assert 0 <= top < 120  # scrolled to the chart named first, below the header

    # Back to the default view: the chart leaves the URL; a new fragment is followed.
    both.click("#chart-systems button[data-range='all']")
    both.wait_for_function("!location.hash.includes('chart-systems')")
    assert both.url.endswith(f"/#{core}:pct=1")
    both.evaluate("location.hash = '#chart-systems:range=90'")
    both.wait_for_function(f"({VISIBLE_POINTS})('chart-systems') === 90")
    assert pressed(both, f"#{core} .pa-unit") == ["Count"]

    # Fragments that name nothing known, or values out of range, change nothing and fail quietly.
    odd = watched.fresh("#chart-systems:range=abc,view=7,pct=2&nothing:range=5&plain")
    assert pressed(odd, "#chart-systems .pa-controls") == ["All"]
    assert odd.evaluate(VISIBLE_POINTS, "chart-systems") == 120


def test_legend_and_values_work_from_the_keyboard(watched: Watched) -> None:
    page = watched.open("components/core/")
    core = "chart-plugin-stats-core"
    page.focus(f"#{core} button[data-pct='1']")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "CANVAS"
    page.keyboard.press("End")
    readout = page.locator(f"#{core} .pa-readout")
    # The tooltip's text, sorted by value, said to screen readers.
    assert readout.inner_text() == "2026-11-27; 3.21: 79; 3.20: 10; total: 89"
    assert chart_eval(page, core, "chart.tooltip.getActiveElements().length") == 3  # other: 0
    page.keyboard.press("Home")
    assert readout.inner_text() == "2026-07-31; 3.20: 60; total: 60"  # no "3.21: 0" row
    page.keyboard.press("ArrowRight")
    assert readout.inner_text().startswith("2026-08-01; ")
    page.keyboard.press("Escape")
    assert readout.inner_text() == ""

    page.keyboard.press("Tab")
    first = page.locator(f"#{core} .pa-legend button").first
    assert page.evaluate("document.activeElement.textContent") == "3.21"
    assert first.get_attribute("aria-pressed") == "true"
    page.keyboard.press("Enter")
    assert first.get_attribute("aria-pressed") == "false"
    assert chart_eval(page, core, "chart.isDatasetVisible(0)") is False
    page.keyboard.press("Space")
    assert first.get_attribute("aria-pressed") == "true"
    assert chart_eval(page, core, "chart.isDatasetVisible(0)") is True


def test_tooltips_sort_by_value_and_leave_out_zeros(watched: Watched) -> None:
    page = watched.open("components/core/")
    core = "chart-plugin-stats-core"
    page.locator(f"#{core} canvas").scroll_into_view_if_needed()  # below the page's panel
    box = page.locator(f"#{core} canvas").bounding_box()
    assert box is not None
    for x in (0.1, 0.99):  # before 3.21 came out (it is 0 there), and the newest days
        page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] / 2)
        items = chart_eval(
            page,
            core,
            "chart.tooltip.dataPoints.map((p) => [p.dataset.label, p.dataset.counts[p.dataIndex]])",
        )
        counts = [n for _, n in items]
        assert counts and 0 not in counts and counts == sorted(counts, reverse=True), items


def test_dark_mode_follows_the_system_and_the_toggle(site: tuple[str, Any]) -> None:
    base, browser = site
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(base + "components/core/")
    wait_drawn(page)
    core = "chart-plugin-stats-core"
    look = """(id) => {
      const chart = window.Chart.getChart(document.querySelector(`#${id} canvas`));
      const css = getComputedStyle(document.body);
      return {
        scheme: document.body.dataset.mdColorScheme,
        text: css.getPropertyValue("--pa-chart-text").trim(),
        ticks: chart.options.scales.x.ticks.color,
        border: chart.data.datasets.map((d) => d.borderColor),
        background: css.backgroundColor,
      };
    }"""
    dark = page.evaluate(look, core)
    assert dark["scheme"] == "slate"
    assert dark["ticks"] == dark["text"] == "#c4c7d4"  # light text on the dark background
    assert dark["border"] == ["#e69f00", "#56b4e9", "#999999"]  # 3.21, 3.20, other
    page.click("form[data-md-component='palette'] label:not([hidden])")
    page.wait_for_function("document.body.dataset.mdColorScheme === 'default'")
    light = page.evaluate(look, core)
    assert light["ticks"] == light["text"] == "#545454"  # the charts were redrawn
    assert light["background"] != dark["background"]
    page.click("form[data-md-component='palette'] label:not([hidden])")
    page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'")
    assert page.evaluate(look, core)["ticks"] == "#c4c7d4"
    # The system turning light while the page is open: the site and its charts follow.
    page.emulate_media(color_scheme="light")
    page.wait_for_function("document.body.dataset.mdColorScheme === 'default'")
    assert page.evaluate(look, core)["ticks"] == "#545454"
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'")
    # Black, the fifth colour, becomes light grey on the dark background.
    swatch = page.evaluate(
        "() => getComputedStyle(document.body).getPropertyValue('--pa-series-4').trim()"
    )
    assert swatch == "#dddddd"
    assert errors == []
    context.close()


def cells(page: Any, table: str) -> list[list[str]]:
    """The text of every shown row of a table, cell by cell."""
    return [
        [c.strip() for c in row.locator("th, td").all_inner_texts()]
        for row in page.locator(f"{table} tbody tr:visible").all()
    ]


def test_decision_views_are_tables_without_javascript(site: tuple[str, Any]) -> None:
    base, browser = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "components/core/")
    stats = page.locator(".pa-panel .pa-stat__value").all_inner_texts()
    assert stats == ["89", "100.0%", "74.5", "3.21", "3.20"]
    assert page.is_visible("#pa-versions")
    assert cells(page, "#pa-versions") == [
        ["3.21", "79", "88.8%", "100.0%"],
        ["3.20", "10", "11.2%", "11.2%"],
    ]
    assert cells(page, "#pa-pace") == [
        ["3.21", "2026-09-14", "1", "25", "88.8%"],  # published from 5 systems on (SPEC §8)
        ["3.20", "2026-07-31 or before", "before the summaries", "before the summaries", "11.2%"],
    ]
    page.goto(base + "deployments/")
    assert cells(page, "#pa-minimums") == [
        ["12", "0", "0.0%"],
        ["13", "7", "8.0%"],
        ["15", "58", "66.7%"],
    ]
    page.click("#chart-postgresql-minimums summary")
    newest = cells(page, "#chart-postgresql-minimums .pa-view table")[0]
    assert newest == ["2026-11-27", "0.0", "8.0", "66.7"]
    assert cells(page, "#pa-sizes-online_workers_buckets") == [
        ["processes", "89", "4.00", "2\u20133", "\u2265 5"],
        ["hosts", "89", "1.00", "1", "1"],
    ]
    sizes = "#chart-deployment-stats-worker-percentiles-processes"
    page.click(f"{sizes} .pa-view[data-view='0'] summary")
    assert cells(page, f"{sizes} .pa-view[data-view='0'] table")[0] == [
        "2026-11-27", "2\u20133", "\u2265 5"
    ]  # fmt: skip
    page.click(f"{sizes} .pa-view[data-view='1'] summary")  # every view's table is there
    assert cells(page, f"{sizes} .pa-view[data-view='1'] table")[0] == ["2026-11-27", "1", "1"]
    page.goto(base + "components/")
    assert not page.is_visible(".pa-filter")  # a box that would do nothing is not shown
    assert [r[0] for r in cells(page, "#pa-components")] == ["core", "rpm", "file"]
    context.close()


def test_component_panel_and_count_percent_toggle(watched: Watched) -> None:
    page = watched.open("components/core/")
    assert page.locator(".pa-panel .pa-stat__value").all_inner_texts()[:3] == [
        "89",
        "100.0%",
        "74.5",
    ]
    assert cells(page, "#pa-versions")[0] == ["3.21", "79", "88.8%", "100.0%"]
    core = "chart-plugin-stats-core"
    readout = page.locator(f"#{core} .pa-readout")
    page.click(f"#{core} button[data-pct='1']")
    assert pressed(page, f"#{core} .pa-unit") == ["Percent"]
    page.focus(f"#{core} canvas")
    page.keyboard.press("End")
    # The panel's shares, day by day: 79 and 10 of 89 on the newest day.
    assert readout.inner_text() == "2026-11-27; 3.21: 88.8 % (79); 3.20: 11.2 % (10); total: 89"
    # X.Y.Z: the same toggle, each X.Y.Z version's share (the markup version is 5 of 94).
    page.click(f"#{core} button[data-view='1']")
    page.wait_for_function(f"({CHART})('{core}').data.datasets.some((d) => d.label.endsWith('.0'))")
    assert pressed(page, f"#{core} .pa-unit") == ["Percent"]
    page.focus(f"#{core} canvas")
    page.keyboard.press("End")
    assert readout.inner_text() == (
        f"2026-11-27; 3.21.0: 84 % (79); 3.20.0: 10.6 % (10); {XSS_VERSION}: 5.3 % (5); total: 94"
    )
    page.click(f"#{core} button[data-pct='0']")
    assert chart_eval(page, core, "chart.options.scales.y.max") is None


def test_postgresql_minimum_view(watched: Watched) -> None:
    page = watched.open("deployments/")
    chart = "chart-postgresql-minimums"
    assert cells(page, "#pa-minimums")[1] == ["13", "7", "8.0%"]
    labels = chart_eval(page, chart, "chart.data.datasets.map((d) => d.label)")
    assert labels == ["below 12", "below 13", "below 15"]
    assert chart_eval(page, chart, "chart.options.scales.y.max") == 100
    page.focus(f"#{chart} canvas")
    page.keyboard.press("End")
    readout = page.locator(f"#{chart} .pa-readout")
    # The newest day: the panel's figures; a line's 0 is a value and stays in the list.
    assert readout.inner_text() == "2026-11-27; below 15: 66.7 %; below 13: 8.0 %; below 12: 0.0 %"
    page.keyboard.press("Home")
    assert (
        readout.inner_text() == "2026-07-31; below 15: 100.0 %; below 13: 51.7 %; below 12: 0.0 %"
    )
    legend = page.locator(f"#{chart} .pa-legend li:visible").all_inner_texts()
    assert legend == ["below 12", "below 13", "below 15"]
    page.click(f"#{chart} button[data-range='30']")
    assert page.evaluate(VISIBLE_POINTS, chart) == 30


# The colour of the canvas's pixel at (x, y) in chart coordinates.
PIXEL = """([id, x, y]) => {
  const chart = window.Chart.getChart(document.querySelector(`#${id} canvas`));
  const scale = chart.canvas.width / chart.width;
  const px = chart.canvas.getContext("2d").getImageData(Math.round(x * scale),
    Math.round(y * scale), 1, 1).data;
  return Array.from(px);
}"""


def test_percentiles_view(watched: Watched) -> None:
    page = watched.open("deployments/")
    chart = "chart-deployment-stats-worker-percentiles-processes"
    assert cells(page, "#pa-sizes-online_workers_buckets")[0][3:] == ["2\u20133", "\u2265 5"]
    labels = chart_eval(page, chart, "chart.data.datasets.map((d) => d.label)")
    assert labels == ["median", "90th percentile"]
    page.focus(f"#{chart} canvas")
    page.keyboard.press("End")
    readout = page.locator(f"#{chart} .pa-readout")
    # Each percentile says its bucket: the table's values, not a made-up number.
    assert readout.inner_text() == "2026-11-27; 90th percentile: \u2265 5; median: 2\u20133"
    page.keyboard.press("Home")
    assert readout.inner_text() == "2026-09-29; 90th percentile: \u2265 5; median: 2"
    # The axis leaves room above the open-ended 90th percentile ("5 or more"), whose band
    # reaches the top; hiding the series takes its band away.
    assert chart_eval(page, chart, "chart.scales.y.max") >= 10
    spot = chart_eval(
        page,
        chart,
        "[chart.getDatasetMeta(1).data[30].x + 3, chart.scales.y.getPixelForValue(7.7)]",
    )
    before = page.evaluate(PIXEL, [chart, *spot])
    page.locator(f"#{chart} .pa-legend button", has_text="90th percentile").click()
    assert page.evaluate(PIXEL, [chart, *spot]) != before
    # Hosts: the other view of the same figure.
    page.click(f"#{chart} button[data-view='1']")
    page.wait_for_function(f"({CHART})('{chart}').data.datasets[0].ranges.at(-1) === '1'")
    page.focus(f"#{chart} canvas")
    page.keyboard.press("End")
    assert readout.inner_text() == "2026-11-27; median: 1; 90th percentile: 1"
    assert "view=1" in page.url


def test_core_versions_view(watched: Watched) -> None:
    page = watched.open("components/rpm/")
    chart = "chart-plugin-stats-rpm-core"
    assert chart_eval(page, chart, "chart.data.datasets.map((d) => d.label)") == [
        "3.21", "3.20", "other", "(no core)"
    ]  # fmt: skip
    page.focus(f"#{chart} canvas")
    page.keyboard.press("End")
    readout = page.locator(f"#{chart} .pa-readout")
    assert readout.inner_text() == "2026-11-27; 3.20: 10; 3.21: 8; (no core): 6; total: 24"
    page.click(f"#{chart} button[data-pct='1']")
    page.focus(f"#{chart} canvas")
    page.keyboard.press("End")
    assert readout.inner_text() == (
        "2026-11-27; 3.20: 41.7 % (10); 3.21: 33.3 % (8); (no core): 25 % (6); total: 24"
    )
    assert not page.locator("#chart-plugin-stats-core-core").count()


def test_upgrade_pace_view(watched: Watched) -> None:
    page = watched.open("components/core/")
    chart = "chart-upgrade-pace-core"
    assert cells(page, "#pa-pace")[0] == ["3.21", "2026-09-14", "1", "25", "88.8%"]
    assert chart_eval(page, chart, "chart.data.datasets.map((d) => d.label)") == ["3.21"]
    assert chart_eval(page, chart, "chart.data.levels") == [10, 50]
    assert chart_eval(page, chart, "chart.options.scales.x.type") == "linear"
    canvas = page.locator(f"#{chart} canvas")
    canvas.focus()
    readout = page.locator(f"#{chart} .pa-readout")
    page.keyboard.press("Home")
    assert readout.inner_text() == "the day it was first seen; 3.21: 8.3 %"
    page.keyboard.press("ArrowRight")
    # The day the table says 3.21 reached 10 %, and the day it reached 50 %.
    assert readout.inner_text() == "1 day after it was first seen; 3.21: 10.0 %"
    for _ in range(24):
        page.keyboard.press("ArrowRight")
    assert readout.inner_text() == "25 days after it was first seen; 3.21: 50.0 %"
    # The dotted lines at 10 % and 50 % are drawn: the canvas has ink on them.
    ink = page.evaluate(
        """(id) => {
          const chart = window.Chart.getChart(document.querySelector(`#${id} canvas`));
          const ctx = chart.canvas.getContext("2d");
          const scale = chart.canvas.width / chart.width;
          return chart.data.levels.map((level) => {
            const y = Math.round(chart.scales.y.getPixelForValue(level) * scale);
            const left = Math.round((chart.chartArea.left + 20) * scale);
            const width = Math.round((chart.chartArea.width - 60) * scale);
            const row = ctx.getImageData(left, y, width, 1).data;
            let inked = 0;
            for (let i = 3; i < row.length; i += 4) if (row[i] > 0) inked += 1;
            return inked / (row.length / 4);
          });
        }""",
        chart,
    )
    assert all(share > 0.3 for share in ink), ink


def test_the_filter_box_filters_the_components(watched: Watched) -> None:
    page = watched.open("components/")
    box = page.get_by_label("Filter components by name")
    status = page.locator(".pa-filter [role='status']")
    assert page.is_visible(".pa-filter")
    assert status.inner_text() == "3 of 3 components shown"
    assert page.get_attribute(".pa-filter [role='status']", "aria-live") == "polite"
    box.fill("PM")  # any case
    assert [r[0] for r in cells(page, "#pa-components")] == ["rpm"]
    assert status.inner_text() == "1 of 3 components shown"
    box.fill("r")
    assert [r[0] for r in cells(page, "#pa-components")] == ["core", "rpm"]
    box.fill("nothing like it")
    assert cells(page, "#pa-components") == [] and status.inner_text() == "0 of 3 components shown"
    box.fill("")
    assert len(cells(page, "#pa-components")) == 3
    box.press_sequentially("fi")
    assert [r[0] for r in cells(page, "#pa-components")] == ["file"]
    caption = page.inner_text("#pa-components caption")
    assert caption.endswith(": 3 components")  # the caption keeps the whole count


def test_what_we_collect_is_reachable_from_every_page(watched: Watched, built: Path) -> None:
    """Every page's footer and navigation link the page; it renders, its tables readable."""
    target = watched.base + "what-we-collect/"
    page = watched.page
    every = page_paths(built)
    for path in every:
        page.goto(watched.base + path, wait_until="domcontentloaded")
        footer = page.locator(".md-copyright a", has_text="What we collect")
        assert footer.evaluate("(a) => a.href") == target, path
        nav = page.locator(".md-sidebar--primary a.md-nav__link", has_text="What we collect")
        assert nav.evaluate("(a) => a.href") == target, path
    # From a page with charts, by the footer; from a table page on a phone, by the menu.
    watched.open("components/core/")
    page.locator(".md-copyright a", has_text="What we collect").click()
    page.wait_for_url(target)
    wait_drawn(page)
    assert page.title() == "What we collect - Pulp analytics"
    assert page.locator("#pa-fields tbody tr").count() == 17
    assert page.locator("section.pa-metric").count() == len(METRICS)
    assert page.locator("#pa-reviewed tbody tr").count() == len(COMPONENTS)
    assert (
        page.locator("#turning-it-off + .pa-collect")
        .inner_text()
        .startswith("Set ANALYTICS = False")
    )
    phone = watched.context.browser.new_context(viewport={"width": 390, "height": 844})
    small = phone.new_page()
    small.on("console", lambda m: m.type == "error" and watched.errors.append(m.text))
    small.goto(watched.base + "tables/plugin_stats/core/")
    wait_drawn(small)
    small.locator("label.md-header__button[for='__drawer']").click()
    small.locator(".md-nav--primary a.md-nav__link", has_text="What we collect").click()
    small.wait_for_url(target)
    assert small.locator("#pa-fields").is_visible()
    phone.close()


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# On a desktop and a phone, light and dark: a page of each kind, and one table page per kind
# of chart (table pages share a template). Every other page: on a desktop, light.
AXE_PAGES = (
    "",
    "components/",
    "components/core/",
    "deployments/",
    "rbac/",
    "about/",
    "what-we-collect/",
    "tables/plugin_stats/core/",
    "tables/deployment_stats/worker/",
    "tables/postgresql_versions/",
    "tables/demography/",
    "tables/upgrade_pace/core/",
    "tables/postgresql_minimums/",
)
SCHEMES = ("light", "dark")  # the system setting; Material follows it


def test_axe_finds_no_violation_on_any_page(site: tuple[str, Any], built: Path) -> None:
    """Pages loaded on a desktop and on a phone, in light and in dark mode (as the reader's
    system prefers), every data table opened."""
    base, browser = site
    assert AXE.is_file(), "axe-core is not installed: run make install"
    every = page_paths(built)
    assert set(AXE_PAGES) < set(every) and len(every) > 20
    found: dict[str, list[str]] = {}
    errors: list[str] = []
    for (width, height), scheme in itertools.product(((1280, 900), (390, 844)), SCHEMES):
        context = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=scheme
        )
        context.add_init_script(path=str(AXE))
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        first = width == 1280 and scheme == SCHEMES[0]
        for path in every if first else AXE_PAGES:
            page.goto(base + path)
            wait_drawn(page)
            page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
            violations = page.evaluate(
                "() => axe.run(document, {resultTypes: ['violations']}).then((r) => "
                "r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`))"
            )
            if violations:
                found[f"/{path} {width}px {scheme}"] = violations
        context.close()
    assert found == {}
    assert errors == []


TARGETS = (
    "button:visible, .pa-data a:visible, .pa-source a:visible, .md-copyright a:visible, "
    "summary:visible, label.md-header__button:visible, .pa-filter input:visible, "
    ".pa-tab--decision a:visible"
)


def test_touch_targets_are_at_least_44px_on_a_phone(site: tuple[str, Any]) -> None:
    base, browser = site
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    small = []
    for path in ("", "components/", "components/core/", "tables/plugin_stats/core/"):
        page.goto(base + path)
        wait_drawn(page)
        targets = page.locator(TARGETS).all()
        assert len(targets) >= (3 if "tables/" in path or path == "components/" else 10), path
        for target in targets:
            box = target.bounding_box()
            if box and (box["width"] < 44 or box["height"] < 44):
                small.append((path, target.evaluate("(e) => e.outerHTML.slice(0, 80)"), box))
    assert small == []
    context.close()


def test_tables_keep_dates_on_one_line_and_the_header_in_view(site: tuple[str, Any]) -> None:
    base, browser = site
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(base + "tables/plugin_stats/core/")
    wait_drawn(page)
    lines = page.evaluate(
        """() => Array.from(document.querySelectorAll("tbody th")).map((th) => {
          const range = document.createRange();
          range.selectNodeContents(th);
          return new Set(Array.from(range.getClientRects()).map((r) => r.top)).size;
        })"""
    )
    assert len(lines) == 120 and set(lines) == {1}  # every date on one line, even on a phone
    region = page.locator(".pa-table")
    region.evaluate("(e) => { e.scrollTop = 1500; }")
    tops = page.evaluate(
        """() => [document.querySelector(".pa-table").getBoundingClientRect().top,
                  document.querySelector(".pa-tab thead th").getBoundingClientRect().top,
                  document.querySelector(".pa-tab tbody th").getBoundingClientRect().top]"""
    )
    region_top, header_top, first_row_top = tops
    assert abs(header_top - region_top) < 2  # the header stayed at the top of the table
    assert first_row_top < region_top - 1000  # while the rows scrolled away under it
    context.close()
