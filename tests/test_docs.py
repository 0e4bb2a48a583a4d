"""The documentation covers what exists: every command, option, setting and make target."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from builder.cli import main
from builder.clidoc import render
from receiver.config import KEYS
from receiver.contract import RANGES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_command_reference_is_current() -> None:
    assert (ROOT / "docs" / "cli.md").read_text() == render(), "stale docs/cli.md: run make docs"


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help_and_is_in_the_readme(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"], prog_name="pulp-analytics")
    assert result.exit_code == 0
    assert f"pulp-analytics {command}" in result.output
    assert f"`{command}`" in README or f"pulp-analytics {command}" in README


def test_every_setting_is_documented() -> None:
    for key in KEYS:
        assert f"`ANALYTICS_{key}`" in README, key


def test_every_make_command_in_the_readme_exists() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    mentioned = set(re.findall(r"make ([a-z][a-z-]*)", README))
    assert mentioned and mentioned <= targets, mentioned - targets
    assert {"demo", "test"} <= mentioned


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert script.rstrip().endswith("make test")


def test_the_readme_gives_the_receivers_number_ranges() -> None:
    """The table of plausible ranges a report is checked against, as the receiver has it."""
    listed = {}
    for fields, low, high in re.findall(
        r"^\| (`[a-z_.]+`.*?) \| ([0-9,]+)\u2013([0-9,]+) \|$", README, re.M
    ):
        for name in re.findall(r"`([a-z_]+(?:\.[a-z_]+)?)`", fields.split(" (")[0]):
            listed[name] = (int(low.replace(",", "")), int(high.replace(",", "")))
    assert listed == RANGES
