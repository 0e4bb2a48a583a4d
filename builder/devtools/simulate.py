"""Posting a simulated fleet's reports to a receiver over HTTP, the way pulpcore does.

Each report is a real protobuf message in its own POST. Past days carry their day in the
``Date`` header; a dev receiver started with ``ANALYTICS_CLOCK=request-date`` files each report
under that day through its ordinary code path, which is how the demo gets months of history.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from email.utils import format_datetime

from builder.devtools.fleet import Fleet, days_back

THREADS = 8


class SimulateError(RuntimeError):
    """The receiver cannot be reached or does not file reports under the day they carry."""


class Poster:
    """POSTs bodies to one receiver from a few threads, one connection per request."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SimulateError(f"{url!r} is not an http(s) URL")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port
        self.path = parts.path or "/"
        self.local = threading.local()

    def probe(self) -> None:
        """Fail early, with a clear message, when nothing listens at the receiver's address."""
        port = self.port or (443 if self.https else 80)
        try:
            socket.create_connection((self.host, port), timeout=10).close()
        except OSError as exc:
            raise SimulateError(f"cannot post to {self.host}:{port}: {exc}") from None

    def post(self, body: bytes, day: date) -> str:
        """The receiver's answer: accepted, duplicate, ignored, or ``HTTP <code>: <error>``."""
        moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=30)
        try:
            conn.request(
                "POST",
                self.path,
                body=body,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Date": format_datetime(moment, usegmt=True),
                },
            )
            response = conn.getresponse()
            payload = response.read()
        except OSError as exc:
            raise SimulateError(f"cannot post to {self.host}:{self.port}: {exc}") from None
        finally:
            conn.close()
        try:
            answer = json.loads(payload)
        except ValueError:
            answer = {}
        if response.status == 200 and "status" in answer:
            return str(answer["status"])
        return f"HTTP {response.status}: {answer.get('error', payload[:80])!r}"


def simulate(
    url: str,
    systems: int,
    days: int,
    seed: int,
    today: date,
    on_day: Callable[[date, Counter[str]], None] | None = None,
) -> Counter[str]:
    """Post ``days`` days of reports ending with ``today``; return the answers counted."""
    poster = Poster(url)
    poster.probe()
    fleet = Fleet(systems, seed)
    totals: Counter[str] = Counter()
    with ThreadPoolExecutor(THREADS) as pool:
        for index, day in enumerate(days_back(today, days)):
            bodies = [body for _, body in fleet.day(index)]
            answers = Counter(pool.map(lambda b, d=day: poster.post(b, d), bodies))
            _check(answers, index, url)
            totals.update(answers)
            if on_day:
                on_day(day, answers)
    return totals


def _check(answers: Counter[str], index: int, url: str) -> None:
    errors = [a for a in answers if a.startswith("HTTP")]
    if errors:
        raise SimulateError(f"{url} refused reports: {errors[0]}")
    if index > 0 and answers["duplicate"] * 2 > sum(answers.values()):
        raise SimulateError(
            f"{url} filed most of a later day's reports as duplicates: either it ignores the"
            " Date header (start a dev receiver with ANALYTICS_CLOCK=request-date for history,"
            " or use --days 1) or these days were simulated there before (try another --seed)."
        )


def summary_line(totals: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{count} {answer}" for answer, count in sorted(totals))
