"""``summarize`` under operator mistakes and odd data: what is refused, in one line, and what
still works."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.cli import main
from builder.days import describe_days
from builder.site.pages import build_site
from builder.summaries.summary import load_all, value_order, version_order
from tests.conftest import TOKEN, Clock, serving
from tests.exports import export_app, submission
from tests.test_summarize import GOLDEN, cli, files, fleet_history, summarize_prod

REAL_TODAY = datetime.now(UTC).date()
NOV = [date(2026, 11, 2) + timedelta(days=n) for n in range(8)]  # 2026-11-02..2026-11-09


@pytest.fixture
def prod(make_app: Callable[..., Flask], clock: Clock) -> Flask:
    app = make_app(DEPLOYMENT="prod")
    fleet_history(app.test_client(), clock)
    return app


def from_source(url: str, out: Path, *args: str) -> tuple[int, str]:
    return cli(
        "summarize",
        "--source",
        url,
        "--summaries",
        str(out),
        *args,
        env={"ANALYTICS_EXPORT_TOKEN": TOKEN},
    )


@pytest.fixture
def receiver_on_nov_10() -> Iterator[str]:
    """A receiver whose clock says 2026-11-10, holding one report on each day before it."""
    rows = {day: [submission(day, [("core", "3.21.0")])] for day in NOV}
    with serving(export_app(rows, today=date(2026, 11, 10))) as url:
        yield url


# -- --today and --since ------------------------------------------------------------------


@pytest.mark.parametrize(
    "typo",
    [REAL_TODAY + timedelta(days=1), REAL_TODAY + timedelta(days=365)],  # 2027 for 2026
)
def test_a_today_after_the_real_date_is_refused(
    prod: Flask, db_path: Path, tmp_path: Path, typo: date
) -> None:
    out = tmp_path / "s"
    code, output = summarize_prod(db_path, out, "--today", typo.isoformat())
    assert code == 1
    assert output == (
        f"Error: --today {typo} is after today's date (UTC) ({REAL_TODAY}) at {db_path}: only"
        " days that have ended can be summarized; nothing was written\n"
    )
    assert files(out) == {}


def test_a_today_after_the_receivers_date_is_refused(
    receiver_on_nov_10: str, tmp_path: Path
) -> None:
    code, output = from_source(receiver_on_nov_10, tmp_path, "--today", "2026-11-11")
    assert code == 1
    assert output.startswith(
        "Error: --today 2026-11-11 is after the receiver's date, as its export reports it"
        " (2026-11-10)"
    )
    assert len(output.splitlines()) == 1
    assert files(tmp_path) == {}


def test_without_today_a_run_stops_at_the_receivers_date(
    receiver_on_nov_10: str, tmp_path: Path
) -> None:
    code, output = from_source(receiver_on_nov_10, tmp_path)
    assert code == 0, output
    assert [Path(name).stem for name in files(tmp_path)] == [d.isoformat() for d in NOV]
    assert output.splitlines()[-1] == (
        f"fetched 2026-11-02..2026-11-09 (8 days) from {receiver_on_nov_10.rstrip('/')}"
    )


def test_a_receiver_that_does_not_report_its_date_is_bounded_by_the_real_date(
    tmp_path: Path,
) -> None:
    rows = {day: [submission(day, [("core", "3.21.0")])] for day in NOV}
    with serving(export_app(rows)) as url:
        assert from_source(url, tmp_path, "--today", "2026-11-10")[0] == 0
        typo = REAL_TODAY + timedelta(days=365)
        code, output = from_source(url, tmp_path / "x", "--today", typo.isoformat())
    assert len(files(tmp_path)) == 8
    assert (code, output.splitlines()[0]) == (1, output.strip())
    assert "is after today's date (UTC)" in output


def test_since_at_or_after_today_is_refused(prod: Flask, db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    code, output = summarize_prod(db_path, out, "--since", "2026-11-06", "--today", "2026-11-06")
    assert (code, output) == (
        1,
        "Error: --since 2026-11-06 is not before --today 2026-11-06: there is no complete day"
        " to summarize; nothing was written\n",
    )
    assert files(out) == {}


def test_a_summary_of_a_day_that_has_not_ended_is_refused(
    prod: Flask, db_path: Path, tmp_path: Path
) -> None:
    """A file left by an earlier typo would make every later run skip the real days."""
    out = tmp_path / "s"
    next_year = REAL_TODAY + timedelta(days=365)
    future = out / f"prod/{next_year.year}/{next_year}.json"
    future.parent.mkdir(parents=True)
    future.write_text("{}\n")
    code, output = summarize_prod(db_path, out, "--today", "2026-11-06")
    assert code == 1
    assert output.startswith(f"Error: {future}: a summary of {future.stem}, a day that has not")
    assert len(output.splitlines()) == 1
    assert sorted(files(out)) == [str(future.relative_to(out))]


# -- what the closing line says ------------------------------------------------------------


def test_the_closing_line_names_the_days_fetched(live_prod: str, tmp_path: Path) -> None:
    code, output = from_source(live_prod, tmp_path, "--today", "2026-11-06")
    assert output.splitlines()[-1] == f"fetched 2026-11-02..2026-11-05 (4 days) from {live_prod}"
    (tmp_path / "prod/2026/2026-11-03.json").unlink()
    code, output = from_source(
        live_prod, tmp_path, "--since", "2026-11-02", "--today", "2026-11-06"
    )
    assert code == 0, output
    assert output.splitlines()[-2:] == [
        "left 3 existing summaries untouched",
        f"fetched 2026-11-03 from {live_prod}",
    ]
    code, output = from_source(live_prod, tmp_path, "--today", "2026-11-06")
    assert output.splitlines()[-1] == (
        "nothing to summarize: every complete day before 2026-11-06 has its summary;"
        f" fetched nothing from {live_prod}"
    )


def test_days_are_described_as_runs() -> None:
    days = [date(2026, 11, 2), date(2026, 11, 5), date(2026, 11, 4), date(2026, 12, 1)]
    assert describe_days(days) == "2026-11-02, 2026-11-04..2026-11-05, 2026-12-01 (4 days)"
    assert describe_days(days[:1]) == "2026-11-02"


@pytest.fixture
def live_prod(prod: Flask) -> Iterator[str]:
    with serving(prod) as url:
        yield url.rstrip("/")


# -- things in the summaries folder that are not summaries --------------------------------


def test_a_stray_file_in_a_year_folder_is_named(prod: Flask, db_path: Path, tmp_path: Path) -> None:
    stray = tmp_path / "prod/2026/notes.json"
    stray.parent.mkdir(parents=True)
    stray.write_text('{"todo": "ask about 3.22"}\n')
    code, output = summarize_prod(db_path, tmp_path, "--today", "2026-11-06")
    assert (code, output) == (1, f"Error: {stray}: file name is not a date (YYYY-MM-DD.json)\n")


@pytest.mark.parametrize("kind", ["directory", "symlink"])
def test_a_folder_or_link_named_like_a_future_day_is_named(
    prod: Flask, db_path: Path, tmp_path: Path, kind: str
) -> None:
    """It once made summarize say "nothing to summarize" while every day was missing."""
    impostor = tmp_path / "s/prod/2030/2030-01-01.json"
    impostor.parent.mkdir(parents=True)
    if kind == "directory":
        impostor.mkdir()
    else:
        target = tmp_path / "elsewhere.json"
        target.write_text((GOLDEN / "prod/2026/2026-11-02.json").read_text())
        impostor.symlink_to(target)
    code, output = summarize_prod(db_path, tmp_path / "s", "--today", "2026-11-06")
    expected = "a symbolic link, not a summary file" if kind == "symlink" else "not a regular file"
    assert (code, output) == (1, f"Error: {impostor}: {expected}\n")


def strict_json(path: Path) -> object:
    """The JSON in ``path``, which must be valid for any JSON parser: no NaN or Infinity."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{path}: {name} is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


