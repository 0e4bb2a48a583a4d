"""The built site in a real headless Chromium, served from 127.0.0.1.

Every page must draw each of its charts with data, with no console error, no request to any
other host and no script from the data. Saves test-artifacts/overview.png.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from builder.site.pages import build_site
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
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The sample history built once, served, and a browser: (base URL, browser)."""
    base = tmp_path_factory.mktemp("browser")
    summaries = write_sample(base / "summaries")
    build_site(summaries, "prod", base / "site", revision="test")
    with serve(base / "site") as url, chromium() as browser:
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
            ):
                assert chart["state"] == "empty", chart  # no system has any: "No data yet."
                continue
            assert chart["state"] == "true", (path, chart)
            assert chart["sizes"] and all(chart["sizes"]), (path, chart)
            assert chart["inked"] > 5000, (path, chart)
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
    links = page.locator("ul.pa-links-list a").all_inner_texts()
    assert links == ["core", "file", "rpm"]  # unreviewed names are published as "(other)"
    assert XSS_NAME not in page.content()
    page.click("ul.pa-links-list a >> text=core")
    wait_drawn(page)
    page.click("button[data-view='1']")
    page.wait_for_selector(".pa-view[data-view='1']:not([hidden])")
    header = page.locator(".pa-view[data-view='1'] thead th").all_text_contents()
    assert header == ["date", XSS_VERSION, "(other)", "3.21.0", "3.20.0"]
    labels = page.evaluate(
        "() => window.Chart.getChart(document.querySelector('canvas')).data.datasets"
        ".map((d) => d.label)"
    )
    assert labels == [XSS_VERSION, "(other)", "3.21.0", "3.20.0"]
    assert page.locator("img[src=x]").count() == 0


def test_without_javascript_the_tables_carry_the_data(site: tuple[str, Any]) -> None:
    base, browser = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "deployments/")
    assert page.is_visible(".pa-nojs")
    assert not page.is_visible(".pa-controls") and not page.is_visible("canvas")
    page.click("#chart-postgresql-versions summary")
    rows = page.locator("#chart-postgresql-versions tbody tr").all_inner_texts()
    assert [r.split() for r in rows] == [["13.4", "87"], ["(other)", "2"]]
    context.close()
