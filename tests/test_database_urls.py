"""``ANALYTICS_DATABASE`` and ``--db``: a SQLite file or a PostgreSQL URL, never shown with its
password."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from builder.cli import main
from receiver.config import ConfigError, load_settings
from receiver.store import error_text, redact, scrub
from receiver.store.url import is_postgresql

SECRET = "s3cr%2Ft-pass"  # percent-encoded as a URL must hold it; decoded: s3cr/t-pass


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"postgresql://analytics:{SECRET}@db.example.org:5432/analytics",
            "postgresql://analytics:***@db.example.org:5432/analytics",
        ),
        (
            f"postgres://analytics:{SECRET}@[::1]/analytics?sslmode=verify-full",
            "postgres://analytics:***@[::1]/analytics?sslmode=verify-full",
        ),
        (
            f"postgresql://db/analytics?user=analytics&password={SECRET}&sslpassword=key",
            "postgresql://db/analytics?user=analytics&password=***&sslpassword=***",
        ),
        ("postgresql://analytics@db/analytics", "postgresql://analytics@db/analytics"),
        ("postgresql:///analytics", "postgresql:///analytics"),
        (
            f"postgresql://analytics:{SECRET}@db1:5432,db2:5432/analytics"
            "?target_session_attrs=read-write",
            "postgresql://analytics:***@db1:5432,db2:5432/analytics"
            "?target_session_attrs=read-write",
        ),
    ],
)
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert is_postgresql(url)


def test_a_password_is_scrubbed_from_any_text_as_written_and_decoded() -> None:
    url = f"postgresql://analytics:{SECRET}@db/analytics"
    text = f'invalid percent-encoded token: "{SECRET}" (that is s3cr/t-pass)\n\tmore'
    assert scrub(text, url) == 'invalid percent-encoded token: "***" (that is ***)\n\tmore'
    assert error_text(ValueError(text), url) == (
        'invalid percent-encoded token: "***" (that is ***) more'
    )
    assert redact(Path("/var/lib/pulp-analytics/receiver.sqlite3")) == (
        "/var/lib/pulp-analytics/receiver.sqlite3"
    )


def test_the_database_setting_takes_a_file_or_a_postgresql_url(tmp_path: Path) -> None:
    url = f"postgresql://analytics:{SECRET}@db/analytics"
    assert load_settings({"DATABASE": url}, tmp_path, {}).database == url
    assert load_settings({}, tmp_path, {"ANALYTICS_DATABASE": "x.db"}).database == Path("x.db")
    assert load_settings({}, tmp_path, {}).database == tmp_path / "analytics.sqlite3"
    for other in (f"mysql://root:{SECRET}@db/analytics", f"sqlite://{SECRET}/x"):
        with pytest.raises(ConfigError, match="must be a SQLite file or a postgresql://") as info:
            load_settings({}, tmp_path, {"ANALYTICS_DATABASE": other})
        assert SECRET not in str(info.value)
    with pytest.raises(ConfigError, match="is not a valid URL") as info:
        load_settings({"DATABASE": f"postgresql://a:{SECRET}@[db/x"}, tmp_path, {})
    assert SECRET not in str(info.value)


def test_a_port_libpq_cannot_read_stops_the_store_without_showing_the_password() -> None:
    from receiver.store import StoreError, open_store

    with pytest.raises(StoreError, match="is not a usable PostgreSQL URL") as info:
        open_store(f"postgresql://analytics:{SECRET}@db/x?port=none&bogus=1")
    assert SECRET not in str(info.value)
    assert "postgresql://analytics:***@db/x" in str(info.value)


def test_db_refuses_a_folder_and_another_scheme_without_showing_the_password(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["prune", "--db", f"redis://u:{SECRET}@cache/0"])
    assert result.exit_code == 2
    assert SECRET not in result.output
    assert "redis://u:***@cache/0" in result.output
    result = runner.invoke(main, ["prune", "--db", str(tmp_path)])
    assert result.exit_code == 2
    assert "is a directory, not a SQLite file" in result.output


def test_a_postgresql_url_without_the_driver_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from receiver.store import StoreError, open_store

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a)
    )
    with pytest.raises(StoreError, match=r"pip install 'pulp-analytics\[postgresql\]'"):
        open_store(f"postgresql://analytics:{SECRET}@db/analytics")
