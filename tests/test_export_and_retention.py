"""The export the nightly job reads, and retention (``pulp-analytics prune``)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from builder.cli import main
from tests import wire
from tests.conftest import AUTH, TOKEN, Clock


def post_days(client: FlaskClient, clock: Clock, days: dict[date, list[str]]) -> None:
    for day, systems in sorted(days.items()):
        clock.set_day(day)
        for system in systems:
            assert client.post("/", data=wire.analytics(system)).json == {"status": "accepted"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
def test_export_needs_the_bearer_token(client: FlaskClient, headers: dict[str, str]) -> None:
    for path in ("/export/", "/export/2026-11-02.jsonl"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_export_is_absent_without_a_token(make_app: object) -> None:
    app = make_app(EXPORT_TOKEN=None)  # type: ignore[operator]
    client = app.test_client()
    assert client.get("/export/", headers=AUTH).status_code == 404
    assert client.get("/export/2026-11-02.jsonl", headers=AUTH).status_code == 404


def test_export_index_lists_kept_days(client: FlaskClient, clock: Clock) -> None:
    post_days(
        client, clock, {date(2026, 11, 2): ["a" * 32, "b" * 32], date(2026, 11, 4): ["a" * 32]}
    )
    assert client.get("/export/", headers=AUTH).json == {
        "deployment": "dev",
        "retention_days": 14,
        "oldest_kept_day": "2026-11-02",
        "days": [
            {"date": "2026-11-02", "systems": 2, "duplicate": 0, "ignored": 0},
            {"date": "2026-11-04", "systems": 1, "duplicate": 0, "ignored": 0},
        ],
    }


def test_export_lines_never_carry_a_system_id(client: FlaskClient, clock: Clock) -> None:
    systems = [str(uuid.uuid4()) for _ in range(20)]
    post_days(client, clock, {date(2026, 11, 2): systems})
    text = client.get("/export/2026-11-02.jsonl", headers=AUTH).get_data(as_text=True)
    assert len(text.splitlines()) == 20
    for system in systems:
        assert system not in text
        assert system.replace("-", "") not in text
    for line in text.splitlines():
        assert set(json.loads(line)) == {
            "date",
            "age_days",
            "postgresql_version",
            "online_workers",
            "online_content_apps",
            "components",
            "rbac_stats",
        }


def test_export_of_a_day_without_submissions_is_empty(client: FlaskClient, clock: Clock) -> None:
    response = client.get("/export/2026-11-02.jsonl", headers=AUTH)
    assert (response.status_code, response.data) == (200, b"")


def test_export_rejects_a_malformed_day(client: FlaskClient) -> None:
    response = client.get("/export/2026-13-01.jsonl", headers=AUTH)
    assert response.status_code == 400
    assert "not a date" in response.json["error"]


def test_export_refuses_days_it_no_longer_keeps(client: FlaskClient, clock: Clock) -> None:
    response = client.get("/export/2026-11-01.jsonl", headers=AUTH)
    assert response.status_code == 410
    assert "oldest kept day: 2026-11-02" in response.json["error"]


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_prune_deletes_old_days_and_keeps_first_seen(
    client: FlaskClient, clock: Clock, db_path: Path
) -> None:
    post_days(
        client,
        clock,
        {
            date(2026, 11, 2): ["a" * 32, "b" * 32],
            date(2026, 11, 10): ["a" * 32],
            date(2026, 11, 20): ["a" * 32, "c" * 32],
        },
    )
    code, output = run_cli(
        "prune", "--db", str(db_path), "--keep-days", "14", "--today", "2026-11-20"
    )
    assert code == 0, output
    assert "deleted 2 submissions; oldest kept day is 2026-11-06" in output
    index = client.get("/export/", headers=AUTH).json
    assert index["oldest_kept_day"] == "2026-11-06"
    assert [d["date"] for d in index["days"]] == ["2026-11-10", "2026-11-20"]
    ages = [
        json.loads(line)["age_days"]
        for line in client.get("/export/2026-11-20.jsonl", headers=AUTH)
        .get_data(as_text=True)
        .split()
    ]
    assert sorted(ages) == [0, 18]  # system a first reported on 11-02, before the pruned days
    assert client.get("/export/2026-11-02.jsonl", headers=AUTH).status_code == 410


def test_prune_reads_the_retention_setting(
    client: FlaskClient, clock: Clock, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_days(client, clock, {date(2026, 11, 2): ["a" * 32], date(2026, 11, 5): ["b" * 32]})
    monkeypatch.setenv("ANALYTICS_RETENTION_DAYS", "2")
    code, output = run_cli("prune", "--db", str(db_path), "--today", "2026-11-06")
    assert code == 0
    assert "deleted 1 submissions; oldest kept day is 2026-11-04" in output


def test_prune_twice_never_moves_the_kept_window_back(app: Flask, db_path: Path) -> None:
    run_cli("prune", "--db", str(db_path), "--keep-days", "3", "--today", "2026-11-20")
    run_cli("prune", "--db", str(db_path), "--keep-days", "3", "--today", "2026-11-10")
    conn = sqlite3.connect(db_path)
    from receiver.store import oldest_kept_day

    assert oldest_kept_day(conn) == date(2026, 11, 17)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--db", "/nonexistent/analytics.sqlite3"],
            "no database at /nonexistent/analytics.sqlite3",
        ),
        (["--keep-days", "0"], "0 is not in the range x>=1"),
        (["--today", "yesterday"], "'yesterday' is not a date"),
    ],
)
def test_prune_errors_are_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    code, output = run_cli("prune", *args)
    assert code != 0
    assert message in output
    assert "Traceback" not in output


def test_a_backfill_before_the_database_existed_moves_collecting_since(
    client: FlaskClient, clock: Clock
) -> None:
    post_days(client, clock, {date(2026, 10, 20): ["a" * 32]})
    assert client.get("/export/", headers=AUTH).json["oldest_kept_day"] == "2026-10-20"
