"""The receiver's settings: defaults, environment variables, and refusing bad values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from receiver import create_app
from receiver.config import ConfigError, load_settings

INSTANCE = Path("/srv/instance")


def test_defaults() -> None:
    settings = load_settings(None, INSTANCE, environ={})
    assert settings.database == INSTANCE / "analytics.sqlite3"
    assert settings.deployment == "dev"
    assert settings.collect_dev_systems is True
    assert settings.retention_days == 14
    assert settings.export_token is None
    assert settings.site_url is None
    assert settings.synchronous == "NORMAL"
    assert (settings.read_timeout, settings.max_keep_days) == (10, 60)
    assert settings.clock().tzinfo is not None


def test_prod_does_not_collect_dev_systems_by_default() -> None:
    assert load_settings({"DEPLOYMENT": "prod"}, INSTANCE, {}).collect_dev_systems is False


def test_every_key_comes_from_the_environment() -> None:
    environ = {
        "ANALYTICS_DATABASE": "/data/a.sqlite3",
        "ANALYTICS_DEPLOYMENT": "prod",
        "ANALYTICS_COLLECT_DEV_SYSTEMS": "yes",
        "ANALYTICS_RETENTION_DAYS": "30",
        "ANALYTICS_EXPORT_TOKEN": "s3cret",
        "ANALYTICS_CLOCK": "2026-11-27T08:00:00Z",
        "ANALYTICS_SITE_URL": "https://example.org/",
        "ANALYTICS_SYNCHRONOUS": "full",
        "ANALYTICS_READ_TIMEOUT": "3",
        "ANALYTICS_MAX_KEEP_DAYS": "30",
    }
    settings = load_settings(None, INSTANCE, environ)
    assert settings.database == Path("/data/a.sqlite3")
    assert (settings.deployment, settings.collect_dev_systems) == ("prod", True)
    assert (settings.retention_days, settings.export_token) == (30, "s3cret")
    assert settings.clock() == datetime(2026, 11, 27, 8, tzinfo=UTC)
    assert settings.site_url == "https://example.org/"
    assert settings.synchronous == "FULL"
    assert (settings.read_timeout, settings.max_keep_days) == (3, 30)


def test_the_mapping_wins_over_the_environment() -> None:
    settings = load_settings({"DEPLOYMENT": "dev"}, INSTANCE, {"ANALYTICS_DEPLOYMENT": "prod"})
    assert settings.deployment == "dev"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("DEPLOYMENT", "staging", "ANALYTICS_DEPLOYMENT must be one of prod, dev, not 'staging'"),
        ("RETENTION_DAYS", "0", "ANALYTICS_RETENTION_DAYS must be at least 1"),
        ("RETENTION_DAYS", "two weeks", "ANALYTICS_RETENTION_DAYS must be a whole number"),
        ("COLLECT_DEV_SYSTEMS", "maybe", "ANALYTICS_COLLECT_DEV_SYSTEMS must be true or false"),
        ("CLOCK", "tomorrow", "ANALYTICS_CLOCK must be an ISO date or time"),
        ("SITE_DIR", "/no/such/dir", "ANALYTICS_SITE_DIR is not a directory"),
        ("SYNCHRONOUS", "off", "ANALYTICS_SYNCHRONOUS must be one of normal, full"),
        ("READ_TIMEOUT", "0", "ANALYTICS_READ_TIMEOUT must be at least 1"),
        ("MAX_KEEP_DAYS", "two months", "ANALYTICS_MAX_KEEP_DAYS must be a whole number"),
    ],
)
def test_bad_settings_stop_start_up_with_a_clear_message(
    key: str, value: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=message):
        create_app({"DATABASE": tmp_path / "a.sqlite3", key: value})


def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "a.sqlite3"
    create_app({"DATABASE": db})
    create_app({"DATABASE": db})
    rows = sqlite3.connect(db).execute("SELECT name FROM schema_migrations").fetchall()
    assert rows == [("0001_initial",), ("0002_fetched_days",), ("0003_keyed_system_ids",)]
    mode = sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_request_date_clock_takes_the_day_from_the_date_header(tmp_path: Path) -> None:
    import uuid

    from tests import wire

    app = create_app(
        {"DATABASE": tmp_path / "a.sqlite3", "CLOCK": "request-date", "EXPORT_TOKEN": "t"}
    )
    client = app.test_client()
    system = str(uuid.uuid4())
    for day in ("Sun, 01 Nov 2026 10:00:00 GMT", "Mon, 02 Nov 2026 10:00:00 GMT"):
        response = client.post("/", data=wire.analytics(system), headers={"Date": day})
        assert response.json == {"status": "accepted"}
    index = client.get("/export/", headers={"Authorization": "Bearer t"}).json
    assert [d["date"] for d in index["days"]] == ["2026-11-01", "2026-11-02"]


def test_request_date_clock_is_refused_on_prod(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="never prod"):
        create_app(
            {"DATABASE": tmp_path / "a.sqlite3", "CLOCK": "request-date", "DEPLOYMENT": "prod"}
        )
