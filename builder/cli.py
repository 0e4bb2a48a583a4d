"""The ``pulp-analytics`` command line.

Every command reports a user mistake as one line on stderr and a non-zero exit; a traceback
means a bug.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from receiver.config import DEPLOYMENTS, ConfigError, load_settings

INSTANCE = Path(__file__).resolve().parent.parent / "receiver" / "instance"


class DateType(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD)", param, ctx)


DATE = DateType()


def utc_today() -> date:
    return datetime.now(UTC).date()


def receiver_db(db: Path | None) -> Path:
    """``--db``, else ``ANALYTICS_DATABASE``, else the receiver's default file."""
    try:
        settings = load_settings({"DATABASE": db} if db else {}, INSTANCE)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return settings.database


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="pulp-analytics")
def main() -> None:
    """Pulp usage analytics: receive daily reports, summarize them into git, build the site."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="SQLite file (default: ANALYTICS_DATABASE or the instance folder).")
@click.option("--deployment", type=click.Choice(DEPLOYMENTS),
              help="prod or dev (default: ANALYTICS_DEPLOYMENT or dev).")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes (default: 2 per core).")
def serve(host: str, port: int, db: Path | None, deployment: str | None,
          workers: int | None) -> None:
    """Run the receiver under gunicorn.

    Other settings come from ANALYTICS_* variables: EXPORT_TOKEN, RETENTION_DAYS,
    COLLECT_DEV_SYSTEMS, SITE_URL, SITE_DIR.
    """
    from receiver import create_app
    from receiver.server import default_workers
    from receiver.server import serve as run
    from receiver.store import StoreError

    config: dict[str, Any] = {}
    if db:
        config["DATABASE"] = db
    if deployment:
        config["DEPLOYMENT"] = deployment
    try:
        app = create_app(config)
    except (ConfigError, StoreError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # sqlite3 errors: a file that is not a database, a locked disk
        raise click.ClickException(f"cannot open the database: {exc}") from None
    click.echo(f"receiver ({app.config['DEPLOYMENT']}) on http://{host}:{port}/ "
               f"with {app.config['DATABASE']}", err=True)
    run(app, host, port, workers or default_workers())


@main.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="SQLite file (default: ANALYTICS_DATABASE or the instance folder).")
@click.option("--keep-days", type=click.IntRange(min=1),
              help="Days of raw submissions to keep (default: ANALYTICS_RETENTION_DAYS or 14).")
@click.option("--today", type=DATE, help="Count the window back from this day (default: today, UTC).")
def prune(db: Path | None, keep_days: int | None, today: date | None) -> None:
    """Delete raw submissions older than the retention window.

    Days before TODAY minus KEEP_DAYS are deleted; the database records the oldest day it still
    keeps, so the summarizer refuses to summarize a pruned day instead of reporting zero.
    """
    from receiver import store

    path = receiver_db(db)
    if keep_days is None:
        try:
            keep_days = load_settings({"DATABASE": path}, INSTANCE).retention_days
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    try:
        conn = store.connect(path, readonly=False) if path.is_file() else None
        if conn is None:
            raise store.StoreError(f"no database at {path}")
        store.check_schema(conn)
        result = store.prune(conn, today or utc_today(), keep_days)
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"deleted {result.deleted} submissions; oldest kept day is {result.oldest_kept_day}")


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
