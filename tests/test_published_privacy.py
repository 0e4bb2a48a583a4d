"""SPEC §8 end to end: a private plugin name and versions run by fewer than 5 systems, posted to
a real prod receiver, reach neither the committed summaries (any object in git's history) nor
any file of the built site, while every total still adds up. The same for the metrics added
later: the core versions among a component's systems (a private plugin's, a lone system
without core) and worker numbers that fewer than 5 systems have."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import git
import pytest
from click.testing import CliRunner
from flask import Flask

from builder.cli import main
from tests import wire
from tests.conftest import TOKEN, Clock, serving

DAYS = (date(2026, 11, 2), date(2026, 11, 3))  # every system reports on both: persistent on 3
PRIVATE_NAMES = ("acme_inhouse_sync", "zz_secret_plugin")
# Versions that fewer than 5 systems run: the X.Y.Z and X.Y forms of core 3.73.91 and rpm
# 3.18.67, and PostgreSQL 90624 (9.6.24); the worker buckets of 40 and 700 processes and 20
# hosts; rpm's one system without core. None of them is a string the site has otherwise.
SMALL = (
    "3.73.91", '"3.73"', "3.18.67", '"3.18"', "90624", "9.6.24",
    '"33-64"', '"513-1024"', '"17-32"', '"(no core)"',
)  # fmt: skip
# (systems, components, PostgreSQL server_version_num, worker processes, worker hosts)
FLEET: list[tuple[int, list[tuple[str, str]], int, int, int]] = [
    (12, [("core", "3.21.0"), ("file", "1.10.0")], 140005, 2, 1),
    (6, [("core", "3.22.1"), ("rpm", "3.19.4")], 140005, 4, 2),
    (7, [("core", "3.21.0"), ("acme_inhouse_sync", "7.7.7")], 130004, 2, 1),  # private, 7
    (2, [("core", "3.73.91"), ("zz_secret_plugin", "0.0.1")], 90624, 40, 20),  # private, 2
    (1, [("core", "3.21.0"), ("rpm", "3.18.67")], 140005, 700, 1),  # the largest: alone
    (1, [("rpm", "3.19.4")], 140005, 2, 1),  # no core
]
SYSTEMS = sum(n for n, *_ in FLEET)  # 29


def bodies() -> list[bytes]:
    out = []
    number = 0
    for count, components, postgresql, processes, hosts in FLEET:
        for _ in range(count):
            number += 1
            out.append(
                wire.analytics(
                    uuid.UUID(int=number).hex,
                    components,
                    workers={"processes": processes, "hosts": hosts},
                    postgresql_version=postgresql,
                    rbac={"users": 3, "groups": 1, "domains": 0, "custom_access_policies": 0,
                          "custom_roles": 0},
                )
            )  # fmt: skip
    return out


@pytest.fixture
def published(
    make_app: Callable[..., Flask], clock: Clock, tmp_path: Path
) -> tuple[Path, Path, git.Repo]:
    """The fleet posted to a prod receiver, summarized from its export into a git repository
    with --commit, and the site built: (summaries, site, repository)."""
    app = make_app(DEPLOYMENT="prod")
    client = app.test_client()
    for day in DAYS:
        clock.set_day(day)
        for body in bodies():
            assert client.post("/", data=body).json == {"status": "accepted"}
    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    (tmp_path / "repo/README").write_text("summaries\n")
    repo.index.add(["README"])
    repo.index.commit("start")
    summaries = tmp_path / "repo/summaries"
    args = ["--summaries", str(summaries), "--today", "2026-11-04", "--commit"]
    clock.set_day(date(2026, 11, 4))  # the nightly run: the receiver's day has moved on
    with serving(app) as url:
        result = CliRunner().invoke(
            main, ["summarize", "--source", url, *args], env={"ANALYTICS_EXPORT_TOKEN": TOKEN}
        )
    assert result.exit_code == 0, result.output
    assert "committed 2 summaries" in result.output
    site = tmp_path / "site"
    result = CliRunner().invoke(main, ["build", "--summaries", str(summaries), "--out", str(site)])
    assert result.exit_code == 0, result.output
    return summaries, site, repo


def every_object_in_history(repo: git.Repo) -> bytes:
    """The content of every object git holds: blobs, trees and commit messages."""
    listed = subprocess.run(
        ["git", "-C", repo.working_dir, "rev-list", "--objects", "--all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    shas = [s for s in listed if len(s) == 40]
    return b"\n".join(repo.odb.stream(bytes.fromhex(sha)).read() for sha in shas)


def test_private_names_and_small_versions_are_published_nowhere(
    published: tuple[Path, Path, git.Repo],
) -> None:
    _, site, repo = published
    history = every_object_in_history(repo)
    assert b'"xy_component"' in history  # the summaries are in it
    assert b'"core_xy_by_component"' in history and b'"online_workers_buckets"' in history
    site_files = [p for p in site.rglob("*") if p.is_file()]
    assert {p.suffix for p in site_files} >= {".html", ".json", ".csv"}
    for secret in (*PRIVATE_NAMES, *SMALL):
        assert secret.encode() not in history, secret
        for path in site_files:
            assert secret.encode() not in path.read_bytes(), (secret, path)
    assert not repo.is_dirty(untracked_files=True)  # nothing left outside the commit


def test_the_totals_still_add_up(published: tuple[Path, Path, git.Repo]) -> None:
    summaries, site, _ = published
    first, second = (json.loads((summaries / f"prod/2026/{day}.json").read_text()) for day in DAYS)
    for day in (first, second):
        assert day["systems"] == sum(day["age_count"].values()) == SYSTEMS
    assert first["persistent_systems"] == 0 and second["persistent_systems"] == SYSTEMS
    assert first["xy_component"] == {}  # nobody is persistent on their first day
    for key in ("xy_component", "xyz_component"):
        components = second[key]
        assert sum(total(v) for v in components.values()) == sum(
            n * len(c) for n, c, *_ in FLEET
        )  # every (system, component) pair, named or not
        assert total(components["core"]) == SYSTEMS - 1
        assert total(components["file"]) == 12
        assert total(components["rpm"]) == 8
        assert components["(other)"] == {"(other)": 9}  # the private plugins: 7 + 2
    assert second["xy_component"]["core"] == {"3.21": 20, "3.22": 6, "(other)": 2}
    assert second["xyz_component"]["rpm"] == {"3.19.4": 7, "(other)": 1}
    assert second["postgresql_version"] == {"130004": 7, "140005": 20, "(other)": 2}
    assert second["online_workers"] == {"processes__avg": 29.1034, "hosts__avg": 2.5172}
    # rpm's systems by their core: 6 on 3.22, 1 on 3.21 and 1 without core are published
    # together; the private plugins' systems (on core 3.21 and 3.73) as "(other)" only.
    assert second["core_xy_by_component"] == {
        "file": {"3.21": 12},
        "rpm": {"3.22": 6, "(other)": 2},
        "(other)": {"(other)": 9},
    }
    # 20 systems on 2 processes, 6 on 4, 2 on 40 and 1 on 700: the median's bucket takes in
    # the two that are too few, and the top is open-ended, so 700 shows nowhere.
    assert second["online_workers_buckets"] == {
        "processes": {"2": 20, "4+": 9},
        "hosts": {"1": 21, "2+": 8},
    }
    shown = json.loads((site / "data/systems.json").read_text())["datasets"]
    assert [d["data"] for d in shown] == [[SYSTEMS, SYSTEMS], [0, SYSTEMS]]
    pie = json.loads((site / "data/postgresql_versions.json").read_text())
    assert pie == {"labels": ["13.4", "14.5", "other"], "datasets": [{"data": [7, 20, 2]}]}
    assert not (site / "components/(other)").exists()
    assert sorted(p.name for p in (site / "components").iterdir()) == [
        "core",
        "file",
        "index.html",
        "rpm",
    ]
    result = CliRunner().invoke(main, ["check-summaries", str(summaries)])
    assert result.exit_code == 0, result.output


def total(counts: Any) -> int:
    return sum(counts.values())
