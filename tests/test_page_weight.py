"""Page weights on ten years of daily summaries (the benchmark's history): every page's HTML
and the bytes a first visit transfers, gzip-compressed as GitHub Pages serves them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.site import first_load_sizes, html_sizes, page_kind, write_history
from builder.site.pages import build_site

pytestmark = [pytest.mark.slow, pytest.mark.browser]

MAX_HTML = 250_000
MAX_FIRST_LOAD = 400_000


@pytest.fixture(scope="module")
def ten_years(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("ten-years")
    write_history(base / "summaries", days=3650, systems=1500, seed=4)
    build_site(base / "summaries", "prod", base / "site", revision="test")
    return base / "site"


def test_every_page_is_light_with_ten_years_of_history(ten_years: Path) -> None:
    html = html_sizes(ten_years)
    assert len(html) > 50 and "tables/plugin_stats/core/" in html
    assert {path: size for path, size in html.items() if size > MAX_HTML} == {}
    # A first visit to every page that is not a table or a component, and to the heaviest
    # table and component pages (the others share their templates and are lighter).
    visit = [path for path in html if page_kind(path) in ("overview", "other")]
    for kind in ("table", "component"):
        visit.append(max((p for p in html if page_kind(p) == kind), key=html.__getitem__))
    loads = first_load_sizes(ten_years, visit)
    assert {path: size for path, size in loads.items() if size > MAX_FIRST_LOAD} == {}
    assert loads[""] > 100_000  # the scripts and data of the overview were counted


def test_whole_tables_still_hold_every_published_day(ten_years: Path) -> None:
    page = (ten_years / "tables/plugin_stats/core/index.html").read_text(encoding="utf-8")
    data = json.loads((ten_years / "data/plugin_stats/core.json").read_text(encoding="utf-8"))
    rows = re.findall(r'<tr><th scope="row">(\d{4}-\d{2}-\d{2})</th>', page)
    assert rows == data["labels"][::-1] and len(rows) > 800
