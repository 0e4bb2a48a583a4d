"""Run ``pip install`` showing what it installs, on a few lines instead of pip's whole log.

``make demo`` on a fresh clone spends about half a minute in pip: ``--quiet`` shows nothing
for that long, pip's normal output is a few hundred lines. This prints the name of each
package as pip collects it, wrapped to the terminal's width, then how many were installed
and how long it took. When pip fails, its whole output follows and the exit status is pip's.
Only the standard library is used: it runs before anything is installed.

Usage: python scripts/pip_progress.py "What is installed" PIP-INSTALL-ARGUMENTS...
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

# "Collecting flask>=3.1 (from ...)", or "Processing /wheels/flask-3.1.3-py3-none-any.whl" for a
# package found in a local folder or index
NAME = re.compile(r"^(?:Collecting ([A-Za-z0-9._-]+)|Processing \S*/([A-Za-z0-9._]+?)-\d)")
INSTALLING = "Installing collected packages: "


class Wrapped:
    """Words written one by one, flushed at once, wrapped at the terminal's width."""

    def __init__(self, indent: str = "  ") -> None:
        self.width = min(shutil.get_terminal_size().columns, 100)
        self.indent = indent
        self.column = 0

    def word(self, text: str) -> None:
        if self.column and self.column + 1 + len(text) > self.width:
            self.end()
        if not self.column:
            sys.stdout.write(self.indent)
            self.column = len(self.indent)
        else:
            sys.stdout.write(" ")
            self.column += 1
        sys.stdout.write(text)
        self.column += len(text)
        sys.stdout.flush()

    def end(self) -> None:
        if self.column:
            sys.stdout.write("\n")
            sys.stdout.flush()
        self.column = 0


def main(label: str, arguments: list[str]) -> int:
    started = time.monotonic()
    print(f"{label}:", flush=True)
    command = [sys.executable, "-m", "pip", "install", "--progress-bar", "off", *arguments]
    pip = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # its lines as they come, not at the end
    )
    assert pip.stdout is not None
    log, line_out, installed = [], Wrapped(), 0
    for line in pip.stdout:
        log.append(line)
        if match := NAME.match(line):
            line_out.word(match.group(1) or match.group(2))
        elif line.startswith(INSTALLING):
            installed = len(line[len(INSTALLING) :].split(","))
    status = pip.wait()
    line_out.end()
    if status:
        sys.stdout.write("".join(log))
        print(f"pip failed (exit status {status})", file=sys.stderr)
        return status
    done = f"installed {installed} package{'s' * (installed != 1)}" if installed else "up to date"
    print(f"  {done} ({time.monotonic() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
