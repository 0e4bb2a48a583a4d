"""Whatever names and versions the receiver accepts, summarize, check-summaries and build hold:
no crash, and every chart data file is JSON any parser reads."""

from __future__ import annotations

import tempfile
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.cli import main
from builder.site.pages import build_site
from receiver import create_app
from tests import wire
from tests.conftest import Clock
from tests.test_summarize_guards import strict_json

pytestmark = pytest.mark.slow

DAYS = (date(2026, 11, 2), date(2026, 11, 3))
# What the receiver lets through: names [a-z0-9_]{1,64}; versions printable ASCII without ';'.
name = st.from_regex(r"[a-z0-9_]{1,64}", fullmatch=True)
version = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters=";"),
    min_size=1,
    max_size=64,
)
small = st.one_of(st.none(), st.integers(0, 64))
pair = st.one_of(st.none(), st.fixed_dictionaries({"processes": small, "hosts": small}))
report = st.fixed_dictionaries(
    {
        "components": st.lists(st.tuples(name, version), max_size=6, unique_by=lambda c: c[0]),
        "workers": pair,
        "content_apps": pair,
        "postgresql_version": st.sampled_from([None, 0, 90624, 130004, 160002]),
        "rbac": st.one_of(st.none(), st.fixed_dictionaries({k: small for k in wire.RBAC})),
        "days": st.sampled_from([DAYS[:1], DAYS[1:], DAYS]),
    }
)


def receive(db: Path, reports: list[dict[str, Any]]) -> None:
    """Post each report on its days to a dev receiver (which keeps development versions)."""
    clock = Clock(datetime(2026, 11, 2, tzinfo=UTC))
    client = create_app(
        {"DATABASE": db, "DEPLOYMENT": "dev", "CLOCK": clock, "EXPORT_TOKEN": "t"}
    ).test_client()
    for day in DAYS:
        clock.set_day(day)
        for system, sent in enumerate(reports):
            if day in sent["days"]:
                body = wire.analytics(
                    str(uuid.UUID(int=system + 1)),
                    sent["components"],
                    workers=sent["workers"],
                    content_apps=sent["content_apps"],
                    postgresql_version=sent["postgresql_version"],
                    rbac=sent["rbac"],
                )
                answer = client.post("/", data=body)
                assert answer.json == {"status": "accepted"}, answer.json


def command(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(report, min_size=1, max_size=6))
def test_any_accepted_reports_summarize_check_and_build(reports: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory(prefix="pipeline-") as folder:
        work = Path(folder)
        receive(work / "a.sqlite3", reports)
        summaries = work / "summaries"
        command(
            "summarize",
            "--db",
            str(work / "a.sqlite3"),
            "--summaries",
            str(summaries),
            "--deployment",
            "dev",
            "--today",
            "2026-11-04",
        )
        command("check-summaries", str(summaries))
        build_site(summaries, "dev", work / "site")
        data = sorted((work / "site/data").rglob("*.json"))
        assert data, "the site has no chart data"
        for path in data:
            strict_json(path)
