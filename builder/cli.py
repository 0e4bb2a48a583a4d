"""The ``pulp-analytics`` command line.

Every command reports a user mistake as one line on stderr and a non-zero exit; a traceback
means a bug.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from receiver.config import DEPLOYMENTS, ConfigError, load_settings

DB_HELP = "SQLite file (default: ANALYTICS_DATABASE or the receiver's instance folder)."
db_option = click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=DB_HELP)
summaries_option = click.option(
    "--summaries",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("summaries"),
    show_default=True,
    help="Root of the summary files.",
)


class DateType(click.ParamType[date, Any]):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD)", param, ctx)


DATE = DateType()
PRIVATE_UMASK = 0o077  # the database, its -wal/-shm and anything else written: owner only


def utc_today() -> date:
    return datetime.now(UTC).date()


def receiver_settings(config: dict[str, Any] | None = None) -> Any:
    """The receiver's settings as the server would read them, with ``config`` on top."""
    from receiver import instance_path

    try:
        return load_settings(config or {}, instance_path())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def receiver_db(db: Path | None) -> Path:
    """``--db``, else ``ANALYTICS_DATABASE``, else the receiver's default file."""
    database: Path = receiver_settings({"DATABASE": db} if db else {}).database
    return database


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="pulp-analytics")
def main() -> None:
    """Pulp usage analytics: receive daily reports, summarize them into git, build the site."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@db_option
@click.option(
    "--deployment",
    type=click.Choice(DEPLOYMENTS),
    help="prod or dev (default: ANALYTICS_DEPLOYMENT or dev).",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), help="Worker processes (default: one per core)."
)
def serve(
    host: str, port: int, db: Path | None, deployment: str | None, workers: int | None
) -> None:
    """Run the receiver under gunicorn.

    Other settings come from ANALYTICS_* variables: EXPORT_TOKEN, RETENTION_DAYS,
    COLLECT_DEV_SYSTEMS, SITE_URL, SITE_DIR.
    """
    from receiver import create_app
    from receiver.server import default_workers
    from receiver.server import serve as run
    from receiver.store import StoreError

    os.umask(PRIVATE_UMASK)
    config: dict[str, Any] = {}
    if db:
        config["DATABASE"] = db
    if deployment:
        config["DEPLOYMENT"] = deployment
    try:
        app = create_app(config)
    except (ConfigError, StoreError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:  # a file that is not a database, a locked or full disk
        raise click.ClickException(f"cannot open the database: {exc}") from None
    click.echo(
        f"receiver ({app.config['DEPLOYMENT']}) on http://{host}:{port}/ "
        f"with {app.config['DATABASE']}",
        err=True,
    )
    run(app, host, port, workers or default_workers())


@main.command()
@db_option
@click.option(
    "--keep-days",
    type=click.IntRange(min=1),
    help="Days of raw submissions to keep (default: ANALYTICS_RETENTION_DAYS or 14).",
)
@click.option(
    "--max-keep-days",
    type=click.IntRange(min=1),
    help="Delete a day nobody has fetched once it is this old (default: ANALYTICS_MAX_KEEP_DAYS"
    " or 60; never less than the days to keep).",
)
@click.option(
    "--today",
    type=DATE,
    help="Count the window back from this day, today at the latest (default: today, UTC).",
)
def prune(
    db: Path | None, keep_days: int | None, max_keep_days: int | None, today: date | None
) -> None:
    """Delete raw submissions older than the retention window, once they have been fetched.

    Days before TODAY minus KEEP_DAYS are deleted once the nightly job has fetched them (the
    export streamed the whole day) or `summarize --db` has read them. A day nobody fetched is
    kept, and so are the days after it, until it is MAX_KEEP_DAYS old; the output names such
    days. The database records the oldest day it still keeps, so the summarizer refuses to
    summarize a pruned day instead of reporting zero.
    """
    from receiver import store

    os.umask(PRIVATE_UMASK)
    real_today = utc_today()
    if today is not None and today > real_today:
        raise click.ClickException(
            f"--today {today} is later than today ({real_today}, UTC); nothing was pruned"
        )
    settings = receiver_settings({"DATABASE": db} if db else {})
    keep = keep_days or settings.retention_days
    limit = max_keep_days or settings.max_keep_days
    try:
        conn = store.open_existing(settings.database)
        result = store.prune(conn, today or real_today, keep, limit)
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:  # a read-only or full disk, a locked file
        raise click.ClickException(f"pruning {settings.database} failed: {exc}") from None
    click.echo(f"deleted {result.deleted} submissions; oldest kept day is {result.oldest_kept_day}")
    if result.kept_unfetched:
        click.echo(
            f"kept {days_text(result.kept_unfetched)} and the days after: not fetched by the"
            f" export or read by summarize --db yet; deleted once fetched, or at"
            f" {max(keep, limit)} days old"
        )
    if result.deleted_unfetched:
        click.echo(
            f"deleted {days_text(result.deleted_unfetched)} unfetched: older than"
            f" {max(keep, limit)} days (--max-keep-days)"
        )


def days_text(days: list[date]) -> str:
    """``2026-11-03``, ``2026-11-03, 2026-11-05`` or ``2026-11-03..2026-11-20 (9 days)``."""
    if len(days) <= 3:
        return ", ".join(str(day) for day in days)
    return f"{days[0]}..{days[-1]} ({len(days)} days)"


@main.command()
@db_option
@click.option(
    "--source",
    metavar="URL",
    help="Read a receiver's export instead; the token comes from ANALYTICS_EXPORT_TOKEN.",
)
@summaries_option
@click.option(
    "--deployment",
    type=click.Choice(DEPLOYMENTS),
    help="Default: what the --source reports, else ANALYTICS_DEPLOYMENT, else dev.",
)
@click.option(
    "--today", type=DATE, help="Summarize the days before this one (default: today, UTC)."
)
@click.option(
    "--since", type=DATE, help="Start at this day instead of the day after the newest summary."
)
@click.option(
    "--persistent-min-age-days",
    "min_age",
    type=click.IntRange(min=0),
    help="Age from which a system counts as persistent (default: 1 prod, 0 dev).",
)
@click.option("--commit", is_flag=True, help="Commit the new files to git in one commit.")
def summarize(
    db: Path | None,
    source: str | None,
    summaries: Path,
    deployment: str | None,
    today: date | None,
    since: date | None,
    min_age: int | None,
    commit: bool,
) -> None:
    """Write one summary file per complete UTC day that has none yet.

    Days run from the day after the newest summary (or the first raw day) to the day before
    TODAY. Existing files are never overwritten; a day whose raw data is no longer kept is an
    error, never a summary of zero systems.
    """
    from builder.summaries import gitcommit
    from builder.summaries import summarize as engine
    from builder.summaries.sources import HttpSource, LocalSource, SourceError
    from builder.summaries.summary import summary_path

    if db and source:
        raise click.UsageError("give --db or --source, not both")
    try:
        reader = (
            HttpSource(source, os.environ.get("ANALYTICS_EXPORT_TOKEN"))
            if source
            else LocalSource(receiver_db(db))
        )
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        deployment = resolve_deployment(deployment, reader.availability().deployment)
        result = engine.summarize(
            reader,
            summaries,
            deployment,
            today or utc_today(),
            min_age,
            since,
            progress=lambda s: click.echo(
                f"wrote {summary_path(summaries, deployment, s.date)}: {s.systems} systems,"
                f" {s.persistent_systems} persistent"
            ),
        )
        if result.skipped:
            click.echo(f"left {len(result.skipped)} existing summaries untouched")
        if not result.written:
            click.echo("nothing to summarize: every complete day has its summary")
        elif commit:
            paths = [summary_path(summaries, deployment, s.date) for s in result.written]
            message = gitcommit.commit_message(deployment, result.written)
            sha = gitcommit.commit_files(paths, message)
            click.echo(f"committed {len(paths)} summaries as {sha[:12]}")
    except (SourceError, engine.SummarizeError, gitcommit.CommitError) as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:  # the receiver's file is locked, damaged or on a failing disk
        raise click.ClickException(f"reading {reader.describe()} failed: {exc}") from None
    finally:
        reader.close()


def resolve_deployment(given: str | None, reported: str | None) -> str:
    """The option wins but must agree with what the source says it is."""
    if given and reported and given != reported:
        raise click.ClickException(
            f"--deployment {given} but the source is the {reported} receiver; refusing to mix them"
        )
    if given or reported:
        return given or reported  # type: ignore[return-value]
    deployment: str = receiver_settings().deployment
    return deployment


@main.command()
@click.option("--branch", required=True, help="The branch to push (main for prod, dev for dev).")
@click.option("--remote", default="origin", show_default=True)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="A folder inside the repository.",
)
def push(branch: str, remote: str, repo: Path) -> None:
    """Push new summary commits, rebasing and retrying when the remote moved meanwhile.

    Does nothing when the branch has no commits the remote lacks; never force-pushes.
    """
    from builder.summaries.gitcommit import CommitError, push_branch

    try:
        click.echo(push_branch(repo, branch, remote))
    except CommitError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@summaries_option
@click.option("--deployment", type=click.Choice(DEPLOYMENTS), default="prod", show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("site"),
    show_default=True,
    help="Folder for the built site (replaced).",
)
def build(summaries: Path, deployment: str, out: Path) -> None:
    """Build the static chart site of one deployment from its summary files."""
    from builder.site.pages import SiteError, build_site
    from builder.summaries.summary import SummaryError

    try:
        build_site(summaries, deployment, out)
    except (SiteError, SummaryError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"built the {deployment} site in {out}")


@main.command("check-summaries")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path), default=Path("summaries"))
def check_summaries(root: Path) -> None:
    """Validate every summary file under ROOT against the schema and the canonical form."""
    from builder.summaries.summary import DEPLOYMENTS as KNOWN
    from builder.summaries.summary import SummaryError, check_file

    files = sorted(root.glob("*/*/*.json"))
    problems = []
    for path in files:
        deployment = path.parent.parent.name
        try:
            if deployment not in KNOWN:
                raise SummaryError(
                    f"{path}: {deployment!r} is not a deployment ({', '.join(KNOWN)})"
                )
            check_file(path, deployment)
        except SummaryError as exc:
            problems.append(str(exc))
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} of {len(files)} summary files are invalid")
    click.echo(f"{len(files)} summary files valid")


@main.command()
@click.option("--url", required=True, help="The receiver to post to, e.g. http://127.0.0.1:8080/.")
@click.option(
    "--systems",
    type=click.IntRange(1, 1_000_000),
    default=300,
    show_default=True,
    help="Long-lived systems in the fleet (throw-away CI systems come on top).",
)
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=1,
    show_default=True,
    help="Days of reports ending today; history needs a dev receiver started with "
    "ANALYTICS_CLOCK=request-date.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same fleet.")
@click.option("--today", type=DATE, help="The last simulated day (default: today, UTC).")
def simulate(url: str, systems: int, days: int, seed: int, today: date | None) -> None:
    """Post a realistic fleet's daily reports to a receiver over HTTP.

    Plugins with versions released and adopted in waves, throw-away CI systems that report
    once, development builds, systems that stop reporting, old and current message layouts.
    """
    from builder.devtools.simulate import Poster, SimulateError, summary_line
    from builder.devtools.simulate import simulate as run_simulation

    try:
        Poster(url).probe()
        with click.progressbar(length=days, label="simulating", file=sys.stderr) as bar:
            totals = run_simulation(
                url, systems, days, seed, today or utc_today(), on_day=lambda d, a: bar.update(1)
            )
    except SimulateError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"posted {days} days of reports: {summary_line(totals.items())}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--systems", type=click.IntRange(1, 100_000), default=300, show_default=True)
@click.option(
    "--days",
    type=click.IntRange(2, 3650),
    default=91,
    show_default=True,
    help="Days of history, today included (today stays unsummarized).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the database, summaries and site go (default: a new temp folder).",
)
def demo(host: str, port: int, systems: int, days: int, seed: int, workdir: Path | None) -> None:
    """Start a receiver, simulate a fleet, summarize, build and serve the site.

    Everything runs on this machine; the site and the receiver share one address, and
    Ctrl-C stops both.
    """
    from builder.devtools.demo import DemoError, run_demo
    from builder.devtools.receivers import ReceiverError
    from builder.devtools.simulate import SimulateError
    from builder.site.pages import SiteError
    from builder.summaries.sources import SourceError
    from builder.summaries.summarize import SummarizeError

    try:
        run_demo(host, port, systems, days, seed, workdir)
    except (DemoError, ReceiverError, SimulateError, SourceError, SummarizeError, SiteError) as exc:
        raise click.ClickException(str(exc)) from None


def run(args: list[str] | None = None) -> None:
    """Entry point: every error is one line on stderr and a non-zero exit."""
    try:
        code = main.main(args=args, prog_name="pulp-analytics", standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"Error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
