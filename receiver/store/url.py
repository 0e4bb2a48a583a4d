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
    return isinstance(database, str) and _parts(database)[0].lower() in SCHEMES


def _parts(url: str) -> tuple[str, str, str, str, str]:
    """(scheme, user information, the rest of the address, query, fragment) of ``url``, by
    plain string splitting, so that even a URL nothing else can read is shown safely."""
    scheme, _, rest = url.partition("://")
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    return scheme, userinfo if at else "", f"{hosts}{slash}{path}", query, fragment


def checked_url(text: str, what: str) -> str:
    """``text`` if it is a PostgreSQL URL; ValueError naming ``what`` (never showing a password)
    otherwise. The rest (hosts, ports, parameters) is libpq's to check when the store is made:
    it also takes several hosts, ``postgresql://USER:PASSWORD@HOST1:5432,HOST2:5432/DB``."""
    try:
        scheme = urllib.parse.urlsplit(text).scheme
    except ValueError as exc:
        raise ValueError(f"{what} is not a valid URL ({scrub(str(exc), text)})") from None
    if scheme not in SCHEMES:
        raise ValueError(f"{what} must be a SQLite file or a {URL_FORM} URL, not a {scheme}:// URL")
    return text


def redact(database: Database) -> str:
    """``database`` for people to read: a file as it is, a URL without its password."""
    if not isinstance(database, str):
        return str(database)
    scheme, userinfo, address, query, fragment = _parts(database)
    user, colon, _ = userinfo.partition(":")
    shown = f"{scheme}://" + (f"{user}{':' + HIDDEN if colon else ''}@" if userinfo else "")
    shown += address
    pairs = [pair.partition("=") for pair in query.split("&") if pair]
    if pairs:
        shown += "?" + "&".join(
            f"{name}={HIDDEN}" if name in SECRET_PARAMETERS else f"{name}{eq}{value}"
            for name, eq, value in pairs
        )
    return shown + (f"#{fragment}" if fragment else "")


def secrets_of(database: Database) -> list[str]:
    """The password (and SSL key password) in ``database``, as written and decoded."""
    if not isinstance(database, str):
        return []
    _, userinfo, _, query, _ = _parts(database)
    found = [userinfo.partition(":")[2]]
    for pair in query.split("&"):
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
