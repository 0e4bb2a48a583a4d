"""Posting a simulated fleet's reports to receivers, the way pulpcore does.

Each report is a real protobuf message in its own POST. Past days carry their day in the
``Date`` header; a dev receiver started with ``ANALYTICS_CLOCK=request-date`` files each report
under that day through its ordinary code path, which is how the demo gets months of history.
A prod receiver never takes the day from a client: :class:`Backfill` files the same reports
through a receiver app in this process whose clock is set to each day, as a backfill does.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any, Protocol

from builder.devtools.fleet import Fleet, System, days_back

THREADS = 8
JOINING_SHARE = 0.5  # over a longer history, the fleet's systems start reporting in its first half


class SimulateError(RuntimeError):
    """The receiver cannot be reached or does not file reports under the day they carry."""


class Target(Protocol):
    """Where a fleet's reports go: a receiver over HTTP, or one in this process."""

    threaded: bool  # post() may run in several threads at once

    def describe(self) -> str: ...

    def post(self, body: bytes, day: date) -> str: ...


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def answer_of(status: int, payload: bytes) -> str:
    """A receiver's answer: accepted, duplicate, ignored, or ``HTTP <code>: <error>``."""
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if status == 200 and "status" in answer:
        return str(answer["status"])
    return f"HTTP {status}: {answer.get('error', payload[:80])!r}"


class Poster:
    """POSTs bodies to one receiver from a few threads, one connection per request."""

    threaded = True

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SimulateError(f"{url!r} is not an http(s) URL")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port
        self.path = parts.path or "/"
        self.url = url
        self.local = threading.local()

    def describe(self) -> str:
        return self.url

    def probe(self) -> None:
        """Fail early, with a clear message, when nothing listens at the receiver's address."""
        port = self.port or (443 if self.https else 80)
        try:
            socket.create_connection((self.host, port), timeout=10).close()
        except OSError as exc:
            raise SimulateError(f"cannot post to {self.host}:{port}: {exc}") from None

    def post(self, body: bytes, day: date) -> str:
        """The receiver's answer: accepted, duplicate, ignored, or ``HTTP <code>: <error>``."""
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=30)
        try:
            conn.request(
                "POST",
                self.path,
                body=body,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Date": format_datetime(noon(day), usegmt=True),
                },
            )
            response = conn.getresponse()
            payload = response.read()
        except OSError as exc:
            raise SimulateError(f"cannot post to {self.host}:{self.port}: {exc}") from None
        finally:
            conn.close()
        return answer_of(response.status, payload)


class DayClock:
    """A receiver's clock that the caller sets to the day being filed."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class Backfill:
    """Files reports through a receiver app in this process, its clock set to each one's day.

    The same code path as a POST (decode, check, store, answer) with the clock that tests and
    backfills inject (``CLOCK``), so a prod receiver's rules apply (development builds are
    ignored) without it ever taking a day from a client. The database may be served by a
    running receiver at the same time.
    """

    threaded = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        from receiver import create_app

        self.clock = DayClock()
        self.app = create_app({**config, "CLOCK": self.clock})
        self.client = self.app.test_client()

    def describe(self) -> str:
        return f"the {self.app.config['DEPLOYMENT']} receiver at {self.app.config['DATABASE']}"

    def post(self, body: bytes, day: date) -> str:
        self.clock.now = noon(day)
        response = self.client.post("/", data=body, content_type="application/octet-stream")
        return answer_of(response.status_code, response.get_data())


def joining_days(days: int) -> int:
    """Over how many first days a simulated history's systems start reporting."""
    return int(days * JOINING_SHARE)


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
    totals = post_history([poster], systems, days, seed, today, on_day)
    return totals[0]


def post_history(
    targets: Sequence[Target],
    systems: int,
    days: int,
    seed: int,
    today: date,
    on_day: Callable[[date, Counter[str]], None] | None = None,
) -> list[Counter[str]]:
    """The same fleet's ``days`` days of reports, ending with ``today``, to every target.

    Targets that allow it are posted to from a pool of threads while the others are fed in
    this thread. Returns each target's answers counted; ``on_day`` gets the first target's.
    """
    fleet = Fleet(systems, seed, joining_days(days))
    totals: list[Counter[str]] = [Counter() for _ in targets]
    pool = ThreadPoolExecutor(THREADS)
    try:
        for index, day in enumerate(days_back(today, days)):
            reports = list(fleet.day(index))
            answers = _post_day(pool, targets, [body for _, body in reports], day)
            for target, answered, total in zip(targets, answers, totals, strict=True):
                _check(target, [system for system, _ in reports], answered, index)
                total.update(answered)
            if on_day:
                on_day(day, Counter(answers[0]))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return totals


def _post_day(
    pool: ThreadPoolExecutor, targets: Sequence[Target], bodies: list[bytes], day: date
) -> list[list[str]]:
    """Every target's answers to a day's reports, in the reports' order."""
    pending: dict[int, list[Future[str]]] = {
        i: [pool.submit(t.post, body, day) for body in bodies]
        for i, t in enumerate(targets)
        if t.threaded
    }
    answers: dict[int, list[str]] = {
        i: [t.post(body, day) for body in bodies] for i, t in enumerate(targets) if not t.threaded
    }
    answers.update({i: [f.result() for f in futures] for i, futures in pending.items()})
    return [answers[i] for i in range(len(targets))]


def _check(target: Target, systems: list[System], answers: list[str], index: int) -> None:
    """Stop on a refused report, or when a receiver files a later day under an earlier one."""
    errors = [a for a in answers if a.startswith("HTTP")]
    if errors:
        raise SimulateError(f"{target.describe()} refused reports: {errors[0]}")
    returning = [a for s, a in zip(systems, answers, strict=True) if s.joined < index]
    if index > 0 and returning.count("duplicate") * 2 > len(returning):
        raise SimulateError(
            f"{target.describe()} filed most reports of systems seen on an earlier day as"
            " duplicates: either it ignores the Date header (start a dev receiver with"
            " ANALYTICS_CLOCK=request-date for history, or use --days 1) or these days were"
            " simulated there before (try another --seed)."
        )


def summary_line(totals: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{count} {answer}" for answer, count in sorted(totals))
