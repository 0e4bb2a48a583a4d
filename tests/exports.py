"""A stand-in for a receiver's export, holding whatever rows a test needs.

Summaries already written and data from older receivers may hold values today's receiver
refuses (a version ``1²``); this serves such rows the way ``GET /export/`` and
``GET /export/<day>.jsonl`` do, so the summarizer can be driven with them over real HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from tests.conftest import TOKEN

Rows = Mapping[date, list[dict[str, Any]]]


def submission(day: date, components: Iterable[tuple[str, str]], age_days: int = 5) -> Any:
    """One exported submission of ``day`` with ``components`` as (name, version) pairs."""
    return {
        "date": day.isoformat(),
        "age_days": age_days,
        "postgresql_version": 0,
        "online_workers": None,
        "online_content_apps": None,
        "components": [{"name": n, "version": v} for n, v in components],
        "rbac_stats": None,
    }


def export_app(
    rows: Rows, *, today: date | None = None, deployment: str = "prod"
) -> Callable[..., Any]:
    """A WSGI app answering the export's index and day files for ``rows``.

    ``today`` is the receiver's date as newer receivers report it; None leaves it out, as
    older receivers do.
    """

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {TOKEN}":
            start_response("401 Unauthorized", [("Content-Type", "application/json")])
            return [b'{"error": "token"}']
        path = environ["PATH_INFO"]
        if path == "/export/":
            index: dict[str, Any] = {
                "deployment": deployment,
                "retention_days": 14,
                "oldest_kept_day": min(rows).isoformat() if rows else None,
                "days": [
                    {"date": d.isoformat(), "systems": len(r), "duplicate": 0, "ignored": 0}
                    for d, r in sorted(rows.items())
                ],
            }
            if today is not None:
                index["today"] = today.isoformat()
            body = json.dumps(index).encode()
        elif path.startswith("/export/") and path.endswith(".jsonl"):
            day = date.fromisoformat(path.removeprefix("/export/").removesuffix(".jsonl"))
            body = "".join(json.dumps(r) + "\n" for r in rows.get(day, [])).encode()
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "not found"}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return app
