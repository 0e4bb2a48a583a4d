"""``pulp-analytics demo``: from nothing to a populated site on localhost, prod and dev.

1. start two receivers (gunicorn, fresh SQLite files): prod on the given port, which also
   serves the site folder (a "building…" page until the sites exist), and dev on a free port,
   which files each report under the day in its Date header (``CLOCK=request-date``, which a
   prod receiver refuses);
2. simulate a fleet whose systems start reporting over the first weeks: each day's reports go
   to the dev receiver over HTTP and, through the prod receiver's own code with its clock set
   to that day, into the prod receiver's database (see ``simulate.Backfill``);
3. summarize every complete day of each deployment from its receiver's export, as the nightly
   job does;
4. build both sites as Pages publishes them (prod at ``/``, dev at ``/dev/``) and switch the
   served folder to them, then serve until Ctrl-C, SIGTERM or SIGHUP, which all stop the
   receivers and remove the temporary folder (unless ``--keep``). A demo killed outright
   (SIGKILL) cannot clean up, but its receivers still stop, so the port is free at once for
   the next demo, which also removes the folder the killed one left.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, NoReturn, TextIO, cast

import click

from builder.devtools import receivers
from builder.devtools.simulate import Backfill, Poster, Target, post_history, summary_line
from builder.devtools.sitefolder import SiteFolder
from builder.devtools.stopping import Console, Stopped, StopSignals
from builder.summaries.sources import HttpSource
from builder.summaries.summarize import summarize

DEPLOYMENTS = ("prod", "dev")
ENV_PREFIX = "ANALYTICS_"


class DemoError(RuntimeError):
    """The demo cannot go on (a receiver stopped, the folder is not usable)."""


@dataclass(frozen=True)
class DemoOptions:
    host: str
    port: int
    systems: int
    days: int
    seed: int
    workdir: Path | None  # the user's folder: created if missing, never removed
    keep: bool  # keep the temporary folder


@dataclass
class Receiver:
    deployment: str
    url: str
    settings: dict[str, str]  # ANALYTICS_<key> values, DATABASE included
    log_path: Path
    process: subprocess.Popen[bytes]
    log: IO[bytes]


TEMP_PREFIX = "pulp-analytics-demo-"
RUNNING_MARK = "demo.pid"  # in a temporary folder while its demo runs


class Demo:
    """One run: its folder, its receivers, and the clean-up that undoes them."""

    def __init__(self, options: DemoOptions, signals: StopSignals, out: TextIO) -> None:
        self.options = options
        self.signals = signals
        self.out = out
        self.work = options.workdir or Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        if not options.workdir:  # gone with the clean-up; left only by a demo that was killed
            (self.work / RUNNING_MARK).write_text(f"{os.getpid()}\n")
        self.site = SiteFolder(self.work)
        self.url = f"http://{options.host}:{options.port}/"
        self.token = secrets.token_urlsafe(24)
        self.today = datetime.now(UTC).date()
        self.receivers: dict[str, Receiver] = {}
        self.serving = False

    def say(self, text: str = "") -> None:
        click.echo(text, file=self.out)

    def run(self) -> NoReturn:
        """The four steps, each timed, then serve until a stop signal or a receiver dies."""
        started = time.monotonic()
        self.site.show_step("Step 1 of 4: starting the receivers.")
        self.start_receivers()
        self.simulate()
        self.summarize()
        self.build()
        self.serving = True
        self.announce(time.monotonic() - started)
        while True:
            for rx in self.receivers.values():
                if rx.process.poll() is not None:
                    raise DemoError(
                        f"the {rx.deployment} receiver stopped (status {rx.process.returncode});"
                        f" see {rx.log_path}"
                    )
            time.sleep(0.5)

    def start_receivers(self) -> None:
        began = time.monotonic()
        host, port = self.options.host, self.options.port
        self.start_receiver("prod", port, SITE_DIR=str(self.site.path))
        self.start_receiver(
            "dev", receivers.free_port(host), CLOCK="request-date", SITE_URL=f"{self.url}dev/"
        )
        dev_url = self.receivers["dev"].url
        for rx in self.receivers.values():
            try:
                receivers.wait_healthy(rx.url, rx.process)
            except receivers.ReceiverError as exc:
                raise DemoError(f"the {rx.deployment} receiver: {exc}; see {rx.log_path}") from None
        self.say(
            f"[1/4] started the receivers ({time.monotonic() - began:.1f} s): prod on {self.url}"
            f" (it serves the site: open it now to follow along), dev on {dev_url}"
        )

    def start_receiver(self, deployment: str, port: int, **settings: str) -> None:
        """A receiver on ``port`` with a fresh database and the demo's settings only."""
        settings = {
            "DATABASE": str(self.work / f"{deployment}.sqlite3"),
            "DEPLOYMENT": deployment,
            "EXPORT_TOKEN": self.token,
            "ID_KEY": secrets.token_hex(32),
            **settings,
        }
        env = {f"{ENV_PREFIX}{key}": value for key, value in settings.items()}
        log_path = self.work / f"{deployment}-receiver.log"
        log = log_path.open("ab")
        url = f"http://{self.options.host}:{port}/"
        with self.signals.deferred():  # a stop signal now would leave the process untracked
            process = receivers.start(
                Path(settings["DATABASE"]), port, host=self.options.host, workers=2, env=env,
                log=log, stop_with_parent=True,
            )  # fmt: skip
            self.receivers[deployment] = Receiver(deployment, url, settings, log_path, process, log)

    def simulate(self) -> None:
        began = time.monotonic()
        options = self.options
        self.site.show_step(
            f"Step 2 of 4: simulating {options.systems} systems over {options.days} days."
        )
        # the prod receiver's own settings and database, with a clock the backfill moves
        backfill = Backfill(self.receivers["prod"].settings)
        targets: list[Target] = [Poster(self.receivers["dev"].url), backfill]
        label = f"[2/4] simulating {options.systems} systems over {options.days} days"
        with click.progressbar(
            length=options.days,
            label=label,
            show_eta=False,
            file=self.out,
        ) as bar:
            dev, prod_totals = post_history(
                targets,
                options.systems,
                options.days,
                options.seed,
                self.today,
                on_day=lambda day, answers: bar.update(1),
            )
        self.say(
            f"[2/4] simulated {options.days} days of reports ({time.monotonic() - began:.1f} s):"
            f" prod {summary_line(prod_totals.items())}; dev {summary_line(dev.items())}"
        )

    def summarize(self) -> None:
        began = time.monotonic()
        self.site.show_step("Step 3 of 4: summarizing each complete day.")
        written = {}
        for deployment in DEPLOYMENTS:
            source = HttpSource(self.receivers[deployment].url, self.token)
            try:
                result = summarize(source, self.work / "summaries", deployment, self.today)
            finally:
                source.close()
            written[deployment] = len(result.written)
        counts = set(written.values())
        days = (
            f"{written['prod']} complete days of each deployment"
            if len(counts) == 1
            else f"{written['prod']} complete days of prod and {written['dev']} of dev"
        )
        self.say(
            f"[3/4] summarized {days} from the receivers' exports"
            f" ({time.monotonic() - began:.1f} s) into {self.work / 'summaries'}"
        )

    def build(self) -> None:
        from builder.site.pages import build_site

        began = time.monotonic()
        self.site.show_step("Step 4 of 4: building the prod and dev sites.")
        summaries = self.work / "summaries"
        build_site(summaries, "prod", self.site.built, site_url=self.url)
        build_site(summaries, "dev", self.site.built / "dev", site_url=f"{self.url}dev/")
        self.site.publish()
        self.say(
            f"[4/4] built the prod and dev sites ({time.monotonic() - began:.1f} s)"
            f" into {self.site.path}"
        )

    def announce(self, elapsed: float) -> None:
        dev = self.receivers["dev"].url
        files = (
            f"{self.work} (kept)"
            if self.options.workdir or self.options.keep
            else f"{self.work} (removed when the demo stops; --keep keeps them)"
        )
        self.say("")
        self.say(f"Ready in {elapsed:.0f} s.")
        self.say(f"  Read the charts: {self.url} (prod, as published) or {self.url}dev/ (dev)")
        self.say(f"  Post reports as pulpcore does: {self.url} (prod) or {dev} (dev)")
        self.say(f"  Files: {files}")
        self.say("Press Ctrl-C to stop.")

    def stop(self, failed: bool) -> None:
        """Stop the receivers, then remove the temporary folder unless it is to be kept."""
        receivers.stop_all([rx.process for rx in self.receivers.values()])
        for rx in self.receivers.values():
            rx.log.close()
        (self.work / RUNNING_MARK).unlink(missing_ok=True)
        if self.options.workdir:
            self.say(f"stopped; the demo's files are in {self.work}")
        elif self.options.keep or failed:
            self.say(f"stopped; the demo's files are kept in {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)
            if self.work.exists():
                self.say(f"stopped; could not remove all of {self.work}")
            else:
                self.say(f"stopped; removed {self.work}")


def run_demo(options: DemoOptions, stream: TextIO | None = None) -> int:
    """Run the demo until it is stopped; return the exit status.

    Ctrl-C, SIGTERM and SIGHUP all stop it cleanly: 0 once the site was being served, else
    128 + the signal's number (130, 143, 129). An error raises DemoError (or the error of the
    step that failed) after the same clean-up, keeping the folder for its logs.
    """
    receivers.check_port_free(options.host, options.port)
    check_workdir(options.workdir)
    out = cast(TextIO, Console(stream or sys.stdout))  # a text stream that survives SIGHUP
    for folder in remove_killed_demos(Path(tempfile.gettempdir())):
        click.echo(f"removed {folder}, left by a demo that was killed", file=out)
    with isolated_environment(), StopSignals() as signals:
        demo: Demo | None = None
        failed = True
        try:
            with signals.deferred():  # held until ``demo`` knows its (temporary) folder
                demo = Demo(options, signals, out)
            demo.run()
        except Stopped as stop:
            failed = False
            click.echo("\nstopping...", file=out)
            return 0 if demo is not None and demo.serving else stop.exit_status
        finally:
            signals.ignore()
            if demo is not None:
                demo.stop(failed)


def remove_killed_demos(tmp: Path) -> list[Path]:
    """Remove the temporary folders of this user's demos that were killed (SIGKILL, a power
    cut) before they could clean up: those still marked running by a process that is gone.
    Kept folders (``--keep``, a failed run) and ``--workdir`` folders carry no mark."""
    removed = []
    for folder in sorted(tmp.glob(f"{TEMP_PREFIX}*")):
        try:
            if folder.is_symlink() or folder.stat().st_uid != os.getuid():
                continue
            pid = int((folder / RUNNING_MARK).read_text())
        except (OSError, ValueError):
            continue  # not marked, or not ours
        if pid > 0 and not process_exists(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def check_workdir(workdir: Path | None) -> None:
    """A folder given with ``--workdir`` must be new or empty: the demo never mixes runs."""
    if workdir is None:
        return
    if workdir.exists() and not workdir.is_dir():
        raise DemoError(f"{workdir} is not a folder")
    if workdir.is_dir() and any(workdir.iterdir()):
        raise DemoError(f"{workdir} is not empty; give a new or empty folder with --workdir")
    workdir.mkdir(parents=True, exist_ok=True)


@contextmanager
def isolated_environment() -> Iterator[None]:
    """The demo's receivers take their settings from the demo alone, not from the shell's
    ``ANALYTICS_*`` variables (a SITE_URL or DATABASE set for real work would break it)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)
