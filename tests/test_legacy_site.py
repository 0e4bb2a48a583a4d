"""Imported history on the site: the old site's JSON views' answers, and the history mark.

``OLD_VIEWS`` are what analytics.pulpproject.org's views answered for the tables of
tests/legacy_fixture.py, worked out by hand from the views' code: ``plugin_stats`` (X.Y, and
X.Y.Z with ``?z_stream=1``), ``deployment_stats``, ``postgresql_versions``, ``demography``,
``systems_by_age?bucket=1`` and ``rbac_stats/<measure>/?bucket=1`` (the way its front page
asked for them). The site's data files for the same days must be the same, apart from the
``annotations`` beside the datasets, the means' rounding to 4 decimals (SPEC §5) and, on prod,
the small counts published under "(other)" (SPEC §8, ``PUBLISHED_ON_PROD``).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from builder.cli import main
from builder.site import charts
from builder.site.pages import build_site
from builder.summaries.summary import Summary, load_all, summary_path
from tests import legacy_fixture as fx
from tests.browser import chromium, serve, wait_drawn
from tests.legacy_fixture import A, B, C, D

DAYS = [A, B, C, D]  # B..C..D: 2023-04-17 has no summary
MARK = {"type": "history", "date": D, "label": "imported history ends"}


def points(*pairs: tuple[int, int]) -> list[dict[str, int]]:
    return [{"age": age, "count": count} for age, count in pairs]


def zeros(oldest: int, youngest: int, running: int = 0) -> list[tuple[int, int]]:
    """The gap-filling points the demography view adds for ages with no systems."""
    return [(age, running) for age in range(oldest, youngest - 1, -1)]


def stacked(labels: list[str], *columns: tuple[str, list[int]]) -> dict[str, Any]:
    return {
        "labels": labels,
        "datasets": [
            {"label": label, "data": data, "fill": "origin" if i == 0 else "-1"}
            for i, (label, data) in enumerate(columns)
        ],
    }


PARSING = {"xAxisKey": "age", "yAxisKey": "count"}
OLD_VIEWS: dict[str, Any] = {
    # /plugin_stats/core/: every day with core rows; versions newest first, zeros filled
    "plugin_stats/core": stacked(
        DAYS, ("3.23", [0, 0, 0, 6]), ("3.22", [6, 15, 18, 10]), ("3.21", [10, 4, 0, 0])
    ),
    "plugin_stats/core.z_stream": stacked(
        DAYS,
        ("3.23.0", [0, 0, 0, 6]),
        ("3.22.1", [0, 6, 18, 10]),
        ("3.22.0", [6, 9, 0, 0]),
        ("3.21.1", [6, 4, 0, 0]),
        ("3.21.0", [4, 0, 0, 0]),
    ),
    # rpm has no rows on C: not a day of its chart
    "plugin_stats/rpm": stacked([A, B, D], ("3.20", [0, 2, 4]), ("3.19", [7, 5, 0])),
    "plugin_stats/rpm.z_stream": stacked(
        [A, B, D], ("3.20.1", [0, 0, 4]), ("3.20.0", [0, 2, 0]), ("3.19.4", [7, 5, 0])
    ),
    # /deployment_stats/<component>/: one label per DeploymentStats row (B has none)
    "deployment_stats/worker": {
        "labels": [A, C, D],
        "datasets": [
            {"label": "Mean Processes", "data": [2.0, 2.3333333333333335, 3.0]},
            {"label": "Mean Hosts", "data": [1.0, None, 1.5]},
        ],
    },
    "deployment_stats/content_app": {
        "labels": [A, C, D],
        "datasets": [
            {"label": "Mean Processes", "data": [1.5, 1.25, 2.0]},
            {"label": "Mean Hosts", "data": [1.0, 1.0, None]},
        ],
    },
    # /postgresql_versions/: the newest day, ascending by version number
    "postgresql_versions": {
        "labels": ["Unknown", "12.15", "14.5"],
        "datasets": [{"data": [1, 3, 12]}],
    },
    # /demography/: the newest day, from the oldest age + 1 down, gaps as 0, running sum
    "demography": {
        "datasets": [
            {
                "label": "count",
                "data": points(
                    (35, 0),
                    (34, 5),
                    *zeros(33, 16),
                    (15, 2),
                    *zeros(14, 7),
                    (6, 4),
                    *zeros(5, 3),
                    (2, 3),
                    (1, 2),
                    (0, 1),
                ),
                "parsing": PARSING,
            },
            {
                "label": "accumulated",
                "data": points(
                    (35, 0),
                    (34, 5),
                    *zeros(33, 16, 5),
                    (15, 7),
                    *zeros(14, 7, 7),
                    (6, 11),
                    *zeros(5, 3, 11),
                    (2, 14),
                    (1, 16),
                    (0, 17),
                ),
                "parsing": PARSING,
                "fill": True,
            },
        ]
    },
    # /systems_by_age/?bucket=1: ages 0 and 1 alone, then 2, 3-4, 5-8, ...; oldest first
    "systems_by_age": stacked(
        DAYS,
        ("33-64", [0, 0, 0, 5]),
        ("17-32", [6, 6, 6, 0]),
        ("9-16", [3, 2, 2, 2]),
        ("5-8", [0, 0, 1, 4]),
        ("3-4", [5, 6, 2, 0]),
        ("2", [0, 1, 4, 3]),
        ("1", [2, 4, 3, 2]),
        ("0", [4, 3, 2, 1]),
    ),
    # /rbac_stats/<measure>/?bucket=1: days with rows for the measure (A has none)
    "rbac_stats/users": stacked(
        [B, C, D],
        ("0", [3, 2, 0]),
        ("1", [10, 8, 9]),
        ("2", [4, 0, 7]),
        ("3-4", [2, 5, 0]),
        ("5-8", [0, 3, 0]),
    ),
    "rbac_stats/groups": stacked([B, C, D], ("0", [19, 18, 16])),
    "rbac_stats/domains": {"labels": [], "datasets": []},
    "rbac_stats/custom_access_policies": {"labels": [], "datasets": []},
    "rbac_stats/custom_roles": {"labels": [], "datasets": []},
}
TIME_CHARTS = {name for name in OLD_VIEWS if name not in ("demography", "postgresql_versions")}

# Prod publishes no count below 5 (SPEC §8), so there the charts are what the old views answer
# for the tables as folded (tests/test_legacy.py's FOLDED_ON_PROD), with the published
# "(other)" drawn as the charts' own "other", last: small versions are one "other" series,
# rpm's 4 systems on D are not a day of its chart, small PostgreSQL versions are one "other"
# slice, and small RBAC numbers go to the bucket "other". The dev site draws OLD_VIEWS.
PUBLISHED_ON_PROD: dict[str, Any] = {
    "plugin_stats/core": stacked(
        DAYS,
        ("3.23", [0, 0, 0, 6]),
        ("3.22", [6, 15, 18, 10]),
        ("3.21", [10, 0, 0, 0]),
        ("other", [0, 4, 0, 0]),  # 3.21 on B
    ),
    "plugin_stats/core.z_stream": stacked(
        DAYS,
        ("3.23.0", [0, 0, 0, 6]),
        ("3.22.1", [0, 6, 18, 10]),
        ("3.22.0", [6, 9, 0, 0]),
        ("3.21.1", [6, 0, 0, 0]),
        ("other", [4, 4, 0, 0]),  # 3.21.0 on A, 3.21.1 on B
    ),
    "plugin_stats/rpm": stacked([A, B], ("3.19", [7, 5]), ("other", [0, 2])),
    "plugin_stats/rpm.z_stream": stacked([A, B], ("3.19.4", [7, 5]), ("other", [0, 2])),
    "postgresql_versions": {"labels": ["14.5", "other"], "datasets": [{"data": [12, 4]}]},
    "rbac_stats/users": stacked(
        [B, C, D],
        ("1", [10, 8, 9]),
        ("2", [0, 0, 7]),
        ("3-4", [0, 5, 0]),
        ("other", [9, 5, 0]),  # B: 0, 2 and 4 users; C: 0 and 7 users
    ),
}


def rounded_means(data: dict[str, Any]) -> dict[str, Any]:
    """The old view's answer with means as a summary file stores them (4 decimals)."""
    datasets = [
        {**d, "data": [v if v is None else round(v, 4) for v in d["data"]]}
        for d in data["datasets"]
    ]
    return {**data, "datasets": datasets}


