"""``pulp-analytics summarize``: golden files, every rule of SPEC §4-5, git commits, sources.

Two goldens: tests/golden/counted/ holds each day of the fleet below as counted, and
tests/golden/summaries/ what a prod run publishes from it (SPEC §8: with two persistent
systems at most, every cell is below 5 and is published under "(other)").
``UPDATE_GOLDEN=1 pytest tests/test_summarize.py`` rewrites both (review the diff).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import git
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from builder.cli import main, open_source
from builder.summaries.sources import HttpSource, LocalSource, SourceError
from builder.summaries.summarize import SummarizeError, count_day, summarize
from builder.summaries.summary import SummaryError, summary_path
from receiver.store import Database, redact
from tests import wire
from tests.conftest import TOKEN, Clock, serving

GOLDEN = Path(__file__).parent / "golden" / "summaries"
COUNTED = Path(__file__).parent / "golden" / "counted"
A, B, C, D, E = (f"{n}" * 32 for n in "abcde")


def fleet_history(client: FlaskClient, clock: Clock) -> None:
    """Four days on a prod receiver: upgrades, a dev build, an old client, a duplicate, a gap."""
    full = {"users": 5, "groups": 1, "domains": 0, "custom_access_policies": 0, "custom_roles": 2}
    a_before_upgrade = wire.analytics(
        A, [("core", "3.21.0"), ("rpm", "3.19.4")], workers={"processes": 4, "hosts": 2},
        content_apps={"processes": 2, "hosts": 1}, postgresql_version=130004, rbac=full,
    )  # fmt: skip
    a_after_upgrade = wire.analytics(
        A, [("core", "3.22.0"), ("rpm", "3.20.0"), ("container", "2.10.3")],
        workers={"processes": 3, "hosts": 1}, postgresql_version=140005,
        rbac={**full, "users": 12},
    )  # fmt: skip
    b_files = [("core", "3.21.1"), ("file", "1.10.0")]
    days = {
        date(2026, 11, 2): [
            a_before_upgrade,
            wire.telemetry(B, b_files, workers={"processes": 1, "hosts": 1}),
            wire.analytics(C, [("core", "3.22.0.dev")]),  # ignored on prod
        ],
        date(2026, 11, 3): [
            a_before_upgrade,
            wire.analytics(A, [("core", "3.99.0")]),  # a duplicate: the first report wins
            wire.telemetry(B, b_files, workers={"processes": 2, "hosts": None}),
            wire.analytics(
                D, [("core", "3.9.0")], postgresql_version=90624, rbac={**full, "users": 1}
            ),
        ],
        # 2026-11-04: nobody reports
        date(2026, 11, 5): [
            a_after_upgrade,
            wire.analytics(E, [("core", "3.22.0")], postgresql_version=140005),
        ],
        date(2026, 11, 6): [wire.analytics(E, [("core", "3.22.1")])],  # today: not summarized
    }
    for day, bodies in days.items():
        clock.set_day(day)
        for body in bodies:
            assert client.post("/", data=body).status_code == 200


@pytest.fixture
def prod(make_app: Callable[..., Flask], clock: Clock) -> Flask:
    app = make_app(DEPLOYMENT="prod")
    fleet_history(app.test_client(), clock)
    return app


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def summarize_prod(db: Database, out: Path, *args: str) -> tuple[int, str]:
    return cli("summarize", "--db", str(db), "--summaries", str(out), "--deployment", "prod", *args)


def files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.json"))}


def update_golden(golden: Path, made: Path) -> None:
    """With UPDATE_GOLDEN set, replace ``golden``'s files by ``made``'s."""
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(made, golden, ignore=shutil.ignore_patterns(".*"))  # not the lock


@pytest.mark.stores("sqlite", "postgresql")
def test_counted_days_are_golden(prod: Flask, database: Database, tmp_path: Path) -> None:
    source = open_source(database, None)  # the file in place, or PostgreSQL's rows copied
    available = source.availability()
    for n in (2, 3, 4, 5):
        day = date(2026, 11, n)
        with source.day(day) as rows:
            counted = count_day(rows, day, "prod", 1, available.rejected_on(day)).summary
        path = summary_path(tmp_path / "counted", "prod", day)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(counted.to_json())
    source.close()
    update_golden(COUNTED, tmp_path / "counted")
    assert files(tmp_path / "counted") == files(COUNTED)


@pytest.mark.stores("sqlite", "postgresql")
def test_golden_summaries(prod: Flask, database: Database, tmp_path: Path) -> None:
    out = tmp_path / "summaries"
    code, output = summarize_prod(database, out, "--today", "2026-11-06")
    assert code == 0, output
    update_golden(GOLDEN, out)
    assert files(out) == files(GOLDEN)
    assert output.splitlines() == [
        f"wrote {out}/prod/2026/2026-11-02.json: 2 systems, 0 persistent",
        f"wrote {out}/prod/2026/2026-11-03.json: 3 systems, 2 persistent",
        f"wrote {out}/prod/2026/2026-11-04.json: 0 systems, 0 persistent",
        f"wrote {out}/prod/2026/2026-11-05.json: 2 systems, 1 persistent",
        f"fetched 2026-11-02..2026-11-05 (4 days) from {redact(database)}",
    ]


def test_a_rerun_writes_nothing_and_changes_nothing(
    prod: Flask, db_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "s"
    summarize_prod(db_path, out, "--today", "2026-11-06")
    before = files(out)
    code, output = summarize_prod(db_path, out, "--today", "2026-11-06")
    assert (code, files(out)) == (0, before)
    assert "nothing to summarize" in output


def test_persistent_threshold_zero_counts_every_system(
    prod: Flask, db_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "s"
    summarize_prod(db_path, out, "--today", "2026-11-03", "--persistent-min-age-days", "0")
    day = json.loads((out / "prod/2026/2026-11-02.json").read_text())
    assert (day["systems"], day["persistent_systems"]) == (2, 2)
    assert day["xyz_component"] == {"(other)": {"(other)": 4}}  # core, rpm, core, file


def test_dev_deployment_defaults_to_threshold_zero(
    make_app: Callable[..., Flask], clock: Clock, db_path: Path, tmp_path: Path
) -> None:
    fleet_history(make_app(DEPLOYMENT="dev").test_client(), clock)
    out = tmp_path / "s"
    cli(
        "summarize",
        "--db",
        str(db_path),
        "--summaries",
        str(out),
        "--deployment",
        "dev",
        "--today",
        "2026-11-03",
    )
    day = json.loads((out / "dev/2026/2026-11-02.json").read_text())
    assert (day["systems"], day["persistent_systems"]) == (3, 3)  # the dev build counts on dev
    assert day["xy_component"]["core"] == {"3.21": 2, "3.22": 1}


def test_a_min_count_below_the_deployments_is_refused(
    prod: Flask, db_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "s"
    code, output = summarize_prod(db_path, out, "--today", "2026-11-06", "--min-count", "4")
    assert (code, output) == (
        1,
        "Error: --min-count 4 is below the prod minimum of 5: check-summaries and build refuse"
        " a published count below it (SPEC §8); nothing was written\n",
    )
    assert files(out) == {}


def test_a_higher_min_count_folds_more(
    make_app: Callable[..., Flask], clock: Clock, db_path: Path, tmp_path: Path
) -> None:
    fleet_history(make_app(DEPLOYMENT="dev").test_client(), clock)
    out = tmp_path / "s"
    args = ("--db", str(db_path), "--summaries", str(out), "--deployment", "dev")
    code, output = cli("summarize", *args, "--today", "2026-11-03", "--min-count", "2")
    assert code == 0, output
    day = json.loads((out / "dev/2026/2026-11-02.json").read_text())
    assert day["systems"] == day["persistent_systems"] == 3  # totals stay exact
    assert day["xy_component"] == {
        "core": {"3.21": 2, "(other)": 1},  # 3.22: one system (a dev build)
        "(other)": {"(other)": 2},  # rpm and file: one system each
    }


def test_an_existing_summary_is_never_touched(prod: Flask, db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    existing = out / "prod/2026/2026-11-03.json"
    existing.parent.mkdir(parents=True)
    existing.write_text("hand-made\n")
    code, output = summarize_prod(db_path, out, "--today", "2026-11-06")
    assert code == 0, output
    assert existing.read_text() == "hand-made\n"
    assert sorted(files(out)) == [
        "prod/2026/2026-11-03.json",
        "prod/2026/2026-11-04.json",
        "prod/2026/2026-11-05.json",
    ]  # resumes after the newest


def test_since_fills_a_hole_and_skips_existing_files(
    prod: Flask, db_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "s"
    summarize_prod(db_path, out, "--today", "2026-11-06")
    (out / "prod/2026/2026-11-03.json").unlink()
    code, output = summarize_prod(db_path, out, "--since", "2026-11-03", "--today", "2026-11-04")
    assert code == 0, output
    assert files(out) == files(GOLDEN)


def test_a_pruned_day_is_refused_and_nothing_is_written(
    prod: Flask, db_path: Path, tmp_path: Path
) -> None:
    cli("prune", "--db", str(db_path), "--keep-days", "1", "--max-keep-days", "1",
        "--today", "2026-11-05")  # fmt: skip
    out = tmp_path / "s"
    (out / "prod/2026").mkdir(parents=True)
    shutil.copy(GOLDEN / "prod/2026/2026-11-02.json", out / "prod/2026/2026-11-02.json")
    code, output = summarize_prod(db_path, out, "--today", "2026-11-06")
    assert code == 1
    assert output.startswith("Error: raw data for 2026-11-03 is no longer kept")
    assert "(oldest kept day: 2026-11-04)" in output
    assert "--since 2026-11-04" in output
    assert sorted(files(out)) == ["prod/2026/2026-11-02.json"]


def test_summarize_commits_once_and_only_when_there_is_something_new(
    prod: Flask, db_path: Path, tmp_path: Path
) -> None:
    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    (tmp_path / "repo/README").write_text("x\n")
    repo.index.add(["README"])
    repo.index.commit("start")
    (tmp_path / "repo/unrelated.txt").write_text("staged, not ours\n")
    repo.index.add(["unrelated.txt"])
    out = tmp_path / "repo/summaries"
    code, output = summarize_prod(db_path, out, "--commit", "--today", "2026-11-05")
    assert code == 0, output
    assert len(list(repo.iter_commits())) == 2
    head = repo.head.commit
    assert head.message == (
        "summaries(prod): 2026-11-02..2026-11-04 (3 days)\n\n"
        "2026-11-02: 2 systems, 0 persistent\n"
        "2026-11-03: 3 systems, 2 persistent\n"
        "2026-11-04: 0 systems, 0 persistent\n"
    )
    assert sorted(head.stats.files) == [f"summaries/prod/2026/2026-11-0{d}.json" for d in (2, 3, 4)]
    assert not repo.is_dirty(untracked_files=True, index=False, working_tree=True)
    assert [d.a_path for d in repo.index.diff("HEAD")] == ["unrelated.txt"]  # still staged

    code, output = summarize_prod(db_path, out, "--commit", "--today", "2026-11-05")
    assert "nothing to summarize" in output
    assert len(list(repo.iter_commits())) == 2
    code, output = summarize_prod(db_path, out, "--commit", "--today", "2026-11-06")
    assert repo.head.commit.message.startswith("summaries(prod): 2026-11-05\n")
    assert len(list(repo.iter_commits())) == 3


def test_commit_outside_a_repository_is_a_clear_error(
    prod: Flask, db_path: Path, tmp_path: Path
) -> None:
    code, output = summarize_prod(db_path, tmp_path / "s", "--today", "2026-11-03", "--commit")
    assert code == 1
    assert "is not inside a git repository" in output


@pytest.fixture
def live(prod: Flask) -> Iterator[str]:
    """The prod receiver, served over HTTP on loopback."""
    with serving(prod) as url:
        yield url.rstrip("/")


def test_both_sources_give_identical_files(live: str, db_path: Path, tmp_path: Path) -> None:
    local, remote = tmp_path / "local", tmp_path / "remote"
    summarize_prod(db_path, local, "--today", "2026-11-06")
    code, output = cli(
        "summarize",
        "--source",
        live,
        "--summaries",
        str(remote),
        "--today",
        "2026-11-06",
        env={"ANALYTICS_EXPORT_TOKEN": TOKEN},
    )
    assert code == 0, output
    assert files(remote) == files(local) == files(GOLDEN)


def test_source_deployment_must_match(live: str, tmp_path: Path) -> None:
    code, output = cli(
        "summarize",
        "--source",
        live,
        "--summaries",
        str(tmp_path),
        "--deployment",
        "dev",
        env={"ANALYTICS_EXPORT_TOKEN": TOKEN},
    )
    assert code == 1
    assert "--deployment dev but the source is the prod receiver" in output


@pytest.mark.parametrize(
    ("token", "path", "message"),
    [
        ("wrong", "", "the export token was refused"),
        (TOKEN, "/nothing-here", "no export here"),
    ],
)
def test_http_source_explains_refusals(live: str, token: str, path: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        HttpSource(live + path, token, retries=0).availability()


def test_http_source_needs_a_token(live: str, tmp_path: Path) -> None:
    code, output = cli("summarize", "--source", live, "--summaries", str(tmp_path), env={})
    assert code == 1
    assert "set ANALYTICS_EXPORT_TOKEN" in output


def test_http_source_retries_server_errors(prod: Flask, tmp_path: Path) -> None:
    failures = {"left": 3}

    def flaky(environ: dict[str, Any], start_response: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"busy"]
        return prod.wsgi_app(environ, start_response)

    with serving(flaky) as url:
        source = HttpSource(url, TOKEN, backoff=0.01)
        summarize(source, tmp_path, "prod", date(2026, 11, 6))
    assert failures["left"] == 0
    assert files(tmp_path) == files(GOLDEN)


def test_http_source_gives_up_after_its_retries(prod: Flask) -> None:
    def down(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("502 Bad Gateway", [])
        return [b""]

    with serving(down) as url:
        source = HttpSource(url, TOKEN, retries=2, backoff=0.01)
        with pytest.raises(SourceError, match="HTTP 502"):
            source.availability()


def test_no_raw_data_means_nothing_to_do(app: Flask, db_path: Path, tmp_path: Path) -> None:
    result = summarize(LocalSource(db_path), tmp_path, "prod", date(2026, 11, 28))
    assert (result.written, result.skipped) == ([], [])


def test_a_missing_database_is_one_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite3"
    code, output = cli("summarize", "--db", str(missing))
    assert (code, output) == (1, f"Error: no database at {missing}\n")
    assert not missing.exists()  # looking did not create it


def test_writing_over_an_existing_file_is_refused(tmp_path: Path) -> None:
    from builder.summaries.summarize import write_new

    first = (GOLDEN / "prod/2026/2026-11-03.json").read_text()
    second = first.replace('"systems": ', '"systems": 1', 1)
    target = tmp_path / "prod/2026/2026-11-03.json"
    write_new(target, first)
    with pytest.raises(SummarizeError, match="never overwritten"):
        write_new(target, second)
    assert target.read_text() == first
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp file left


def test_a_summary_the_readers_would_refuse_is_never_written(tmp_path: Path) -> None:
    from builder.summaries.summarize import write_new

    text = (GOLDEN / "prod/2026/2026-11-03.json").read_text()
    target = tmp_path / "prod/2026/2026-11-04.json"  # its name says another day
    with pytest.raises(SummaryError, match=r"2026-11-04.json: not written: holds date 2026-11-03"):
        write_new(target, text)
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_http_source_retries_an_export_cut_short(prod: Flask, tmp_path: Path) -> None:
    cut = {"left": 2}

    def cutting(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"].endswith(".jsonl") and cut["left"]:
            cut["left"] -= 1  # promise more than is sent, as a dropped connection does
            start_response("200 OK", [("Content-Length", "100000")])
            return [b'{"date": "2026-11-02", "age_days": 0,\n']
        return prod.wsgi_app(environ, start_response)

    with serving(cutting) as url:
        source = HttpSource(url, TOKEN, backoff=0.01)
        summarize(source, tmp_path, "prod", date(2026, 11, 6))
    assert cut["left"] == 0
    assert files(tmp_path) == files(GOLDEN)


def test_http_source_refuses_an_export_that_is_not_text(prod: Flask, tmp_path: Path) -> None:
    def garbage(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"].endswith(".jsonl"):
            start_response("200 OK", [("Content-Type", "application/x-ndjson")])
            return [b"\xff\xfe\n"]
        return prod.wsgi_app(environ, start_response)

    with serving(garbage) as url:
        source = HttpSource(url, TOKEN, backoff=0.01)
        with pytest.raises(SourceError, match="not UTF-8"):
            summarize(source, tmp_path, "prod", date(2026, 11, 6))
    assert files(tmp_path) == {}
