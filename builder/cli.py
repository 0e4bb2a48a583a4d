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
from typing import TYPE_CHECKING, Any

import click

from builder.days import describe_days
from receiver.config import DEPLOYMENTS, ConfigError, load_settings
from receiver.store.url import URL_FORM, Database, checked_url, looks_like_url, redact

if TYPE_CHECKING:
    from collections import Counter

    from builder.summaries.legacy import ImportReport
    from builder.summaries.sources import Source
    from builder.summaries.summarize import RunResult
    from builder.summaries.summary import Summary


class DatabaseType(click.ParamType[Database, Any]):
    """A SQLite file (a Path) or a PostgreSQL URL (kept as it is); a refusal never shows the
    value, which may hold a password."""

    name = "PATH|URL"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Database:
        if isinstance(value, Path) or not looks_like_url(str(value)):
            path = Path(value)
            if path.is_dir():
                self.fail(f"{str(path)!r} is a directory, not a SQLite file", param, ctx)
            return path
        try:
            return checked_url(str(value), redact(str(value)))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DB_HELP = (
    f"SQLite file, or a PostgreSQL database as {URL_FORM} (default: ANALYTICS_DATABASE or the"
    " receiver's instance folder). Put a URL with a password in ANALYTICS_DATABASE rather than"
    " here: other users of the host can read a command line."
)
db_option = click.option("--db", type=DatabaseType(), help=DB_HELP)
min_count_option = click.option(
    "--min-count",
    type=click.IntRange(min=1),
    help="Publish no count below this: smaller versions, PostgreSQL versions, components and"
    ' other counts are summed under "(other)" (default: 5 prod, 1 dev; never lower, as'
    " check-summaries refuses it).",
)
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


def receiver_db(db: Database | None) -> Database:
    """``--db``, else ``ANALYTICS_DATABASE``, else the receiver's default file."""
    database: Database = receiver_settings({"DATABASE": db} if db else {}).database
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
    host: str, port: int, db: Database | None, deployment: str | None, workers: int | None
) -> None:
    """Run the receiver under gunicorn.

    The database is a SQLite file (the default: one receiver host) or a PostgreSQL database
    shared by several receivers behind a load balancer, given as
    postgresql://USER:PASSWORD@HOST:PORT/DATABASE (ANALYTICS_DATABASE; needs the postgresql
    extra; see docs/scaling.md). Its tables are made or migrated at start-up
    (docs/operations.md); the database itself must exist.

    Other settings come from ANALYTICS_* variables: ID_KEY or ID_KEY_FILE (the secret of the
    keyed hash stored instead of each system id; required on prod, generated once on dev),
    EXPORT_TOKEN, RETENTION_DAYS, SYSTEM_LIFETIME_DAYS, COLLECT_DEV_SYSTEMS, SITE_URL, SITE_DIR.
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
    click.echo(
        f"receiver ({app.config['DEPLOYMENT']}) on http://{host}:{port}/ "
        f"with {app.extensions['analytics'].store.describe()}",
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
    "--lifetime-days",
    type=click.IntRange(min=1),
    help="Forget a system whose last report is more than this many days old (default:"
    " ANALYTICS_SYSTEM_LIFETIME_DAYS or 400).",
)
@click.option(
    "--today",
    type=DATE,
    help="Count the window back from this day, today at the latest (default: today, UTC).",
)
def prune(
    db: Database | None,
    keep_days: int | None,
    max_keep_days: int | None,
    lifetime_days: int | None,
    today: date | None,
) -> None:
    """Delete raw submissions older than the retention window, once they have been fetched,
    then forget systems not seen within their lifetime.

    Days before TODAY minus KEEP_DAYS are deleted once the nightly job has fetched them (the
    export streamed the whole day) or `summarize --db` has read them. A day nobody fetched is
    kept, and so are the days after it, until it is MAX_KEEP_DAYS old; the output names such
    days. The database records the oldest day it still keeps, so the summarizer refuses to
    summarize a pruned day instead of reporting zero.

    A system whose last report is more than LIFETIME_DAYS before TODAY is forgotten (its keyed
    hash and first-seen day are deleted), unless raw submissions of it are still kept; if it
    reports again it counts as a new system (age 0).
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
    lifetime = lifetime_days or settings.system_lifetime_days
    try:
        session = store.open_existing(settings.database)
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        result = session.prune(today or real_today, keep, limit, lifetime)
    except session.errors as exc:  # a read-only or full disk, a locked file, a lost server
        reason = store.error_text(exc, settings.database)
        where = redact(settings.database)
        raise click.ClickException(f"pruning {where} failed: {reason}") from None
    finally:
        session.close()
    click.echo(f"deleted {result.deleted} submissions; oldest kept day is {result.oldest_kept_day}")
    if result.kept_unfetched:
        click.echo(
            f"kept {describe_days(result.kept_unfetched)} and the days after: not fetched by the"
            f" export or read by summarize --db yet; deleted once fetched, or at"
            f" {max(keep, limit)} days old"
        )
    if result.deleted_unfetched:
        click.echo(
            f"deleted {describe_days(result.deleted_unfetched)} unfetched: older than"
            f" {max(keep, limit)} days (--max-keep-days)"
        )
    unseen = f"not seen for {plural(lifetime, 'day')}"
    click.echo(f"forgot {plural(result.forgotten, 'system')} {unseen}")
    if result.kept_systems:
        click.echo(
            f"kept {plural(result.kept_systems, 'system')} {unseen}: raw submissions of theirs"
            " are still kept; forgotten once those are deleted"
        )


