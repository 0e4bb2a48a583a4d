"""Running ``pulp-analytics serve`` as a child process: for the demo, the rehearsal, the
benchmarks and the tests, which all need a real receiver on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO

CLI = str(Path(sys.executable).parent / "pulp-analytics")


class ReceiverError(RuntimeError):
    """The receiver could not be started; the message says where to look."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_port_free(host: str, port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise ReceiverError(f"port {port} is in use; pick another with --port") from None


def start(
    db: Path,
    port: int,
    *,
    host: str = "127.0.0.1",
    deployment: str | None = None,
    workers: int | None = None,
    env: Mapping[str, str] | None = None,
    log: IO[bytes] | int | None = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start a receiver in its own process group (so ``stop`` ends gunicorn's workers too)."""
    command = [CLI, "serve", "--host", host, "--port", str(port), "--db", str(db)]
    if deployment:
        command += ["--deployment", deployment]
    if workers:
        command += ["--workers", str(workers)]
    return subprocess.Popen(
        command, env={**os.environ, **(env or {})}, stdout=log, stderr=log,
        start_new_session=True,
    )  # fmt: skip


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Return once ``url``/healthz answers 200; raise if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ReceiverError(f"the receiver exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise ReceiverError(f"the receiver did not answer within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop the receiver and its workers (SIGKILL if ``sig`` is not enough in 15 s).

    The signal is repeated every second: a worker still booting when it first arrives has no
    handler for it yet, and would otherwise keep the server up until gunicorn's graceful
    timeout ran out.
    """
    deadline = time.monotonic() + 15
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=1)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
