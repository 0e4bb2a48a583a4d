"""A throwaway PostgreSQL server, for the tests and the benchmarks.

It is Debian's ``postgresql`` package (``make system-packages``) run by hand: ``initdb`` on a
temporary folder and ``pg_ctl`` on a free loopback port, with a password, so that URLs carry
one as they do in production. The package's own cluster is neither used nor needed. initdb
refuses to run as root, so under root (CI) the server runs as the ``postgres`` system user the
package creates, in a folder that user owns; otherwise as the current user.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from builder.devtools.receivers import free_port

PACKAGE_BINARIES = Path("/usr/lib/postgresql")
USER = "analytics"  # the server's superuser, whose password the URLs carry
SERVER_USER = "postgres"  # who runs the server when we are root


class ServerError(RuntimeError):
    """The server could not be set up; the message says what is missing."""


def binaries() -> Path:
    """The newest installed version's ``bin`` folder (``/usr/lib/postgresql/<version>/bin``)."""
    found = []
    for initdb in PACKAGE_BINARIES.glob("*/bin/initdb"):
        version = initdb.parent.parent.name
        if re.fullmatch(r"\d+(\.\d+)?", version):
            found.append((tuple(int(part) for part in version.split(".")), initdb.parent))
    if not found:
        raise ServerError(
            f"no PostgreSQL server binaries under {PACKAGE_BINARIES}: install Debian's"
            " postgresql package (make system-packages, as root)"
        )
    return max(found)[1]


class Server:
    """A PostgreSQL server of its own on 127.0.0.1, in a temporary folder, until ``remove``."""

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        self.bin = binaries()
        self.version = self.bin.parent.name
        self.port = free_port()
        self.password = f"pw-{secrets.token_hex(12)}"
        self.settings = dict(settings or {})
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="pulp-analytics-postgresql-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if self.as_root:
            try:
                owner = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise ServerError(
                    f"running as root, but there is no {SERVER_USER} user to run PostgreSQL"
                    " (Debian's postgresql package creates it)"
                ) from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._initdb()

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A server command, as the postgres user when we are root."""
        prefix = ["runuser", "-u", SERVER_USER, "--"] if self.as_root else []
        result = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=120, check=False
        )
        if check and result.returncode != 0:
            raise ServerError(f"{Path(command[0]).name} failed: {result.stderr.strip()}")
        return result

    def _initdb(self) -> None:
        password_file = self.root / "password"
        self._write_as_owner(password_file, self.password + "\n")
        try:
            self._run(
                str(self.bin / "initdb"), "--pgdata", str(self.data), "--username", USER,
                "--pwfile", str(password_file), "--auth", "scram-sha-256",
                "--encoding", "UTF8", "--no-locale", "--no-instructions",
            )  # fmt: skip
        finally:
            password_file.unlink(missing_ok=True)

    def _write_as_owner(self, path: Path, text: str) -> None:
        """Write a file the server user can read (ours when not root)."""
        path.write_text(text)
        path.chmod(0o600)
        if self.as_root:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def options(self) -> str:
        """The server's command-line settings: this port on loopback only, its socket in its
        folder, and the settings given."""
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            **self.settings,
        }
        return " ".join(f"-c {name}={value}" for name, value in settings.items())

    def start(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "start", "--wait", "--timeout", "60",
            "--pgdata", str(self.data), "--log", str(self.log), "-o", self.options(),
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: its sessions are ended; ``immediate``: no checkpoint)."""
        self._run(
            str(self.bin / "pg_ctl"), "stop", "--wait", "--timeout", "60",
            "--pgdata", str(self.data), "--mode", mode,
        )  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def pids(self) -> list[int]:
        """The server's processes: the postmaster and every process it started."""
        pid_file = self.data / "postmaster.pid"
        try:
            postmaster = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children")
        try:
            return [postmaster, *map(int, children.read_text().split())]
        except OSError:
            return [postmaster]

    def remove(self) -> None:
        """Stop the server at once and delete its folder."""
        if (self.data / "postmaster.pid").exists():
            self._run(
                str(self.bin / "pg_ctl"), "stop", "--wait", "--mode", "immediate",
                "--pgdata", str(self.data), check=False,
            )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)