def import_into(summaries: Path, fixture: Path, deployment: str = "prod") -> None:
    args = [
        "import-legacy",
        str(fixture),
        "--summaries",
        str(summaries),
        "--deployment",
        deployment,
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output


def read_data(site: Path, name: str) -> Any:
    return json.loads((site / "data" / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The fixture imported (prod) and built: (summaries, site)."""
    base = tmp_path_factory.mktemp("legacy-site")
    import_into(base / "summaries", fx.write(base / "legacy.json", fx.history().rows))
    build_site(base / "summaries", "prod", base / "site", revision="test")
    return base / "summaries", base / "site"


@pytest.mark.parametrize("name", sorted(OLD_VIEWS))
def test_chart_data_of_imported_days_is_what_the_old_view_answered(
    imported: tuple[Path, Path], name: str
) -> None:
    data = read_data(imported[1], name)
    annotations = data.pop("annotations", None)
    old = PUBLISHED_ON_PROD.get(name, OLD_VIEWS[name])
    assert data == (rounded_means(old) if name.startswith("deployment_stats") else old)
    has_days = bool(old.get("labels"))
    assert annotations == ([MARK] if name in TIME_CHARTS and has_days else None)


def test_the_dev_deployment_counts_the_same_tables_the_same_way(tmp_path: Path) -> None:
    import_into(tmp_path / "summaries", fx.write(tmp_path / "f.json", fx.history().rows), "dev")
    build_site(tmp_path / "summaries", "dev", tmp_path / "site", revision="test")
    for name in ("plugin_stats/core", "systems_by_age", "rbac_stats/users", "demography"):
        data = read_data(tmp_path / "site", name)
        data.pop("annotations", None)
        assert data == OLD_VIEWS[name]
    systems = read_data(tmp_path / "site", "systems")
    assert systems["datasets"] == [
        {"label": "systems", "data": [20, 22, 20, 17]},
        {"label": "persistent systems", "data": [20, 22, 20, 17]},  # dev: age 0 counts
    ]


def new_day(day: date, components: dict[str, dict[str, int]]) -> Summary:
    """A day summarized by the new pipeline, after the import."""
    total = sum(components["core"].values())
    return Summary(
        date=day,
        deployment="prod",
        systems=total + 1,
        persistent_systems=total,
        age_count={0: 1, 40: total},
        metrics={
            "xy_component": components,
            "xyz_component": {
                name: {f"{v}.0": c for v, c in versions.items()}
                for name, versions in components.items()
            },
            "postgresql_version": {"140005": total},
            "online_workers": {"processes__avg": 2.0, "hosts__avg": 1.0},
            "online_content_apps": {"processes__avg": 2.0, "hosts__avg": 1.0},
            "rbac_stats": {"users": {"1": total}, "groups": {}, "domains": {},
                           "custom_access_policies": {}, "custom_roles": {}},
        },
    )  # fmt: skip


@pytest.fixture(scope="module")
def continued(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Imported history, then two days of the new pipeline with a component new on them."""
    base = tmp_path_factory.mktemp("continued")
    summaries = base / "summaries"
    import_into(summaries, fx.write(base / "legacy.json", fx.history().rows))
    for n in (1, 2):
        summary = new_day(
            date(2023, 4, 18) + timedelta(days=n), {"core": {"3.23": 20}, "file": {"1.9": 12}}
        )
        path = summary_path(summaries, "prod", summary.date)
        path.write_text(summary.to_json(), encoding="utf-8")
    build_site(summaries, "prod", base / "site", revision="test")
    return summaries, base / "site"


def test_every_time_chart_marks_the_last_imported_day(continued: tuple[Path, Path]) -> None:
    summaries, site = continued
    for name in ("systems", "systems_by_age", "plugin_stats/core", "plugin_stats/core.z_stream",
                 "deployment_stats/worker", "rbac_stats/users"):  # fmt: skip
        data = read_data(site, name)
        assert data["annotations"] == [MARK], name
        assert data["labels"][-2:] == ["2023-04-19", "2023-04-20"]
        assert all(set(d) <= {"label", "data", "fill"} for d in data["datasets"])
    # A chart that begins after the imported history has no mark; nor have the one-day charts.
    assert "annotations" not in read_data(site, "plugin_stats/file")
    assert "annotations" not in read_data(site, "demography")
    assert "annotations" not in read_data(site, "postgresql_versions")
    assert charts.history_annotations(load_all(summaries, "prod")) == [MARK]


def test_annotate_leaves_other_charts_and_datasets_alone() -> None:
    data = {"labels": ["2023-04-19"], "datasets": [{"label": "x", "data": [1]}]}
    assert charts.annotate("versions_over_time", data, [MARK]) == data  # starts after the mark
    earlier = {"labels": [A, "2023-04-19"], "datasets": [{"label": "x", "data": [1, 2]}]}
    assert charts.annotate("versions_over_time", earlier, [MARK]) == {
        **earlier,
        "annotations": [MARK],
    }
    assert charts.annotate("newest_pie", earlier, [MARK]) == earlier
    assert charts.annotate("buckets_over_time", {"labels": [], "datasets": []}, [MARK]) == {
        "labels": [],
        "datasets": [],
    }
    assert charts.history_annotations([]) == []


COLUMN_INK = """([id, date]) => {
  // Opaque gray pixels in the three canvas columns around the date (the mark is #616161;
  // grid lines are faint, data lines coloured).
  const chart = window.Chart.getChart(document.querySelector(`#${id} canvas`));
  const ratio = window.devicePixelRatio || 1;
  const x = chart.scales.x;
  const px = Math.round(x.getPixelForValue(x.parse(date)) * ratio);
  const {top, bottom} = chart.chartArea;
  const height = Math.floor((bottom - top) * ratio);
  let gray = 0;
  for (let column = px - 1; column <= px + 1; column++) {
    const pixels = chart.ctx.getImageData(column, Math.ceil(top * ratio), 1, height).data;
    for (let i = 0; i < pixels.length; i += 4) {
      const [r, g, b, a] = [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]];
      if (a > 100 && r < 180 && Math.abs(r - g) < 16 && Math.abs(g - b) < 16) gray++;
    }
  }
  return gray;
}"""


SYSTEMS_CHART = "window.Chart.getChart(document.querySelector('#chart-systems canvas'))"


@pytest.mark.browser
def test_the_mark_is_drawn_as_a_line_across_the_chart(continued: tuple[Path, Path]) -> None:
    _, site = continued
    errors: list[str] = []
    with serve(site) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base)
        wait_drawn(page)
        marked = page.evaluate(COLUMN_INK, ["chart-systems", D])
        page.evaluate(
            f"() => {{ const c = {SYSTEMS_CHART}; c.data.annotations = []; c.update(); }}"
        )
        unmarked = page.evaluate(COLUMN_INK, ["chart-systems", D])
        label = page.evaluate(f"() => {SYSTEMS_CHART}.data.datasets.map((d) => d.label)")
    assert errors == []
    assert label == ["systems", "persistent systems"]  # the mark is no dataset
    assert marked > 40 and marked > 4 * unmarked, (marked, unmarked)
