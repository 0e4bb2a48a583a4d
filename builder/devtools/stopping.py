"""Stopping the demo the same way on Ctrl-C, ``kill`` (SIGTERM) and a closed terminal (SIGHUP).

:class:`StopSignals` turns each of them into a :class:`Stopped` exception in the main thread,
so the ``finally`` that stops the receivers and removes the temporary folder always runs; a
signal that arrives while a receiver is being started waits until it is tracked, and one that
arrives during the clean-up is ignored. :class:`Console` keeps the clean-up going when the
terminal it writes to is gone.
"""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TextIO

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(Exception):
    """A stop signal arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        """What a shell reports for a command ended by this signal: 128 + its number."""
        return 128 + self.signum


class StopSignals:
    """While entered, SIGINT, SIGTERM and SIGHUP raise :class:`Stopped` in the main thread."""

    def __init__(self) -> None:
        self.deferring = 0
        self.pending: int | None = None
        self.ignoring = False
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        for signum in STOP_SIGNALS:
            self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.ignoring:
            return
        if self.deferring:
            self.pending = self.pending or signum
            return
        raise Stopped(signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold a stop signal until the block is over (say, until a child is tracked)."""
        self.deferring += 1
        try:
            yield
        finally:
            self.deferring -= 1
        if self.pending and not self.deferring and not self.ignoring:
            raise Stopped(self.pending)

    def ignore(self) -> None:
        """From now on stop signals change nothing: the clean-up has begun."""
        self.ignoring = True


class Console(io.TextIOBase):
    """A text stream that goes quiet instead of failing once its terminal is gone.

    After a write fails (the terminal was closed, the reading end of a pipe exited), the
    stream's file descriptor is pointed at /dev/null, so later writes, and Python's own
    flush at exit, succeed without a sound.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self.stream.write(text)
            except OSError:
                self._silence()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except OSError:
                self._silence()

    def isatty(self) -> bool:
        return not self.gone and self.stream.isatty()

    def _silence(self) -> None:
        self.gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self.stream.fileno())
        except (OSError, ValueError):  # not backed by a file descriptor: nothing to flush there
            pass
        finally:
            os.close(devnull)
