"""The receiver's settings: defaults, environment variables, and refusing bad values."""

from __future__ import annotations

import stat
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from receiver import create_app
from receiver.config import ConfigError, load_settings
from receiver.identity import load_id_key
from tests.leaks import keyed_hash

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


CLI = str(Path(sys.executable).parent / "pulp-analytics")
GOOD_KEY = "ab" * 32


def key_file(tmp_path: Path, content: str, mode: int = 0o600) -> Path:
    path = tmp_path / "id_key"
    path.write_text(content)
    path.chmod(mode)
    return path


def serve_refusal(tmp_path: Path, **env: str) -> list[str]:
    """What ``serve`` says on stderr when it refuses to start; it must create nothing."""
    result = subprocess.run(
        [CLI, "serve", "--db", str(tmp_path / "a.sqlite3"), "--port", "9"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
        timeout=60,
    )
    assert result.returncode != 0
    assert not (tmp_path / "a.sqlite3").exists()
    return result.stderr.splitlines()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ANALYTICS_DEPLOYMENT": "prod"},
            "Error: ANALYTICS_ID_KEY (or ANALYTICS_ID_KEY_FILE) is required on prod: the secret"
            " for hashing system ids, 64 hex digits from python3 -c 'import secrets;"
            " print(secrets.token_hex(32))'",
        ),
        (
            {"ANALYTICS_ID_KEY": "ab" * 31},
            "Error: ANALYTICS_ID_KEY is 31 bytes; at least 32 random bytes (64 hex digits) are"
            " needed: python3 -c 'import secrets; print(secrets.token_hex(32))'",
        ),
        (
            {"ANALYTICS_ID_KEY": "my secret passphrase that is long enough, surely"},
            "Error: ANALYTICS_ID_KEY must be hex digits (make one with python3 -c 'import"
            " secrets; print(secrets.token_hex(32))')",
        ),
        (
            {"ANALYTICS_ID_KEY": GOOD_KEY, "ANALYTICS_ID_KEY_FILE": "/etc/key"},
            "Error: give ANALYTICS_ID_KEY or ANALYTICS_ID_KEY_FILE, not both",
        ),
        (
            {"ANALYTICS_ID_KEY_FILE": "/nonexistent/id_key"},
            "Error: ANALYTICS_ID_KEY_FILE: cannot read /nonexistent/id_key: No such file or"
            " directory",
        ),
    ],
)
def test_serve_refuses_a_missing_or_bad_key_in_one_line(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    assert serve_refusal(tmp_path, **env) == [message]


def test_serve_refuses_a_key_file_others_can_read(tmp_path: Path) -> None:
    path = key_file(tmp_path, GOOD_KEY + "\n", 0o644)
    assert serve_refusal(tmp_path, ANALYTICS_ID_KEY_FILE=str(path)) == [
        f"Error: ANALYTICS_ID_KEY_FILE: {path} can be read or written by others (mode 0644);"
        f" make it private: chmod 600 {path}"
    ]


def test_serve_refuses_a_file_that_is_not_a_database_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_text("not a database\n" * 100)
    result = subprocess.run(
        [CLI, "serve", "--db", str(path), "--port", "9"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ANALYTICS_ID_KEY": GOOD_KEY},
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: cannot open the database {path}: file is not a database"
    ]
    assert path.read_text() == "not a database\n" * 100


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "must be hex digits"),
        ("ab" * 16 + "\n", "is 16 bytes; at least 32"),
        ("\xe9" * 64, "must hold hex digits"),
        ("ab" * 5000, "must hold hex digits"),
    ],
)
def test_a_key_file_must_hold_enough_hex(content: str, message: str, tmp_path: Path) -> None:
    settings = load_settings({"ID_KEY_FILE": key_file(tmp_path, content)}, INSTANCE, {})
    with pytest.raises(ConfigError, match=message) as refused:
        load_id_key(settings, INSTANCE)
    assert "\n" not in str(refused.value)
    assert "abab" not in str(refused.value)  # a key, even a bad one, is never shown


def test_the_key_comes_from_the_setting_or_the_file(tmp_path: Path) -> None:
    from_setting = load_id_key(load_settings({"ID_KEY": GOOD_KEY}, INSTANCE, {}), INSTANCE)
    path = key_file(tmp_path, f"  {GOOD_KEY.upper()}\n")
    from_file = load_id_key(
        load_settings({}, INSTANCE, {"ANALYTICS_ID_KEY_FILE": str(path)}), INSTANCE
    )
    system = str(uuid.uuid4())
    expected = keyed_hash(GOOD_KEY, system)
    assert from_setting.hash(system) == from_file.hash(system) == expected
    assert GOOD_KEY not in repr(from_setting)


def test_dev_generates_a_private_key_once_in_the_instance_folder(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    settings = load_settings({}, instance, {})
    first = load_id_key(settings, instance)
    path = instance / "id_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(bytes.fromhex(path.read_text())) == 32
    again = load_id_key(settings, instance)
    system = str(uuid.uuid4())
    assert first.hash(system) == again.hash(system)
    assert sorted(p.name for p in instance.iterdir()) == ["id_key"]  # no draft left behind


def test_prod_never_generates_a_key(tmp_path: Path) -> None:
    settings = load_settings({"DEPLOYMENT": "prod"}, tmp_path, {})
    with pytest.raises(ConfigError, match="required on prod"):
        load_id_key(settings, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_system_lifetime_is_a_setting() -> None:
    assert load_settings(None, INSTANCE, {}).system_lifetime_days == 400
    environ = {"ANALYTICS_SYSTEM_LIFETIME_DAYS": "90"}
    assert load_settings(None, INSTANCE, environ).system_lifetime_days == 90
    with pytest.raises(ConfigError, match="ANALYTICS_SYSTEM_LIFETIME_DAYS must be at least 1"):
        load_settings({"SYSTEM_LIFETIME_DAYS": "0"}, INSTANCE, {})
