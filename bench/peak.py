"""Run a command and report its wall time and peak resident memory as JSON.

    python -m bench.peak [--lines FILE] COMMAND [ARG...]

Linux carries a process's peak RSS across fork and exec, so a command started straight from a
big benchmark process would report that process's memory. This launcher is a small, fresh
process, so the figure it reports is the command's own.

With ``--lines FILE``, each line the command prints goes to FILE as JSON with the moment it
arrived (``time.monotonic()``, the same clock in every process on the machine), so that a
benchmark can tell when each step of the command ended; without it, the output is dropped.

Benchmarks call :func:`measure`, which runs a command under this launcher.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def measure(
    command: list[str], env: Mapping[str, str] | None = None, lines: Path | None = None
) -> dict[str, Any]:
    """``command`` under this launcher: its exit code, wall time, CPU and peak resident memory
    (and, with ``lines``, its timed output lines in that file). SystemExit when it fails."""
    launcher = [sys.executable, "-m", "bench.peak", *(["--lines", str(lines)] if lines else [])]
    result = subprocess.run(
        [*launcher, *command], env={**os.environ, **(env or {})},
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    figures: dict[str, Any] = json.loads(result.stdout)
    if figures["exit_code"]:
        output = (lines.read_text() if lines else "") + result.stderr
        name = Path(command[0]).name + (f" {command[1]}" if len(command) > 1 else "")
        raise SystemExit(f"{name} failed ({figures['exit_code']}): {output[-2000:]}")
    return figures


def main() -> None:
    command, lines = sys.argv[1:], None
    if command[:1] == ["--lines"]:
        lines, command = command[1], command[2:]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE if lines else subprocess.DEVNULL)
    if lines is not None and child.stdout is not None:
        with open(lines, "w", encoding="utf-8") as out:
            for line in child.stdout:
                text = line.decode("utf-8", "replace").rstrip("\n")
                out.write(json.dumps({"t": time.monotonic(), "line": text}) + "\n")
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "exit_code": os.waitstatus_to_exitcode(status),
                "seconds": round(elapsed, 3),
                "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
                "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
