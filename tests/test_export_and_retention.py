"""The export the nightly job reads, and retention (``pulp-analytics prune``)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from builder.cli import main
from receiver.store import Database
from tests import wire
from tests.conftest import AUTH, TOKEN, Clock
from tests.faults import immutable
from tests.stores import Peek

pytestmark = pytest.mark.stores("sqlite", "postgresql")


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
        "today": "2026-11-04",
        "retention_days": 14,
        "oldest_kept_day": "2026-11-02",
        "days": [
            {"date": "2026-11-02", "systems": 2, "duplicate": 0, "ignored": 0, "fetched": False},
            {"date": "2026-11-04", "systems": 1, "duplicate": 0, "ignored": 0, "fetched": False},
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


def export_day(client: FlaskClient, day: str) -> str:
    """Fetch a day's export whole, as the nightly job does."""
    response = client.get(f"/export/{day}.jsonl", headers=AUTH)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def fetched(client: FlaskClient) -> dict[str, bool]:
    return {d["date"]: d["fetched"] for d in client.get("/export/", headers=AUTH).json["days"]}


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_prune_deletes_old_days_and_keeps_first_seen(
    client: FlaskClient, clock: Clock, database: Database
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
    for day in ("2026-11-02", "2026-11-10"):  # what the nightly job did on those nights
        export_day(client, day)
    code, output = run_cli(
        "prune", "--db", str(database), "--keep-days", "14", "--today", "2026-11-20"
    )
    assert code == 0, output
    assert output.splitlines() == [
        "deleted 2 submissions; oldest kept day is 2026-11-06",
        "forgot 0 systems not seen for 400 days",
    ]
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
    client: FlaskClient, clock: Clock, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_days(client, clock, {date(2026, 11, 2): ["a" * 32], date(2026, 11, 5): ["b" * 32]})
    clock.set_day(date(2026, 11, 6))
    export_day(client, "2026-11-02")
    monkeypatch.setenv("ANALYTICS_RETENTION_DAYS", "2")
    code, output = run_cli("prune", "--db", str(database), "--today", "2026-11-06")
    assert code == 0
    assert "deleted 1 submissions; oldest kept day is 2026-11-04" in output


def test_prune_twice_never_moves_the_kept_window_back(app: Flask, database: Database) -> None:
    run_cli("prune", "--db", str(database), "--keep-days", "3", "--today", "2026-11-20")
    run_cli("prune", "--db", str(database), "--keep-days", "3", "--today", "2026-11-10")
    from receiver.store import open_existing

    session = open_existing(database)
    assert session.oldest_kept_day() == date(2026, 11, 17)
    session.close()


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


def test_a_complete_day_is_fetched_once_its_export_was_read_to_the_end(
    client: FlaskClient, clock: Clock
) -> None:
    post_days(client, clock, {date(2026, 11, 2): ["a" * 32], date(2026, 11, 3): ["b" * 32]})
    export_day(client, "2026-11-03")  # today for the receiver: not complete, not fetched
    assert fetched(client) == {"2026-11-02": False, "2026-11-03": False}
    export_day(client, "2026-11-02")
    assert fetched(client) == {"2026-11-02": True, "2026-11-03": False}
    assert client.get("/export/", headers=AUTH).json["today"] == "2026-11-03"


def test_an_export_stopped_midway_does_not_count_as_fetched(
    client: FlaskClient, clock: Clock
) -> None:
    post_days(client, clock, {date(2026, 11, 2): [str(uuid.uuid4()) for _ in range(300)]})
    clock.set_day(date(2026, 11, 3))
    response = client.get("/export/2026-11-02.jsonl", headers=AUTH, buffered=False)
    first = next(response.response)  # one chunk of 256 lines of 300, then the reader goes away
    assert len(first.splitlines()) == 256
    response.close()
    assert fetched(client) == {"2026-11-02": False}


def ages_on(client: FlaskClient, day: str) -> list[int]:
    lines = client.get(f"/export/{day}.jsonl", headers=AUTH).get_data(as_text=True).split()
    return sorted(json.loads(line)["age_days"] for line in lines)


def test_a_system_unseen_past_its_lifetime_is_forgotten_and_counts_as_new_when_it_returns(
    client: FlaskClient, clock: Clock, database: Database
) -> None:
    gone, back = str(uuid.uuid4()), str(uuid.uuid4())
    post_days(client, clock, {date(2026, 1, 1): [gone, back], date(2026, 3, 15): [back]})
    clock.set_day(date(2026, 5, 1))
    for day in ("2026-01-01", "2026-03-15"):
        export_day(client, day)
    before = ("SELECT count(*) FROM systems", "SELECT count(*) FROM submissions")
    args = ["prune", "--db", str(database), "--lifetime-days", "100", "--today", "2026-05-01"]
    code, output = run_cli(*args)
    assert code == 0, output
    assert output.splitlines() == [
        "deleted 3 submissions; oldest kept day is 2026-04-17",
        "forgot 1 system not seen for 100 days",  # gone: 120 days; back: 47 days
    ]
    peek = Peek(database)
    assert [peek.execute(q).fetchone()[0] for q in before] == [1, 0]
    peek.close()
    post_days(client, clock, {date(2026, 5, 2): [gone, back]})
    assert ages_on(client, "2026-05-02") == [0, 121]  # gone is new again; back first seen 01-01
    assert run_cli(*args)[1].splitlines()[-1] == "forgot 0 systems not seen for 100 days"


def test_a_system_whose_reports_are_still_kept_is_not_forgotten(
    client: FlaskClient, clock: Clock, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_days(client, clock, {date(2026, 1, 1): ["a" * 32], date(2026, 1, 2): ["b" * 32]})
    clock.set_day(date(2026, 3, 1))
    export_day(client, "2026-01-02")  # 01-01 was never fetched: its reports stay
    monkeypatch.setenv("ANALYTICS_SYSTEM_LIFETIME_DAYS", "30")
    args = ["prune", "--db", str(database), "--max-keep-days", "400", "--today", "2026-03-01"]
    code, output = run_cli(*args)
    assert code == 0, output
    assert output.splitlines()[-2:] == [
        "forgot 0 systems not seen for 30 days",
        "kept 2 systems not seen for 30 days: raw submissions of theirs are still kept;"
        " forgotten once those are deleted",
    ]
    export_day(client, "2026-01-01")
    code, output = run_cli(*args)
    assert output.splitlines() == [
        "deleted 2 submissions; oldest kept day is 2026-02-15",
        "forgot 2 systems not seen for 30 days",
    ]


def test_prune_keeps_days_nobody_fetched_and_says_so(
    client: FlaskClient, clock: Clock, database: Database
) -> None:
    post_days(
        client,
        clock,
        {
            date(2026, 11, 1): ["a" * 32],
            date(2026, 11, 2): ["b" * 32],
            date(2026, 11, 3): ["c" * 32],
            date(2026, 11, 4): ["d" * 32],
        },
    )
    clock.set_day(date(2026, 11, 10))
    export_day(client, "2026-11-01")
    export_day(client, "2026-11-03")  # 11-02 was skipped: never fetched
    code, output = run_cli(
        "prune", "--db", str(database), "--keep-days", "2", "--today", "2026-11-10"
    )
    assert code == 0, output
    assert output.splitlines() == [
        "deleted 1 submissions; oldest kept day is 2026-11-02",
        "kept 2026-11-02, 2026-11-04 (2 days) and the days after: not fetched by the export or"
        " read by summarize --db yet; deleted once fetched, or at 60 days old",
        "forgot 0 systems not seen for 400 days",
    ]
    assert client.get("/export/2026-11-02.jsonl", headers=AUTH).status_code == 200
    export_day(client, "2026-11-02")
    export_day(client, "2026-11-04")
    code, output = run_cli(
        "prune", "--db", str(database), "--keep-days", "2", "--today", "2026-11-10"
    )
    assert output.splitlines() == [
        "deleted 3 submissions; oldest kept day is 2026-11-08",
        "forgot 0 systems not seen for 400 days",
    ]


def test_prune_deletes_unfetched_days_past_the_hard_limit_and_names_them(
    client: FlaskClient, clock: Clock, database: Database
) -> None:
    post_days(client, clock, {date(2026, 11, 1): ["a" * 32], date(2026, 11, 5): ["b" * 32]})
    clock.set_day(date(2026, 11, 12))
    args = ["prune", "--db", str(database), "--keep-days", "2", "--max-keep-days", "10"]
    code, output = run_cli(*args, "--today", "2026-11-12")
    assert code == 0, output
    assert output.splitlines() == [
        "deleted 1 submissions; oldest kept day is 2026-11-05",
        "kept 2026-11-05 and the days after: not fetched by the export or read by summarize"
        " --db yet; deleted once fetched, or at 10 days old",
        "deleted 2026-11-01 unfetched: older than 10 days (--max-keep-days)",
        "forgot 0 systems not seen for 400 days",
    ]


def test_the_hard_limit_can_be_a_receiver_setting(
    client: FlaskClient, clock: Clock, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_days(client, clock, {date(2026, 11, 1): ["a" * 32]})
    monkeypatch.setenv("ANALYTICS_MAX_KEEP_DAYS", "5")
    code, output = run_cli(
        "prune", "--db", str(database), "--keep-days", "1", "--today", "2026-11-07"
    )
    assert code == 0, output
    assert "deleted 1 submissions; oldest kept day is 2026-11-06" in output


def test_prune_refuses_a_today_after_the_real_date_and_changes_nothing(
    client: FlaskClient, clock: Clock, database: Database
) -> None:
    post_days(client, clock, {date(2026, 11, 2): ["a" * 32]})
    export_day(client, "2026-11-02")
    peek = Peek(database)
    before = peek.snapshot()
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    code, output = run_cli("prune", "--db", str(database), "--today", str(tomorrow))
    assert code != 0
    assert output.splitlines() == [
        f"Error: --today {tomorrow} is later than today ({tomorrow - timedelta(days=1)}, UTC);"
        " nothing was pruned"
    ]
    assert peek.snapshot() == before
    peek.close()
    assert client.get("/export/", headers=AUTH).json["oldest_kept_day"] == "2026-11-02"


def test_summarize_db_records_the_days_it_read(
    client: FlaskClient, clock: Clock, database: Database, tmp_path: Path
) -> None:
    post_days(client, clock, {date(2026, 11, 2): ["a" * 32], date(2026, 11, 3): ["b" * 32]})
    out = str(tmp_path / "summaries")
    code, output = run_cli("summarize", "--db", str(database), "--summaries", out,
                           "--today", "2026-11-03")  # fmt: skip
    assert code == 0, output
    assert fetched(client) == {"2026-11-02": True, "2026-11-03": False}


@pytest.mark.stores("sqlite")  # PostgreSQL: tests/test_postgresql.py, a role that only reads
def test_summarize_db_on_a_file_it_cannot_write_says_so_once_and_carries_on(
    client: FlaskClient, clock: Clock, db_path: Path, tmp_path: Path
) -> None:
    post_days(client, clock, {date(2026, 11, 2): ["a" * 32], date(2026, 11, 3): ["b" * 32]})
    out = tmp_path / "summaries"
    with immutable(db_path):
        code, output = run_cli("summarize", "--db", str(db_path), "--summaries", str(out),
                               "--today", "2026-11-04")  # fmt: skip
    assert code == 0, output
    notes = [line for line in output.splitlines() if line.startswith("cannot record")]
    assert notes == [
        f"cannot record in {db_path} which days were summarized (attempt to write a readonly"
        " database); prune keeps them until --max-keep-days"
    ]
    assert sorted(p.name for p in out.glob("*/*/*.json")) == ["2026-11-02.json", "2026-11-03.json"]
    assert fetched(client) == {"2026-11-02": False, "2026-11-03": False}
