"""The public JSON API in real builds: every file against its schema, its numbers against the
summary files, names that never become file names, the API page and its examples."""

from __future__ import annotations

import copy
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from builder.site.api import SCHEMAS, api_files, schema_path
from builder.site.decisions import people
from builder.site.pages import ROOT, Settings, build_site
from builder.summaries.summary import summary_path
from tests.test_site import NEWEST, XSS_NAME, published, sample_day

DAYS = 120
MISSING = (110, 115, 116)  # days without a summary: two inside the 7-day window
API = Path("api/v1")


def write_history(root: Path) -> Path:
    """The site tests' sample history as prod publishes it, with a few days missing, and on the
    newest day rpm versions folded into (other) as the summaries fold versions too rare to
    publish (PostgreSQL's 2 unknown systems are folded there already)."""
    for n in range(DAYS):
        if n in MISSING:
            continue
        summary = published(sample_day(n, DAYS))
        if n == DAYS - 1:
            summary.metrics["xy_component"]["rpm"]["(other)"] = 2
            summary.metrics["xyz_component"]["rpm"]["(other)"] = 2
            core = summary.metrics["core_xy_by_component"]["rpm"]  # rpm's totals agree
            core["(other)"] = core.get("(other)", 0) + 2
            summary.metrics["postgresql_version"]["(other)"] += 3
        path = summary_path(root, "prod", summary.date)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(summary.to_json(), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    """One prod build: (the summary files as JSON, oldest first; the site)."""
    base = tmp_path_factory.mktemp("api")
    summaries = write_history(base / "summaries")
    build_site(summaries, "prod", base / "site", revision="0" * 40)
    days = [read_json(p) for p in sorted(summaries.rglob("*.json"))]
    return days, base / "site"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def schema(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = read_json(schema_path(kind))
    return loaded


def closed(node: Any) -> Any:
    """A schema with ``additionalProperties: false`` on every object that lists properties:
    a file that validates against it has no field the schema does not document."""
    if isinstance(node, dict):
        out = {k: closed(v) for k, v in node.items()}
        if "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [closed(v) for v in node]
    return node


def assert_valid(kind: str, document: Any) -> None:
    validator = Draft202012Validator(closed(schema(kind)))
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]
    assert not errors, errors


def kind_of(path: Path) -> str:
    if path.parent.name == "components":
        return "component"
    if path.parent.name == "badges":
        return "badge"
    return path.stem


# -- schemas --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SCHEMAS)
def test_the_schemas_are_valid_json_schemas(kind: str) -> None:
    Draft202012Validator.check_schema(schema(kind))


def test_every_api_file_validates_against_its_schema(
    built: tuple[list[dict[str, Any]], Path],
) -> None:
    _, site = built
    files = sorted(p for p in (site / API).rglob("*.json") if p.parent.name != "schema")
    kinds = {kind_of(p.relative_to(site / API)) for p in files}
    assert kinds == set(SCHEMAS)
    for path in files:
        assert_valid(kind_of(path.relative_to(site / API)), read_json(path))
    for kind in SCHEMAS:  # the published schemas are the repository's
        published = site / API / "schema" / f"{kind}.schema.json"
        assert published.read_bytes() == schema_path(kind).read_bytes()


def test_the_files_are_those_the_index_lists(built: tuple[list[dict[str, Any]], Path]) -> None:
    _, site = built
    index = read_json(site / API / "index.json")
    listed = {c["file"] for c in index["components"]} | {c["badge"] for c in index["components"]}
    found = {
        str(p.relative_to(site / API))
        for folder in ("components", "badges")
        for p in (site / API / folder).glob("*.json")
    }
    assert listed == found
    assert {c["name"] for c in index["components"]} == {"core", "rpm", "file"}


# -- the numbers are the summaries' -----------------------------------------------------------


def test_index_numbers(built: tuple[list[dict[str, Any]], Path]) -> None:
    days, site = built
    newest = days[-1]
    index = read_json(site / API / "index.json")
    assert index["deployment"] == "prod"
    assert (index["newest_day"], index["oldest_day"]) == (days[-1]["date"], days[0]["date"])
    assert index["days"] == DAYS - len(MISSING)
    assert (index["systems"], index["persistent_systems"]) == (
        newest["systems"],
        newest["persistent_systems"],
    )
    running = {n: sum(v.values()) for n, v in newest["xy_component"].items()}
    ranked = [c["name"] for c in index["components"]]
    assert [running[n] for n in ranked] == sorted((running[n] for n in ranked), reverse=True)
    for entry in index["components"]:
        assert entry["systems"] == running[entry["name"]]
        assert entry["share"] == round(running[entry["name"]] / newest["persistent_systems"], 4)


def mean_over(days: list[dict[str, Any]], name: str, length: int) -> tuple[float, float, int]:
    """(mean systems, mean share, days) of ``name`` over the days with a file in the window."""
    end = date.fromisoformat(days[-1]["date"])
    inside = [d for d in days if date.fromisoformat(d["date"]) > end - timedelta(days=length)]
    systems = [sum(d["xy_component"].get(name, {}).values()) for d in inside]
    shares = [n / d["persistent_systems"] for n, d in zip(systems, inside, strict=True)]
    return sum(systems) / len(inside), sum(shares) / len(inside), len(inside)


@pytest.mark.parametrize("name", ["core", "rpm", "file"])
def test_component_numbers(built: tuple[list[dict[str, Any]], Path], name: str) -> None:
    days, site = built
    newest = days[-1]
    doc = read_json(site / API / "components" / f"{name}.json")
    counts = newest["xy_component"][name]
    assert doc["name"] == name and doc["newest_day"] == newest["date"] == NEWEST.isoformat()
    assert doc["systems"] == sum(counts.values())
    assert doc["share"] == round(doc["systems"] / newest["persistent_systems"], 4)
    for length in (7, 30, 90, 365):
        mean_systems, mean_share, used = mean_over(days, name, length)
        window = doc["windows"][f"{length}d"]
        assert window["days"] == window["share_days"] == used
        assert window["mean_systems"] == round(mean_systems, 2)
        assert window["mean_share"] == round(mean_share, 4)
    assert doc["windows"]["7d"]["days"] == 5  # two of the last seven days have no summary
    assert doc["windows"]["365d"]["days"] == DAYS - len(MISSING)
    for key, listed, other in (
        ("xy_component", doc["versions"], doc["other_systems"]),
        ("xyz_component", doc["z_versions"], doc["z_other_systems"]),
    ):
        counts = newest[key][name]
        known = {v: n for v, n in counts.items() if v != "(other)"}
        assert other == counts.get("(other)", 0)
        # Summary files keep versions in version order, oldest first.
        assert [v["version"] for v in listed] == list(known)[::-1]
        assert [v["systems"] for v in listed] == list(known.values())[::-1]
        assert sum(v["share"] for v in listed) == pytest.approx(1, abs=5e-4)
        older = [v["share_this_or_older"] for v in listed]
        assert older[0] == 1.0 and older == sorted(older, reverse=True)
        total = sum(known.values())
        assert older[-1] == round(listed[-1]["systems"] / total, 4)


@pytest.mark.parametrize("name", ["core", "rpm"])
def test_the_30_day_trend_compares_with_the_30_days_before(
    built: tuple[list[dict[str, Any]], Path], name: str
) -> None:
    days, site = built
    newest = date.fromisoformat(days[-1]["date"])

    def running(first: date, last: date) -> list[int]:
        return [
            sum(d["xy_component"].get(name, {}).values())
            for d in days
            if first <= date.fromisoformat(d["date"]) <= last
        ]

    now = running(newest - timedelta(days=29), newest)
    before = running(newest - timedelta(days=59), newest - timedelta(days=30))
    expected = {
        "length_days": 30,
        "mean_systems": round(sum(now) / len(now), 2),
        "days": len(now),
        "previous_mean_systems": round(sum(before) / len(before), 2),
        "previous_days": len(before),
        "change": round(sum(now) / len(now) - sum(before) / len(before), 2),
        "relative_change": round((sum(now) / len(now)) / (sum(before) / len(before)) - 1, 4),
    }
    assert expected["days"] == 27 and expected["previous_days"] == 30  # three days missing
    assert read_json(site / API / "components" / f"{name}.json")["trend"] == expected
    [listed] = [c for c in read_json(site / API / "index.json")["components"] if c["name"] == name]
    assert listed["trend"] == expected


def test_rpm_folded_versions_are_counted_apart(built: tuple[list[dict[str, Any]], Path]) -> None:
    _, site = built
    rpm = read_json(site / API / "components/rpm.json")
    assert rpm["other_systems"] == rpm["z_other_systems"] == 2
    assert rpm["systems"] == rpm["versions"][0]["systems"] + 2
    assert rpm["versions"][0]["share"] == 1.0


def test_core_versions_among_a_components_systems(
    built: tuple[list[dict[str, Any]], Path],
) -> None:
    days, site = built
    rpm = read_json(site / API / "components/rpm.json")
    # The newest day: rpm's 26 systems are 10 on core 3.20, 8 on 3.21, 6 without core and 2
    # folded into (other) (write_history's), the shares of the 18 listed.
    assert days[-1]["core_xy_by_component"]["rpm"] == {
        "3.20": 10, "3.21": 8, "(no core)": 6, "(other)": 2
    }  # fmt: skip
    assert rpm["core_versions"] == [
        {"version": "3.21", "systems": 8, "share": 0.4444, "share_this_or_older": 1.0},
        {"version": "3.20", "systems": 10, "share": 0.5556, "share_this_or_older": 0.5556},
    ]
    assert (rpm["core_other_systems"], rpm["no_core_systems"]) == (2, 6)
    assert rpm["systems"] == 8 + 10 + 2 + 6
    core = read_json(site / API / "components/core.json")
    assert (core["core_versions"], core["core_other_systems"], core["no_core_systems"]) == (
        None, None, None
    )  # fmt: skip


def test_deployments_give_mean_median_and_ninetieth_percentile(
    built: tuple[list[dict[str, Any]], Path],
) -> None:
    days, site = built
    document = read_json(site / API / "deployments.json")
    assert (document["newest_day"], document["sizes_day"]) == (days[-1]["date"],) * 2
    assert document["online_workers"]["processes"] == {
        "systems": 89,
        "mean": 4.0,
        "median": {"low": 2, "high": 3, "text": "2\u20133"},
        "percentile_90": {"low": 5, "high": None, "text": "\u2265 5"},
        "buckets": {"1": 20, "2-3": 58, "5+": 11},
    }
    assert days[-1]["online_workers_buckets"]["processes"] == {"1": 20, "2-3": 58, "5+": 11}
    assert document["online_workers"]["hosts"]["median"] == {"low": 1, "high": 1, "text": "1"}
    assert document["online_content_apps"]["hosts"] == {
        "systems": 0, "mean": None, "median": None, "percentile_90": None, "buckets": {}
    }  # fmt: skip


def test_deployments_without_bucket_counts_say_so() -> None:
    history = [published(sample_day(n, 60)) for n in range(60)]  # before day 60: no buckets
    document = json.loads(api_files(history, Settings(), "prod")[f"{API}/deployments.json"])
    assert (document["newest_day"], document["sizes_day"]) == (str(NEWEST), None)
    assert document["online_workers"]["processes"] == {
        "systems": 0, "mean": None, "median": None, "percentile_90": None, "buckets": {}
    }  # fmt: skip
    assert_valid("deployments", document)
    rpm = json.loads(api_files(history, Settings(), "prod")[f"{API}/components/rpm.json"])
    assert rpm["core_versions"] is None


def test_upgrade_pace_follows_the_sample_adoption(built: tuple[list[dict[str, Any]], Path]) -> None:
    days, site = built
    core = read_json(site / API / "components/core.json")
    first = next(d["date"] for d in days if "3.21" in d["xy_component"]["core"])
    ten = next(
        d["date"]
        for d in days
        if d["xy_component"]["core"].get("3.21", 0) * 10 >= sum(d["xy_component"]["core"].values())
    )
    half = next(
        d["date"]
        for d in days
        if d["xy_component"]["core"].get("3.21", 0) * 2 >= sum(d["xy_component"]["core"].values())
    )
    gap = lambda a, b: (date.fromisoformat(b) - date.fromisoformat(a)).days  # noqa: E731
    assert core["upgrade_pace"] == [
        {
            "version": "3.21",
            "first_seen": first,
            "days_to_10": gap(first, ten),
            "days_to_50": gap(first, half),
            "before_history": False,
        },
        {
            "version": "3.20",
            "first_seen": days[0]["date"],
            "days_to_10": 0,
            "days_to_50": 0,
            "before_history": True,
        },
    ]


def test_badges_show_the_30_day_mean_for_people(built: tuple[list[dict[str, Any]], Path]) -> None:
    days, site = built
    for name in ("core", "rpm", "file"):
        badge = read_json(site / API / "badges" / f"{name}.json")
        mean_systems, _, _ = mean_over(days, name, 30)
        assert badge == {
            "schemaVersion": 1,
            "label": f"{name} systems",
            "message": people(mean_systems),
            "color": "blue",
            "cacheSeconds": 3600,
        }


def test_postgresql_numbers(built: tuple[list[dict[str, Any]], Path]) -> None:
    days, site = built
    newest = days[-1]
    pg = read_json(site / API / "postgresql.json")
    counts = newest["postgresql_version"]
    assert "0" not in counts  # 2 unknown systems: below prod's minimum, folded
    assert (pg["unknown_systems"], pg["other_systems"]) == (0, counts["(other)"]) == (0, 5)
    # On the newest day: 7 on 12.15, 51 on 13.4 and 29 on 15.2 (87 known), 2 unknown, 3 folded.
    assert (counts["120015"], counts["130004"], counts["150002"]) == (7, 51, 29)
    assert pg["known_systems"] == 87 == newest["persistent_systems"] - 2
    assert pg["versions"] == [
        {
            "version": version,
            "server_version_num": number,
            "systems": systems,
            "share": round(systems / 87, 4),
            "share_this_or_older": round(older / 87, 4),
        }
        for version, number, systems, older in (
            ("12.15", 120015, 7, 7),
            ("13.4", 130004, 51, 58),
            ("15.2", 150002, 29, 87),
        )
    ]
    assert pg["minimums"] == [
        {"minimum": "12", "server_version_num": 120000, "systems_below": 0, "share_below": 0.0},
        {"minimum": "13", "server_version_num": 130000, "systems_below": 7, "share_below": 0.0805},
        {"minimum": "15", "server_version_num": 150000, "systems_below": 58, "share_below": 0.6667},
    ]


# -- names ----------------------------------------------------------------------------------


def test_a_component_name_that_is_not_plain_never_becomes_a_file_name() -> None:
    """Summaries on disk hold only reviewed names (SPEC §8); the API still never trusts a name
    for a path. Its files computed from summaries as counted, before publishing, show it."""
    counted = [sample_day(n, DAYS) for n in range(DAYS)]
    files = api_files(counted, Settings(), "prod")
    index = json.loads(files["api/v1/index.json"])
    entry = next(c for c in index["components"] if c["name"] == XSS_NAME)
    assert re.fullmatch(r"components/x-[0-9a-f]{12}\.json", entry["file"])
    assert re.fullmatch(r"badges/x-[0-9a-f]{12}\.json", entry["badge"])
    for path in files:
        assert re.fullmatch(r"[a-z0-9_./-]+", path), path
    doc = json.loads(files[f"api/v1/{entry['file']}"])
    assert doc["name"] == XSS_NAME  # the name is data inside the file, never its path
    assert json.loads(files[f"api/v1/{entry['badge']}"])["label"] == "systems"


def test_an_unreviewed_name_reaches_no_api_file(built: tuple[list[dict[str, Any]], Path]) -> None:
    _, site = built
    api = sorted((site / "api").rglob("*.json"))
    assert len(api) > 10
    for path in api:
        text = path.read_text(encoding="utf-8")
        assert json.dumps(XSS_NAME)[1:-1] not in text and "tiny_private" not in text, path


# -- the empty history -----------------------------------------------------------------------


def test_without_summaries_the_api_says_so(tmp_path: Path) -> None:
    (tmp_path / "summaries").mkdir()
    build_site(tmp_path / "summaries", "dev", tmp_path / "site")
    index = read_json(tmp_path / "site" / API / "index.json")
    assert index == {
        "deployment": "dev",
        "newest_day": None,
        "oldest_day": None,
        "days": 0,
        "systems": None,
        "persistent_systems": None,
        "components": [],
    }
    assert_valid("index", index)
    pg = read_json(tmp_path / "site" / API / "postgresql.json")
    assert_valid("postgresql", pg)
    assert (pg["newest_day"], pg["versions"], pg["minimums"]) == (None, [], [])
    assert not (tmp_path / "site" / API / "components").exists()


# -- the API page ---------------------------------------------------------------------------

PAGE = ROOT / "site_src" / "pages" / "api.md"


def examples() -> dict[str, Any]:
    """The first JSON example below each file's heading of the API page, by schema kind."""
    text = PAGE.read_text(encoding="utf-8")
    found = {}
    for heading, body in re.findall(r"^## `([^`]+)`\n(.*?)(?=^## |\Z)", text, re.S | re.M):
        block = re.search(r"```json\n(.*?)```", body, re.S)
        assert block, heading
        found[kind_of(Path(heading))] = json.loads(block.group(1))
    return found


def test_the_api_page_examples_follow_the_schemas() -> None:
    found = examples()
    assert set(found) == set(SCHEMAS)
    for kind, example in found.items():
        assert_valid(kind, copy.deepcopy(example))


def test_the_api_page_is_in_the_nav_with_the_site_badge_url(
    built: tuple[list[dict[str, Any]], Path],
) -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert {"API": "api.md"} in config["nav"]
    badge = f"https://img.shields.io/endpoint?url={config['site_url']}api/v1/badges/rpm.json"
    assert badge in PAGE.read_text(encoding="utf-8")
    _, site = built
    page = (site / "api/index.html").read_text(encoding="utf-8")
    assert 'href="v1/index.json"' in page and 'href="v1/schema/component.schema.json"' in page
    assert "https://img.shields.io/endpoint?url=" in page
