"""Running ``pulp-analytics serve`` as a child process: for the demo, the rehearsal, the
benchmarks and the tests, which all need a real receiver on loopback."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

CLI = str(Path(sys.executable).parent / "pulp-analytics")
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends


class ReceiverError(RuntimeError):
    """The receiver could not be started; the message says where to look."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with _socket_for(host, 0) as (sock, address):
        sock.bind(address)
        return int(sock.getsockname()[1])


def check_port_free(host: str, port: int) -> None:
    """Raise unless a server could listen on ``host``:``port`` now.

    The check binds with ``SO_REUSEADDR``, as gunicorn does, so a port that only holds
    connections closing in TIME_WAIT (a server stopped a moment ago) counts as free, while a
    port that something listens on does not.
    """
    with _socket_for(host, port) as (sock, address):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ReceiverError(
                    f"port {port} on {host} is in use by another program; stop it or pick"
                    " another port with --port"
                ) from None
            raise ReceiverError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


@contextmanager
def _socket_for(host: str, port: int) -> Iterator[tuple[socket.socket, Any]]:
    """A TCP socket of the right family for ``host``, with the address to bind."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ReceiverError(f"cannot listen on {host}: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as sock:
        yield sock, address


def start(
    db: Path | str,
    port: int,
    *,
    host: str = "127.0.0.1",
    deployment: str | None = None,
    workers: int | None = None,
    env: Mapping[str, str] | None = None,
    log: IO[bytes] | int | None = subprocess.DEVNULL,
    stop_with_parent: bool = False,
) -> subprocess.Popen[bytes]:
    """Start a receiver in its own process group (so ``stop`` ends gunicorn's workers too).

    ``db`` is a SQLite file, or a PostgreSQL URL, which goes in the environment rather than on
    the command line, where every user of the host could read its password.
    ``stop_with_parent``: on Linux, the receiver gets SIGTERM when this process ends, even
    killed with SIGKILL (which leaves no chance to stop it), so that no receiver keeps the
    port of a demo that was killed. Only for a process that starts receivers from its main
    thread and has no other (the signal comes when the starting thread ends).
    """
    command = [CLI, "serve", "--host", host, "--port", str(port)]
    if isinstance(db, str) and "://" in db:
        env = {**(env or {}), "ANALYTICS_DATABASE": db}
    else:
        command += ["--db", str(db)]
    if deployment:
        command += ["--deployment", deployment]
    if workers:
        command += ["--workers", str(workers)]
    return subprocess.Popen(
        command, env={**os.environ, **(env or {})}, stdout=log, stderr=log,
        start_new_session=True, preexec_fn=_ending_with(os.getpid()) if stop_with_parent else None,
    )  # fmt: skip


def _ending_with(parent: int) -> Callable[[], None] | None:
    """What the child runs before exec so that it gets SIGTERM once ``parent`` ends (Linux
    only: None elsewhere). libc is looked up here, before the fork."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # it ended before prctl: nobody will signal
            os.kill(os.getpid(), signal.SIGTERM)

    return in_child


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
    """Stop the receiver and its workers (SIGKILL if ``sig`` is not enough in 15 s)."""
    stop_all([process], sig)


def stop_all(processes: Iterable[subprocess.Popen[bytes]], sig: int = signal.SIGTERM) -> None:
    """Stop receivers and their workers, all at once; SIGKILL what is left after 15 s.

    Each receiver runs in its own process group (see ``start``), so the signal reaches its
    workers too, even those of a receiver that already died; a worker left behind by its
    arbiter is killed with the group. The signal is repeated every second: a worker still
    booting when it first arrives has no handler for it yet, and would otherwise keep the
    server up until gunicorn's graceful timeout ran out.
    """
    processes = list(processes)
    deadline = time.monotonic() + 15
    running = processes
    while running and time.monotonic() < deadline:
        for process in running:
            _signal_group(process, sig)
        step = time.monotonic() + 1
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, step - time.monotonic()))
        running = [p for p in running if p.poll() is None]
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()
        _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is empty: all of it has exited
        os.killpg(process.pid, sig)
