"""Real storage faults for tests: files the kernel refuses to change.

``chattr +i`` makes a file immutable even for root (for whom ``chmod 444`` changes nothing), so
the receiver meets the same errors as on a read-only or failing disk. Never apply it to a
database's ``-shm`` file: SQLite maps that file into memory, and a write to an immutable
mapping kills the process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def chattr(flag: str, paths: tuple[Path, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["chattr", flag, *map(str, paths)], capture_output=True, text=True, check=False
    )


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """The files cannot be written, renamed or deleted until the block ends.

    Only root can do this: under another user the test is skipped, but as root (``.ci/run``)
    a failure is the test's, so that a missing tool never passes for a skipped test.
    """
    if not shutil.which("chattr"):
        unavailable("chattr is not installed (Debian's e2fsprogs)")
    result = chattr("+i", paths)
    if result.returncode != 0:
        chattr("-i", paths)
        unavailable(f"cannot make files immutable here (needs root and ext4): {result.stderr}")
    try:
        yield
    finally:
        chattr("-i", paths)


def unavailable(reason: str) -> None:
    if os.geteuid() == 0:
        pytest.fail(reason)
    pytest.skip(reason)


def wal(db: Path) -> Path:
    """The database's write-ahead log, where WAL mode writes first."""
    return db.with_name(db.name + "-wal")
