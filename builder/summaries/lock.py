"""One ``summarize`` or ``import-legacy`` run at a time per summaries checkout.

Two runs writing and committing into one checkout interleave: one commits files the other
wrote, or neither commits some. An exclusive ``flock`` on a file that git never tracks keeps
them apart. The kernel drops the lock when its holder exits, even when killed, so a stale
lock cannot outlive its run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import git

LOCK_NAME = "pulp-analytics-summarize.lock"


class LockError(RuntimeError):
    """Another run holds the checkout's lock; the message names it."""


def lock_path(root: Path) -> Path:
    """Where the lock of the checkout holding ``root`` lives.

    Inside a git work tree: that work tree's own git directory (each linked worktree has its
    own index, so its own lock). Elsewhere: a hidden file in ``root``, created if need be.
    """
    existing = root.absolute()
    while not existing.exists():
        existing = existing.parent
    try:
        repo = git.Repo(existing, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        root.mkdir(parents=True, exist_ok=True)
        return root / f".{LOCK_NAME}"
    return Path(repo.git_dir) / LOCK_NAME


@contextlib.contextmanager
def checkout_lock(root: Path) -> Iterator[Path]:
    """Hold the checkout's lock for the ``with`` block; LockError at once if another run has it."""
    path = lock_path(root)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise LockError(
                f"another run (pid {holder}) is writing summaries in this checkout (lock:"
                f" {path}); wait for it to end, then re-run"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the last descriptor releases the lock
