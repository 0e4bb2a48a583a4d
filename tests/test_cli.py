"""The installed console script: user mistakes are one line on stderr and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "pulp-analytics")


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["prune", "--today", "2026-02-30"],
        ["prune", "--db", "/nonexistent/x.sqlite3"],
        ["summarize", "--db", "/nonexistent/x.sqlite3"],
        ["summarize", "--db", "a", "--source", "http://127.0.0.1:9/"],
        ["summarize", "--source", "http://127.0.0.1:9/"],
        ["summarize", "--persistent-min-age-days", "-1"],
        ["build", "--deployment", "staging"],
        ["simulate", "--url", "ftp://example.org/"],
        ["push", "--branch", "main", "--repo", "/"],
        ["serve", "--port", "70000"],
    ],
)
def test_errors_are_one_line(args: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [CLI, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.stdout + result.stderr


def test_help_lists_every_command() -> None:
    result = subprocess.run([CLI, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in (
        "serve",
        "summarize",
        "prune",
        "build",
        "demo",
        "simulate",
        "push",
        "check-summaries",
    ):
        assert command in result.stdout
