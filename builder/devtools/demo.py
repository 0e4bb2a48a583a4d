"""``pulp-analytics demo``: from nothing to a populated site on localhost.

1. start a dev receiver (gunicorn, a fresh SQLite file) that files each report under the day
   in its Date header and also serves the site folder;
2. simulate a fleet reporting daily for a few months, over HTTP;
3. summarize every complete day from the receiver's export, as the nightly job does;
4. build the site, then keep serving site and receiver until Ctrl-C.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import click

from builder.devtools import receivers
from builder.devtools.simulate import simulate, summary_line
from builder.summaries.sources import HttpSource
from builder.summaries.summarize import summarize


class DemoError(RuntimeError):
    """The demo cannot go on (the receiver stopped)."""


def run_demo(
    host: str,
    port: int,
    systems: int,
    days: int,
    seed: int,
    workdir: Path | None,
    echo: Callable[[str], None] = click.echo,
) -> None:
    from builder.site.pages import build_site

    receivers.check_port_free(host, port)
    work = workdir or Path(tempfile.mkdtemp(prefix="pulp-analytics-demo-"))
    (work / "site").mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}/"
    token = secrets.token_urlsafe(24)
    today = datetime.now(UTC).date()
    started = time.monotonic()
    env = {
        "ANALYTICS_DEPLOYMENT": "dev",
        "ANALYTICS_CLOCK": "request-date",  # the simulated history carries its days
        "ANALYTICS_EXPORT_TOKEN": token,
        "ANALYTICS_SITE_DIR": str(work / "site"),
    }
    log = (work / "receiver.log").open("ab")
    receiver = receivers.start(
        work / "receiver.sqlite3", port, host=host, workers=2, env=env, log=log
    )
    try:
        try:
            receivers.wait_healthy(url, receiver)
        except receivers.ReceiverError as exc:
            raise DemoError(f"{exc}; see {work / 'receiver.log'}") from None
        echo(f"[1/4] receiver (dev) on {url}, database {work / 'receiver.sqlite3'}")
        simulate_history(url, systems, days, seed, today, echo)
        summaries = work / "summaries"
        source = HttpSource(url, token)
        try:
            result = summarize(source, summaries, "dev", today)
        finally:
            source.close()
        echo(
            f"[3/4] summarized {len(result.written)} complete days from the export into "
            f"{summaries / 'dev'}"
        )
        build_site(summaries, "dev", work / "site")
        echo(f"[4/4] built the site in {work / 'site'} ({time.monotonic() - started:.0f} s)")
        echo("")
        echo(f"Open {url} to read the charts; POST reports to {url} as pulpcore does.")
        echo("Press Ctrl-C to stop.")
        receiver.wait()
        raise DemoError(f"the receiver stopped; see {work / 'receiver.log'}")
    except KeyboardInterrupt:
        echo("\nstopping...")
    finally:
        receivers.stop(receiver)
        log.close()
    echo(f"stopped; the demo's files are in {work}")


def simulate_history(
    url: str, systems: int, days: int, seed: int, today: date, echo: Callable[[str], None]
) -> None:
    with click.progressbar(
        length=days, label=f"[2/4] simulating {systems} systems", show_eta=False, file=sys.stderr
    ) as bar:
        totals = simulate(url, systems, days, seed, today, on_day=lambda d, a: bar.update(1))
    echo(f"[2/4] posted {days} days of reports: {summary_line(totals.items())}")
