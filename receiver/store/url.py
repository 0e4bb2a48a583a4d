"""Database settings that name a PostgreSQL server, and how they are shown.

``ANALYTICS_DATABASE`` (and ``--db``) is either a SQLite file or a URL of the form
``postgresql://USER:PASSWORD@HOST:PORT/DATABASE`` (``postgres://`` too, and any libpq
parameter in the query string, such as ``?sslmode=verify-full``). A URL may carry a password,
so it is never shown as given: ``redact`` replaces the password by ``***`` for the start-up
line and every message, and ``scrub`` takes it out of any text (a driver's error message).
Nothing here needs the PostgreSQL driver.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

SCHEMES = ("postgresql", "postgres")
URL_FORM = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
HIDDEN = "***"
SECRET_PARAMETERS = ("password", "sslpassword")  # libpq parameters that hold a secret

Database = Path | str  # a SQLite file, or a PostgreSQL URL


def looks_like_url(text: str) -> bool:
    """Whether ``text`` is meant as a URL rather than a file name (it has a scheme)."""
    return "://" in text


def is_postgresql(database: Database) -> bool:
    """Whether ``database`` names a PostgreSQL server."""
    return isinstance(database, str) and urllib.parse.urlsplit(database).scheme in SCHEMES


def checked_url(text: str, what: str) -> str:
    """``text`` if it is a PostgreSQL URL; ValueError naming ``what`` (never showing a password)
    otherwise."""
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"{what} is not a valid URL ({scrub(str(exc), text)})") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(
            f"{what} must be a SQLite file or a {URL_FORM} URL, not a {parts.scheme}:// URL"
        )
    return text


def redact(database: Database) -> str:
    """``database`` for people to read: a file as it is, a URL without its password."""
    if not isinstance(database, str):
        return str(database)
    parts = urllib.parse.urlsplit(database)
    netloc = parts.netloc
    user, at, host = netloc.rpartition("@")
    if at and ":" in user:
        netloc = f"{user.partition(':')[0]}:{HIDDEN}@{host}"
    query = "&".join(
        f"{pair.partition('=')[0]}={HIDDEN}"
        if pair.partition("=")[0] in SECRET_PARAMETERS
        else pair
        for pair in parts.query.split("&")
        if pair
    )
    shown = f"{parts.scheme}://{netloc}{parts.path}"
    return shown + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def secrets_of(database: Database) -> list[str]:
    """The password (and SSL key password) in ``database``, as written and decoded."""
    if not isinstance(database, str):
        return []
    parts = urllib.parse.urlsplit(database)
    found = []
    user, at, _ = parts.netloc.rpartition("@")
    if at and ":" in user:
        found.append(user.partition(":")[2])
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if name in SECRET_PARAMETERS:
            found.append(value)
    return [form for secret in found for form in {secret, urllib.parse.unquote(secret)} if form]


def scrub(text: str, database: Database) -> str:
    """``text`` with every password ``database`` carries replaced by ``***``."""
    for secret in sorted(secrets_of(database), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def error_text(exc: BaseException, database: Database) -> str:
    """A driver's error as one line (libpq's can span several), without a password."""
    return scrub(" ".join(str(exc).split()) or type(exc).__name__, database)
