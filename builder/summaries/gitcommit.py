"""Committing new summary files with GitPython: one commit per run, only those files."""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import git

from builder.summaries.summary import Summary

FALLBACK_AUTHOR = ("pulp-analytics", "pulp-analytics@users.noreply.github.com")
EARLIER_RUN = " (written by an earlier run that stopped before committing)"


class CommitError(RuntimeError):
    """The files cannot be committed (not a git repository, a broken index)."""


def commit_message(
    deployment: str, summaries: list[Summary], earlier: Collection[date] = ()
) -> str:
    """A subject naming the days, and one body line per day with its system counts.

    Days in ``earlier`` were written by a run that stopped before committing them.
    """
    summaries = sorted(summaries, key=lambda s: s.date)
    first, last = summaries[0].date, summaries[-1].date
    span = f"{first}" if first == last else f"{first}..{last} ({len(summaries)} days)"
    lines = [f"summaries({deployment}): {span}", ""]
    lines += [
        f"{s.date}: {s.systems} systems, {s.persistent_systems} persistent"
        + (EARLIER_RUN if s.date in earlier else "")
        for s in summaries
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Uncommitted:
    """Summary files of a deployment whose state on disk git has not recorded.

    A deleted summary is not listed: deleting a day's file (``git rm``) is how a day is
    summarized again, and the run that writes it anew commits it.
    """

    new: list[Path] = field(default_factory=list)  # untracked, or staged but never committed
    changed: list[Path] = field(default_factory=list)  # committed, then edited


def uncommitted_summaries(root: Path, deployment: str) -> Uncommitted:
    """What ``git status`` reports for the deployment's summary files (``YYYY/*.json``)."""
    base = (root / deployment).resolve()
    try:
        repo = git.Repo(root if root.exists() else root.parent, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise CommitError(f"{root} is not inside a git repository") from None
    out = Uncommitted()
    if not base.is_dir():
        return out
    top = Path(repo.working_tree_dir or ".").resolve()
    try:
        status = repo.git.status(
            "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--", str(base)
        )
    except git.GitCommandError as exc:
        raise CommitError(f"git status failed: {(exc.stderr or str(exc)).strip()}") from None
    for entry in filter(None, status.split("\0")):
        code, path = entry[:2], top / entry[3:]
        if path.suffix != ".json" or path.parent.parent != base or "D" in code:
            continue
        named = root / deployment / path.parent.name / path.name  # as the caller spells it
        (out.new if code == "??" or code[0] == "A" else out.changed).append(named)
    return out


def head_revision(path: Path) -> str:
    """The commit checked out where ``path`` lives, or "unknown" outside a git work tree."""
    try:
        return str(git.Repo(path, search_parent_directories=True).head.commit.hexsha)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return "unknown"  # ValueError: a repository without commits


def commit_files(paths: list[Path], message: str) -> str | None:
    """Commit exactly ``paths`` (whatever else is staged stays staged); return the new sha.

    None when the files are already committed as they are (a day removed and summarized again
    from the same data): there is nothing to commit.
    """
    try:
        repo = git.Repo(paths[0].parent, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise CommitError(f"{paths[0].parent} is not inside a git repository") from None
    top = Path(repo.working_tree_dir or ".").resolve()
    relative = [str(p.resolve().relative_to(top)) for p in paths]
    try:
        repo.index.add(relative)
        repo.index.write()
        # Against HEAD, or an empty tree while the branch has no commit yet.
        if not repo.git.diff("--cached", "--name-only", "--", *relative):
            return None
        with repo.git.custom_environment(**_identity_env(repo)):
            repo.git.commit("--quiet", "--only", "--message", message, "--", *relative)
    except git.GitCommandError as exc:
        raise CommitError(f"git commit failed: {exc.stderr.strip() or exc}") from None
    return str(repo.head.commit.hexsha)


def _identity_env(repo: git.Repo) -> dict[str, str]:
    """An identity for a machine whose git has no user configured (a fresh CI runner)."""
    if os.environ.get("GIT_COMMITTER_NAME") and os.environ.get("GIT_COMMITTER_EMAIL"):
        return {}
    reader = repo.config_reader()
    if reader.has_option("user", "name") and reader.has_option("user", "email"):
        return {}
    name, email = FALLBACK_AUTHOR
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def push_branch(path: Path, branch: str, remote: str = "origin", attempts: int = 3) -> str:
    """Push ``branch`` if it has commits the remote lacks; after a rejection, rebase and retry.

    Returns what happened, in words. A rebase conflict (someone else committed the same day's
    file) aborts the rebase and raises CommitError: nothing is forced.
    """
    try:
        repo = git.Repo(path, search_parent_directories=True)
        upstream = repo.remotes[remote]
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise CommitError(f"{path} is not inside a git repository") from None
    except IndexError:
        raise CommitError(f"the repository has no remote named {remote!r}") from None
    tracking = f"{remote}/{branch}"
    try:
        upstream.fetch(branch)
        if not list(repo.iter_commits(f"{tracking}..{branch}")):
            return f"nothing to push: {branch} has no commits that {tracking} lacks"
        for attempt in range(1, attempts + 1):
            try:
                repo.git.push(remote, f"{branch}:{branch}")
                return f"pushed {branch} to {remote}" + (
                    f" after {attempt - 1} rebase(s)" if attempt > 1 else ""
                )
            except git.GitCommandError:
                upstream.fetch(branch)
                _rebase(repo, tracking)
    except git.GitCommandError as exc:
        raise CommitError(f"git failed: {(exc.stderr or str(exc)).strip()}") from None
    raise CommitError(f"{remote} rejected {branch} {attempts} times; giving up")


def _rebase(repo: git.Repo, onto: str) -> None:
    try:
        with repo.git.custom_environment(**_identity_env(repo)):
            repo.git.rebase(onto)
    except git.GitCommandError:
        repo.git.rebase("--abort")
        raise CommitError(
            f"rebasing onto {onto} conflicts; someone else changed the same "
            "summary files. Nothing was pushed."
        ) from None
