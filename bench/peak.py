"""Run a command and report its wall time and peak resident memory as JSON.

    python -m bench.peak COMMAND [ARG...]

Linux carries a process's peak RSS across fork and exec, so a command started straight from a
big benchmark process would report that process's memory. This launcher is a small, fresh
process, so the figure it reports is the command's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> None:
    started = time.perf_counter()
    child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
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
