"""``pulp-analytics demo``: from nothing to a populated site on localhost.

1. start a dev receiver (gunicorn, a fresh SQLite file) that files each report under the day
   in its Date header and also serves the site folder;
2. simulate a fleet reporting daily for a few months, over HTTP;
3. summarize every complete day from the receiver's export, as the nightly job does;
4. build the site, then keep serving site and receiver until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import click

from builder.simulate import simulate, summary_line
from builder.sources import HttpSource
from builder.summarize import summarize


class DemoError(RuntimeError):
    """The demo cannot start (port taken, receiver failed)."""


def check_port_free(host: str, port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise DemoError(f"port {port} is in use; pick another with --port") from None


def start_receiver(work: Path, host: str, port: int, token: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ANALYTICS_DEPLOYMENT": "dev",
        "ANALYTICS_CLOCK": "request-date",
        "ANALYTICS_EXPORT_TOKEN": token,
        "ANALYTICS_SITE_DIR": str(work / "site"),
    }
    command = [
        str(Path(sys.executable).parent / "pulp-analytics"),
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--db",
        str(work / "receiver.sqlite3"),
        "--workers",
        "2",
    ]
    log = (work / "receiver.log").open("ab")
    return subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"the receiver exited; see {log}")
        try:
            with urllib.request.urlopen(url + "healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise DemoError(f"the receiver did not answer within 30 s; see {log}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_demo(
    host: str,
    port: int,
    systems: int,
    days: int,
    seed: int,
    workdir: Path | None,
    echo: Callable[[str], None] = click.echo,
) -> None:
    from builder.site import build_site

    check_port_free(host, port)
    work = workdir or Path(tempfile.mkdtemp(prefix="pulp-analytics-demo-"))
    (work / "site").mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}/"
    token = secrets.token_urlsafe(24)
    today = datetime.now(UTC).date()
    started = time.monotonic()
    receiver = start_receiver(work, host, port, token)
    try:
        wait_healthy(url, receiver, work / "receiver.log")
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
        stop(receiver)
    echo(f"stopped; the demo's files are in {work}")


def simulate_history(
    url: str, systems: int, days: int, seed: int, today: date, echo: Callable[[str], None]
) -> None:
    with click.progressbar(
        length=days, label=f"[2/4] simulating {systems} systems", show_eta=False, file=sys.stderr
    ) as bar:
        totals = simulate(url, systems, days, seed, today, on_day=lambda d, a: bar.update(1))
    echo(f"[2/4] posted {days} days of reports: {summary_line(totals.items())}")
