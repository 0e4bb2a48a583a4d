"""``summarize --commit`` in a real git checkout: one run at a time, and nothing a stopped run
wrote is left out of git."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import git
import pytest

from builder.summaries.lock import LOCK_NAME, checkout_lock
from tests.conftest import TOKEN, serving
from tests.exports import export_app, submission
from tests.test_summarize import cli

CLI = str(Path(sys.executable).parent / "pulp-analytics")
DAYS = [date(2026, 11, 2) + timedelta(days=n) for n in range(8)]  # 2026-11-02..2026-11-09
ROWS = {
    day: [submission(day, [("core", "3.21.0")]) for _ in range(n % 3 + 1)]
    for n, day in enumerate(DAYS)
}
BLOCKED = date(2026, 11, 6)  # the run stops while fetching this day
WRITTEN_BEFORE = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]


@dataclass
class Gate:
    """Holds every request for the blocked day until opened; tells when one arrived."""

    reached: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def gated() -> Iterator[tuple[str, Gate]]:
    """An export of DAYS whose day BLOCKED does not answer until the gate opens."""
    export = export_app(ROWS, today=date(2026, 11, 10))
    gate = Gate()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == f"/export/{BLOCKED}.jsonl" and not gate.opened.is_set():
            gate.reached.set()
            gate.opened.wait(timeout=60)
        return export(environ, start_response)

    with serving(app) as url:
        try:
            yield url, gate
        finally:
            gate.opened.set()


@pytest.fixture
def checkout(tmp_path: Path) -> git.Repo:
    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    (tmp_path / "repo/README").write_text("x\n")
    repo.index.add(["README"])
    repo.index.commit("start")
    return repo


def summaries_of(repo: git.Repo) -> Path:
    return Path(repo.working_tree_dir or ".") / "summaries"


def start(url: str, repo: git.Repo, **env: str) -> subprocess.Popen[str]:
    """``summarize --commit`` as a process of its own, as cron or a workflow would run it."""
    return subprocess.Popen(
        [CLI, "summarize", "--source", url, "--summaries", str(summaries_of(repo)), "--commit"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ANALYTICS_EXPORT_TOKEN": TOKEN, **env},
    )


def run(url: str, repo: git.Repo, *args: str) -> tuple[int, str]:
    return cli(
        "summarize",
        "--source",
        url,
        "--summaries",
        str(summaries_of(repo)),
        "--commit",
        *args,
        env={"ANALYTICS_EXPORT_TOKEN": TOKEN},
    )


def committed_days(repo: git.Repo) -> list[str]:
    """Every summary file in HEAD, by day."""
    tree = repo.head.commit.tree
    return sorted(Path(b.path).stem for b in tree.traverse() if b.path.endswith(".json"))  # type: ignore[union-attr]


def on_disk(repo: git.Repo) -> list[str]:
    return sorted(p.stem for p in summaries_of(repo).rglob("*.json"))


def wait(gate: Gate, process: subprocess.Popen[str]) -> None:
    if not gate.reached.wait(timeout=60):
        process.kill()
        pytest.fail(f"the run never fetched {BLOCKED}: {process.communicate()}")


def test_a_second_run_is_refused_while_the_first_works(
    gated: tuple[str, Gate], checkout: git.Repo
) -> None:
    url, gate = gated
    first = start(url, checkout)
    wait(gate, first)  # the first run has written four days and holds the lock
    second = subprocess.run(
        [CLI, "summarize", "--source", url, "--summaries", str(summaries_of(checkout)), "--commit"],
        capture_output=True,
        text=True,
        env={**os.environ, "ANALYTICS_EXPORT_TOKEN": TOKEN},
        timeout=60,
    )
    lock = Path(checkout.git_dir) / LOCK_NAME
    assert second.returncode == 1
    assert second.stderr == (
        f"Error: another run (pid {first.pid}) is writing summaries in this checkout (lock:"
        f" {lock}); wait for it to end, then re-run\n"
    )
    assert len(list(checkout.iter_commits())) == 1
    gate.opened.set()
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert out.splitlines()[-1] == f"fetched 2026-11-02..2026-11-09 (8 days) from {url.rstrip('/')}"
    assert len(list(checkout.iter_commits())) == 2
    assert committed_days(checkout) == on_disk(checkout) == [d.isoformat() for d in DAYS]
    assert not checkout.is_dirty(untracked_files=True)  # the lock file is not in the tree


def test_a_run_killed_between_writing_and_committing_is_completed_by_the_next(
    gated: tuple[str, Gate], checkout: git.Repo, tmp_path: Path
) -> None:
    url, gate = gated
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    killed = start(url, checkout, TMPDIR=str(scratch))
    wait(gate, killed)
    killed.kill()
    killed.communicate(timeout=60)
    assert on_disk(checkout) == WRITTEN_BEFORE
    assert committed_days(checkout) == []
    assert list(scratch.iterdir()) == []  # the fetched days leave no temporary file behind
    gate.opened.set()

    code, output = run(url, checkout)
    assert code == 0, output
    sha = checkout.head.commit.hexsha[:12]
    assert output.splitlines()[-2:] == [
        f"committed 8 summaries as {sha}, with 2026-11-02..2026-11-05 (4 days) that an earlier"
        " run wrote but did not commit",
        f"fetched 2026-11-06..2026-11-09 (4 days) from {url.rstrip('/')}",
    ]
    assert committed_days(checkout) == on_disk(checkout) == [d.isoformat() for d in DAYS]
    assert not checkout.is_dirty(untracked_files=True)
    message = checkout.head.commit.message
    assert message.startswith("summaries(prod): 2026-11-02..2026-11-09 (8 days)\n")
    assert "2026-11-02: 1 systems, 1 persistent (written by an earlier run that stopped" in message
    assert "2026-11-06: 2 systems, 2 persistent\n" in message


def test_an_uncommitted_file_that_is_not_valid_is_named_and_nothing_is_written(
    checkout: git.Repo,
) -> None:
    with serving(export_app(ROWS, today=date(2026, 11, 10))) as url:
        code, _ = cli(
            "summarize",
            "--source",
            url,
            "--summaries",
            str(summaries_of(checkout)),
            "--today",
            "2026-11-04",
            env={"ANALYTICS_EXPORT_TOKEN": TOKEN},
        )  # no --commit: as if the run stopped before committing
        assert code == 0
        left = summaries_of(checkout) / "prod/2026/2026-11-03.json"
        left.write_text(left.read_text()[:40])  # cut short, as on a full disk
        code, output = run(url, checkout)
    assert code == 1
    assert output.startswith(f"Error: {left}: cannot read summary (")
    assert output.endswith(
        ": an uncommitted summary file that is not valid; remove it, then re-run\n"
    )
    assert on_disk(checkout) == ["2026-11-02", "2026-11-03"]
    assert len(list(checkout.iter_commits())) == 1


def test_an_edited_committed_summary_is_named(checkout: git.Repo) -> None:
    with serving(export_app(ROWS, today=date(2026, 11, 10))) as url:
        assert run(url, checkout)[0] == 0
        edited = summaries_of(checkout) / "prod/2026/2026-11-04.json"
        edited.write_text(edited.read_text().replace('"systems": 3', '"systems": 30'))
        code, output = run(url, checkout)
    assert (code, output) == (
        1,
        f"Error: committed summary files were edited without a commit: {edited}; restore them"
        " (git restore; summaries are never rewritten) or commit the edit, then re-run\n",
    )


def test_a_day_removed_with_git_rm_is_summarized_again_and_committed(checkout: git.Repo) -> None:
    """The way the README re-runs a day, say after a receiver bug was fixed."""
    rows = dict(ROWS)
    again = ("--since", "2026-11-04", "--today", "2026-11-05")
    with serving(export_app(rows, today=date(2026, 11, 10))) as url:
        assert run(url, checkout)[0] == 0
        checkout.index.remove(["summaries/prod/2026/2026-11-04.json"], working_tree=True)
        code, output = run(url, checkout, *again)  # the same data gives the same bytes
        assert (code, output.splitlines()[-2]) == (
            0,
            "nothing to commit: 1 summaries are as git already has them",
        )
        checkout.index.remove(["summaries/prod/2026/2026-11-04.json"], working_tree=True)
        rows[date(2026, 11, 4)] = rows[date(2026, 11, 4)] + [rows[date(2026, 11, 4)][0]]
        code, output = run(url, checkout, *again)
    assert code == 0, output
    assert output.splitlines()[-1] == f"fetched 2026-11-04 from {url.rstrip('/')}"
    assert committed_days(checkout) == on_disk(checkout) == [d.isoformat() for d in DAYS]
    assert not checkout.is_dirty(untracked_files=True)
    assert checkout.head.commit.message.startswith("summaries(prod): 2026-11-04\n")
    assert list(checkout.head.commit.stats.files) == ["summaries/prod/2026/2026-11-04.json"]


def test_the_first_run_commits_into_a_repository_without_commits(tmp_path: Path) -> None:
    """A new summaries repository: the first commit is the run's own."""
    repo = git.Repo.init(tmp_path / "new", initial_branch="main")
    with serving(export_app(ROWS, today=date(2026, 11, 10))) as url:
        code, output = run(url, repo)
    assert code == 0, output
    assert committed_days(repo) == on_disk(repo) == [d.isoformat() for d in DAYS]
    assert not repo.is_dirty(untracked_files=True)


def test_a_temporary_file_a_killed_write_left_is_removed(checkout: git.Repo) -> None:
    stale = summaries_of(checkout) / "prod/2026/.2026-11-02.json.k3x9_a.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_text('{"schema_version": 1, "da')
    with serving(export_app(ROWS, today=date(2026, 11, 10))) as url:
        code, output = run(url, checkout)
    assert code == 0, output
    assert not stale.exists()
    assert not checkout.is_dirty(untracked_files=True)


def test_the_lock_is_per_checkout_and_outside_git_a_hidden_file(
    checkout: git.Repo, tmp_path: Path
) -> None:
    with checkout_lock(summaries_of(checkout)) as held:
        assert held == Path(checkout.git_dir) / LOCK_NAME
        with serving(export_app(ROWS, today=date(2026, 11, 10))) as url:
            code, output = run(url, checkout)
        assert code == 1
        assert f"another run (pid {os.getpid()})" in output
        with checkout_lock(tmp_path / "plain/summaries") as other:  # another checkout: free
            assert other == tmp_path / "plain/summaries" / f".{LOCK_NAME}"
    assert not summaries_of(checkout).exists()  # the refused run wrote nothing