# -- versions a summary may hold -----------------------------------------------------------

LONG = "9" * 5000  # more digits than int() converts
ODD_VERSIONS = ["1²", "①", "\u0663.\u0661", "3.21.0", "3.21.0.dev", f"1.{LONG}", LONG, " "]


def test_odd_versions_never_stop_a_day_check_or_build(tmp_path: Path) -> None:
    """Versions older receivers let through: summarize, check-summaries and build all hold.
    Five systems run each, so that prod publishes every one (SPEC §8)."""
    day = date(2026, 11, 2)
    rows = {day: [submission(day, [("core", v)]) for v in ODD_VERSIONS for _ in range(5)]}
    with serving(export_app(rows, today=date(2026, 11, 3))) as url:
        code, output = from_source(url, tmp_path / "summaries")
    assert code == 0, output
    stored = json.loads((tmp_path / "summaries/prod/2026/2026-11-02.json").read_text())
    assert list(stored["xyz_component"]["core"]) == [
        "3.21.0.dev",  # PEP 440 versions first, in PEP 440 order
        "3.21.0",
        f"1.{LONG}",  # then the rest by runs of ASCII digits, compared as numbers
        "1²",
        LONG,
        " ",  # then text
        "\u0663.\u0661",  # Arabic-Indic digits: text, not numbers
        "①",
    ]
    result = CliRunner().invoke(main, ["check-summaries", str(tmp_path / "summaries")])
    assert result.exit_code == 0, result.output
    build_site(tmp_path / "summaries", "prod", tmp_path / "site")
    data = sorted((tmp_path / "site/data").rglob("*.json"))
    assert data
    for path in data:
        strict_json(path)
    assert load_all(tmp_path / "summaries", "prod")[0].metrics["xy_component"]["core"]["1²"] == 5


# Characters that look like digits, separators and text, mixed with anything at all.
LOOKALIKES = "0123456789.-+_ a²³¹①⑩\u0663\u0661\u0966\u0d67"  # digits of other scripts
tricky = st.one_of(st.sampled_from(LOOKALIKES), st.characters())


LOOKALIKE_NUMBERS = st.sampled_from(["nan", "NaN", "inf", "-inf", "1e3", "1_000", " 7", "-0"])


@pytest.mark.parametrize("order", [version_order, value_order])
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.text(tricky, max_size=12), LOOKALIKE_NUMBERS), max_size=12),
    st.randoms(),
)
def test_orders_are_total_on_any_text(
    order: Callable[[str], Any], versions: list[str], random: Random
) -> None:
    """Sorting never raises, and the result does not depend on the order things came in."""
    ordered = sorted(versions, key=order)
    shuffled = list(versions)
    random.shuffle(shuffled)
    assert sorted(shuffled, key=order) == ordered
    keys = [order(v) for v in ordered]
    assert all(a <= b for a, b in itertools.pairwise(keys))