@main.command("accept-id-key")
@db_option
def accept_id_key(db: Database | None) -> None:
    """Make the configured ID key the database's own, after rotating the key on purpose.

    `serve` refuses to start with an ID key other than the one the stored system hashes were
    made with, since every system would then count as new. After rotating the key on purpose
    (docs/operations.md, "Rotating the key"), stop the receiver, run this once with the
    receiver's settings (ANALYTICS_ID_KEY or ANALYTICS_ID_KEY_FILE, ANALYTICS_DATABASE), and
    start the receiver again.
    """
    from receiver import instance_path
    from receiver.identity import load_id_key
    from receiver.store import IdKeyMismatch, StoreError, is_postgresql, open_store

    os.umask(PRIVATE_UMASK)
    settings = receiver_settings({"DATABASE": db} if db else {})
    database = settings.database
    if not is_postgresql(database) and not Path(database).is_file():
        raise click.ClickException(f"no receiver database at {database}; nothing was changed")
    try:
        key = load_id_key(settings, instance_path())
        store = open_store(database, settings.synchronous)
        try:
            store.migrate(utc_today(), key.hash)
        except IdKeyMismatch:
            store.migrate(utc_today(), key.hash, accept_id_key=True)
            click.echo(
                f"{store.describe()} now takes the configured ID key: every system counts as"
                " new at its next report"
            )
        else:
            click.echo(f"{store.describe()} already takes the configured ID key; nothing changed")
    except (ConfigError, StoreError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@db_option
@click.option(
    "--source",
    metavar="URL",
    help="Read a receiver's export instead (https://, or http:// on a loopback address); the"
    " token comes from ANALYTICS_EXPORT_TOKEN and is sent nowhere else.",
)
@summaries_option
@click.option(
    "--deployment",
    type=click.Choice(DEPLOYMENTS),
    help="Default: what the --source reports, else ANALYTICS_DEPLOYMENT, else dev.",
)
@click.option(
    "--today",
    type=DATE,
    help="Summarize the days before this one; not later than today (UTC) or the receiver's"
    " date (default: the earlier of the two).",
)
@click.option(
    "--since",
    type=DATE,
    help="Start at this day (before --today) instead of the day after the newest summary.",
)
@click.option(
    "--persistent-min-age-days",
    "min_age",
    type=click.IntRange(min=0),
    help="Age from which a system counts as persistent (default: 1 prod, 0 dev).",
)
@min_count_option
@click.option("--commit", is_flag=True, help="Commit the new files to git in one commit.")
def summarize(
    db: Database | None,
    source: str | None,
    summaries: Path,
    deployment: str | None,
    today: date | None,
    since: date | None,
    min_age: int | None,
    min_count: int | None,
    commit: bool,
) -> None:
    """Write one summary file per complete UTC day that has none yet.

    Days run from the day after the newest summary (or the first raw day) to the day before
    TODAY, which may be neither later than the real UTC date nor than the receiver's own date
    when its export reports one. Existing files are never overwritten; a day whose raw data is
    no longer kept is an error, never a summary of zero systems. One run at a time per checkout;
    with --commit, valid summary files an earlier run wrote but did not commit are committed
    too. The last line names the days fetched from the source; with --source, an earlier line
    says how many bytes came over the wire (the export is asked for gzip-compressed).

    Only reviewed component names (builder/components.py) and no count below --min-count are
    written: the rest is summed under "(other)"; systems and persistent_systems stay exact.
    """
    from builder.summaries import gitcommit
    from builder.summaries import summarize as engine
    from builder.summaries.lock import LockError, checkout_lock
    from builder.summaries.sources import HttpSource, SourceError
    from builder.summaries.summary import SummaryError, summary_path

    if db and source:
        raise click.UsageError("give --db or --source, not both")
    try:
        reader = open_source(db, source)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with checkout_lock(summaries):
            deployment = resolve_deployment(deployment, reader.availability().deployment)
            engine.remove_stale_temp_files(summaries, deployment)
            earlier = uncommitted_to_adopt(summaries, deployment) if commit else []
            result = engine.summarize(
                reader,
                summaries,
                deployment,
                today,
                min_age,
                since,
                progress=lambda s: click.echo(
                    f"wrote {summary_path(summaries, deployment, s.date)}: {s.systems} systems,"
                    f" {s.persistent_systems} persistent"
                ),
                min_count=min_count,
            )
            if isinstance(reader, HttpSource) and result.written and reader.transfer():
                click.echo(reader.transfer())
            if result.skipped:
                click.echo(f"left {len(result.skipped)} existing summaries untouched")
            if commit and (result.written or earlier):
                click.echo(commit_summaries(summaries, deployment, result.written, earlier))
    except (
        LockError,
        SourceError,
        engine.SummarizeError,
        gitcommit.CommitError,
        SummaryError,
    ) as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:  # the receiver's file is locked, damaged or on a failing disk
        raise click.ClickException(f"reading {reader.describe()} failed: {exc}") from None
    finally:
        reader.close()
    click.echo(closing_line(result, reader.describe()))


def open_source(db: Database | None, source: str | None) -> Source:
    """The export at ``source``, else the receiver's database (a file or a PostgreSQL URL)."""
    from builder.summaries.sources import HttpSource, LocalSource, PostgreSQLSource
    from receiver.store import is_postgresql

    if source:
        return HttpSource(source, os.environ.get("ANALYTICS_EXPORT_TOKEN"))
    database = receiver_db(db)
    if is_postgresql(database):
        return PostgreSQLSource(str(database))
    return LocalSource(Path(database))


def commit_summaries(
    root: Path, deployment: str, written: list[Summary], earlier: list[Summary]
) -> str:
    """Commit this run's files and those an earlier run left uncommitted, in one commit; the
    line that says so."""
    from builder.summaries import gitcommit
    from builder.summaries.summary import summary_path

    summaries = written + earlier
    paths = sorted(summary_path(root, deployment, s.date) for s in summaries)
    days = [s.date for s in earlier]
    sha = gitcommit.commit_files(paths, gitcommit.commit_message(deployment, summaries, days))
    if sha is None:
        return f"nothing to commit: {len(paths)} summaries are as git already has them"
    line = f"committed {len(paths)} summaries as {sha[:12]}"
    if days:
        line += f", with {describe_days(days)} that an earlier run wrote but did not commit"
    return line


def closing_line(result: RunResult, source: str) -> str:
    """The days this run fetched from ``source``, or that there was nothing to fetch."""

    fetched = [s.date for s in result.written]
    if fetched:
        return f"fetched {describe_days(fetched)} from {source}"
    return (
        f"nothing to summarize: every complete day before {result.today} has its summary;"
        f" fetched nothing from {source}"
    )


def uncommitted_to_adopt(root: Path, deployment: str) -> list[Summary]:
    """Summary files an earlier run wrote but did not commit (it was killed, or failed later),
    validated; ClickException naming them when they are not valid or a committed file changed.
    """
    from builder.summaries import gitcommit
    from builder.summaries.summary import SummaryError, check_file

    pending = gitcommit.uncommitted_summaries(root, deployment)
    if pending.changed:
        names = ", ".join(str(p) for p in pending.changed)
        raise click.ClickException(
            f"committed summary files were edited without a commit: {names}; restore them (git"
            " restore; summaries are never rewritten) or commit the edit, then re-run"
        )
    adopted: list[Summary] = []
    problems: list[str] = []
    for path in pending.new:
        try:
            adopted.append(check_file(path, deployment))
        except SummaryError as exc:
            problems.append(str(exc))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise click.ClickException(
            f"{problems[0]}{more}: an uncommitted summary file that is not valid; remove it,"
            " then re-run"
        )
    return adopted


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


@main.command("import-legacy")
@click.argument("fixture", type=click.Path(path_type=Path))
@click.option(
    "--deployment",
    type=click.Choice(DEPLOYMENTS),
    default="prod",
    show_default=True,
    help="The deployment the fixture comes from (dev: dev.analytics.pulpproject.org).",
)
@summaries_option
@min_count_option
@click.option("--commit", is_flag=True, help="Commit the new files to git in one commit.")
def import_legacy(
    fixture: Path, deployment: str, summaries: Path, min_count: int | None, commit: bool
) -> None:
    """Import analytics.pulpproject.org's daily summaries from a dumpdata fixture.

    FIXTURE is what `./manage.py dumpdata pulpanalytics` wrote on the old site. Writes one
    summary file (marked "source": "legacy") per day that has none yet; existing files are
    never overwritten. Per-system rows (system, component) are never imported. A day with a
    malformed row is reported and not written; the exit status is then 1. Each day is written
    as summarize writes one: unreviewed component names and counts below --min-count are
    summed under "(other)". See docs/legacy.md.
    """
    from builder.summaries import gitcommit, legacy
    from builder.summaries.fixture import FixtureError
    from builder.summaries.lock import LockError, checkout_lock
    from builder.summaries.publish import MinCountError, min_count_for
    from builder.summaries.summarize import SummarizeError
    from builder.summaries.summary import summary_path

    try:
        min_count = min_count_for(deployment, min_count)
    except MinCountError as exc:
        raise click.ClickException(str(exc)) from None
    report = legacy.ImportReport()
    try:
        # Read the whole fixture first, then write while holding the checkout's lock, so that
        # no summarize run writes or commits in the same checkout meanwhile.
        with legacy.spooled(fixture, report) as spool, checkout_lock(summaries):
            legacy.write_days(spool, summaries, deployment, report, min_count)
            for line in legacy_report_lines(report, summaries / deployment):
                click.echo(line)
            for day, why in report.malformed:
                click.echo(f"{day}: not imported: {why}", err=True)
            if commit and report.written:
                paths = [summary_path(summaries, deployment, day) for day in report.written]
                message = legacy.commit_message(deployment, fixture, report)
                sha = gitcommit.commit_files(paths, message)
                done = f"as {sha[:12]}" if sha else "(nothing to commit: already committed)"
                click.echo(f"committed {len(paths)} summaries {done}")
    except (FixtureError, legacy.LegacyError, SummarizeError, LockError) as exc:
        raise click.ClickException(str(exc)) from None
    except gitcommit.CommitError as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:  # the temporary spool: a full disk, most likely
        raise click.ClickException(f"the temporary copy of the fixture failed: {exc}") from None
    if report.malformed:
        raise click.ClickException(
            f"{len(report.malformed)} days were not imported (malformed rows, listed above);"
            " correct them in the fixture and run the import again: it adds only missing days"
        )


def legacy_report_lines(report: ImportReport, folder: Path) -> list[str]:
    """The closing output of import-legacy: what was read, written, left and ignored."""
    from builder.days import date_ranges, span

    days = plural(report.days_in_fixture, "daily summary", "daily summaries")
    lines = [f"read {plural(report.rows, 'row')}: {days}"]
    runs = date_ranges(report.written)
    if runs:
        where = ", ".join(span(*run) for run in runs[:3]) + (", ..." if len(runs) > 3 else "")
        lines.append(f"imported {plural(len(report.written), 'day')} into {folder}: {where}")
    else:
        lines.append("imported nothing: every day of the fixture has its summary already")
    if report.existing:
        left = plural(len(report.existing), "existing summary", "existing summaries")
        lines.append(f"left {left} untouched")
    raw = report.raw_rows
    if raw:
        lines.append(
            f"ignored {raw['system']:,} system and {raw['component']:,} component rows"
            " (per-system data is never imported)"
        )
    if report.unknown_models:
        lines.append(f"ignored rows of unknown models: {counts(report.unknown_models)}")
    if report.unknown_fields:
        lines.append(f"ignored unknown fields of known models: {counts(report.unknown_fields)}")
    return lines


def plural(n: int, word: str, words: str = "") -> str:
    """``1 day``, ``2 days``, ``1,024 daily summaries``."""
    return f"1 {word}" if n == 1 else f"{n:,} {words or word + 's'}"


def counts(counter: Counter[str]) -> str:
    """``name (n), ...``, most frequent first."""
    return ", ".join(f"{name} ({n:,})" for name, n in counter.most_common())


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
    """Validate every summary file under ROOT: schema, canonical form and the rules build applies.

    build refuses the same files: numbers that are not JSON (NaN, Infinity), duplicate keys,
    integers written as floats, impossible ages or dates, files in the wrong year folder, and
    anything SPEC §8 forbids publishing: a component name that is not reviewed
    (builder/components.py), a count other than "(other)" below the deployment's minimum
    (5 prod, 1 dev).
    """
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
    help="Long-lived systems in the fleet (throw-away CI systems come on top); over several "
    "days they start reporting during the first half.",
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
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    help="Port of the site and the prod receiver (the dev receiver takes a free one).",
)
@click.option(
    "--systems",
    type=click.IntRange(1, 100_000),
    default=300,
    show_default=True,
    help="Long-lived systems in the fleet; they start reporting over the first half of the "
    "history (throw-away CI systems come on top).",
)
@click.option(
    "--days",
    type=click.IntRange(2, 3650),
    default=91,
    show_default=True,
    help="Days of history, today included (today stays unsummarized).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same fleet.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="A new or empty folder for the databases, logs, summaries and sites; it is kept "
    "(default: a temporary folder, removed when the demo stops).",
)
@click.option("--keep", is_flag=True, help="Keep the temporary folder when the demo stops.")
def demo(
    host: str, port: int, systems: int, days: int, seed: int, workdir: Path | None, keep: bool
) -> int:
    """Run the system on localhost: two receivers, a simulated fleet, both sites.

    A prod and a dev receiver, months of a simulated fleet's reports, the nightly summaries
    and both sites, all on this machine. The prod site is served at the given address as it is
    published (the dev site below dev/), by the prod receiver, which shows a "building…" page
    until the sites exist. Ctrl-C, SIGTERM and SIGHUP all stop the receivers and remove the
    temporary folder; the exit status is 0 once the site was served, else 128 + the signal.
    The receivers ignore the shell's ANALYTICS_* variables.
    """
    from builder.devtools.demo import DemoError, DemoOptions, run_demo
    from builder.devtools.receivers import ReceiverError
    from builder.devtools.simulate import SimulateError
    from builder.site.pages import SiteError
    from builder.summaries.sources import SourceError
    from builder.summaries.summarize import SummarizeError

    options = DemoOptions(host, port, systems, days, seed, workdir, keep)
    try:
        return run_demo(options)
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
