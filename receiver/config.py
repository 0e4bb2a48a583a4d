"""The receiver's settings: one table of keys, read and checked once at start-up.

Every key can be given in the mapping passed to ``create_app`` or in the environment as
``ANALYTICS_<KEY>``; the mapping wins. A bad value raises :class:`ConfigError` with a message
that names the key, so a misconfigured server refuses to start instead of misbehaving later.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from receiver.store.url import Database, checked_url, looks_like_url

ENV_PREFIX = "ANALYTICS_"
KEYS = (
    "DATABASE",
    "DEPLOYMENT",
    "COLLECT_DEV_SYSTEMS",
    "RETENTION_DAYS",
    "EXPORT_TOKEN",
    "CLOCK",
    "SITE_URL",
    "SITE_DIR",
    "SYNCHRONOUS",
    "READ_TIMEOUT",
    "MAX_KEEP_DAYS",
    "ID_KEY",
    "ID_KEY_FILE",
    "SYSTEM_LIFETIME_DAYS",
)  # every setting; the README documents each
# Defaults of the day-count settings, in one place: the site's "What we collect" page states them.
DEFAULTS = {"RETENTION_DAYS": 14, "MAX_KEEP_DAYS": 60, "SYSTEM_LIFETIME_DAYS": 400}
REQUEST_CLOCK = "request-date"  # CLOCK value: take each submission's day from its Date header
DEPLOYMENTS = ("prod", "dev")

Clock = Callable[[], datetime]


class ConfigError(ValueError):
    """A setting is missing or has a value the receiver cannot use."""


@dataclass(frozen=True)
class Settings:
    database: Database  # a SQLite file (a Path; created with its schema on first use) or a
    #                     postgresql:// URL (a str; the database must exist, its tables are made)
    deployment: str  # "prod" or "dev"
    collect_dev_systems: bool  # keep systems running non-X.Y.Z component versions
    retention_days: int  # raw submissions older than this many days may be pruned
    export_token: str | None  # bearer token for /export/...; None disables export
    clock: Clock  # returns an aware UTC datetime; injected by tests and backfills
    request_clock: bool  # CLOCK=request-date: a POST's Date header sets its day (dev only)
    site_url: str | None  # where GET / redirects readers; None serves a small page
    site_dir: Path | None  # a built site to serve beside the receiver (demo)
    synchronous: str  # SQLite's synchronous mode: NORMAL survives a killed process, FULL also
    #                   a power loss, at about half the throughput (PostgreSQL: always on)
    read_timeout: int  # seconds a client has to send a whole request (headers and body)
    max_keep_days: int  # prune deletes a day nobody fetched only past this age (and never
    #                     before retention_days)
    id_key: str | None  # hex secret for the keyed hash of system ids (receiver.identity)
    id_key_file: Path | None  # or a file holding it; neither: generated on dev, refused on prod
    system_lifetime_days: int  # prune forgets a system not seen for this many days


def system_clock() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)


def fixed_clock(moment: datetime) -> Clock:
    """A clock that always answers ``moment`` (for backfills started from the environment)."""
    return lambda: moment


def load_settings(
    overrides: Mapping[str, Any] | None,
    instance_path: Path,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge ``overrides`` over ``ANALYTICS_*`` variables over defaults, checking every value."""
    env = os.environ if environ is None else environ
    given = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}
    raw: dict[str, Any] = {k.removeprefix(ENV_PREFIX): v for k, v in given.items()}
    raw.update(overrides or {})

    deployment = _choice(raw, "DEPLOYMENT", DEPLOYMENTS, "dev")
    database = _database(raw.get("DATABASE") or instance_path / "analytics.sqlite3")
    request_clock = raw.get("CLOCK") == REQUEST_CLOCK
    if request_clock and deployment == "prod":
        raise ConfigError(
            f"{ENV_PREFIX}CLOCK={REQUEST_CLOCK} lets clients pick the day; "
            "it is for simulated history on dev receivers, never prod"
        )
    return Settings(
        database=database,
        deployment=deployment,
        collect_dev_systems=_bool(raw, "COLLECT_DEV_SYSTEMS", deployment == "dev"),
        retention_days=_positive_int(raw, "RETENTION_DAYS", DEFAULTS["RETENTION_DAYS"]),
        export_token=_optional_str(raw, "EXPORT_TOKEN"),
        clock=_clock(None if request_clock else raw.get("CLOCK")),
        request_clock=request_clock,
        site_url=_optional_str(raw, "SITE_URL"),
        site_dir=_optional_dir(raw, "SITE_DIR"),
        synchronous=_choice(raw, "SYNCHRONOUS", ("normal", "full"), "normal").upper(),
        read_timeout=_positive_int(raw, "READ_TIMEOUT", 10),
        max_keep_days=_positive_int(raw, "MAX_KEEP_DAYS", DEFAULTS["MAX_KEEP_DAYS"]),
        id_key=_optional_str(raw, "ID_KEY"),
        id_key_file=_optional_path(raw, "ID_KEY_FILE"),
        system_lifetime_days=_positive_int(
            raw, "SYSTEM_LIFETIME_DAYS", DEFAULTS["SYSTEM_LIFETIME_DAYS"]
        ),
    )


def _database(value: Any) -> Database:
    """A SQLite file as a Path, a PostgreSQL URL as it was given; ConfigError for another URL."""
    if isinstance(value, str) and looks_like_url(value):
        try:
            return checked_url(value, f"{ENV_PREFIX}DATABASE")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return Path(value)


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    value = str(raw.get(key) or default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{ENV_PREFIX}{key} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _bool(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{ENV_PREFIX}{key} must be true or false, not {value!r}")


def _positive_int(raw: Mapping[str, Any], key: str, default: int) -> int:
    value = raw.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{ENV_PREFIX}{key} must be a whole number, not {value!r}") from None
    if number < 1:
        raise ConfigError(f"{ENV_PREFIX}{key} must be at least 1, not {number}")
    return number


def _optional_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return str(value) if value else None


def _optional_path(raw: Mapping[str, Any], key: str) -> Path | None:
    value = raw.get(key)
    return Path(value) if value else None


def _optional_dir(raw: Mapping[str, Any], key: str) -> Path | None:
    value = raw.get(key)
    if not value:
        return None
    path = Path(value)
    if not path.is_dir():
        raise ConfigError(f"{ENV_PREFIX}{key} is not a directory: {path}")
    return path


def _clock(value: Any) -> Clock:
    """A callable is used as is; a string is an ISO timestamp for a fixed clock.

    (The string ``request-date`` is handled by the caller: see ``Settings.request_clock``.)
    """
    if value is None or value == "":
        return system_clock
    if callable(value):
        return value  # type: ignore[no-any-return]
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}CLOCK must be an ISO date or time, not {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return fixed_clock(moment.astimezone(UTC))
