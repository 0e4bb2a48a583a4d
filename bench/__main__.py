"""``make bench``: every benchmark in turn, one JSON object each; BENCHMARKS.md records them.

    python -m bench [receiver] [receiver-postgresql] [slowclients] [summarize]
                    [summarize-postgresql] [migrate] [site] [legacy] [night]
                    [night-postgresql]

With no names, runs all ten. They take a few minutes (building the 1,000,000-submission
databases and the legacy fixture the first time takes a few minutes more; they are cached in
.bench/).
"""

from __future__ import annotations

import subprocess
import sys

SUITES = {
    "receiver": ["bench.receiver"],
    "receiver-postgresql": ["bench.receiver", "--postgresql"],
    "slowclients": ["bench.slowclients"],
    "summarize": ["bench.summarize"],
    "summarize-postgresql": ["bench.summarize", "--postgresql"],
    "migrate": ["bench.migrate"],
    "site": ["bench.site"],
    "legacy": ["bench.legacy"],
    "night": ["bench.night"],
    "night-postgresql": ["bench.night", "--postgresql"],
}


def main() -> None:
    names = sys.argv[1:] or list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise SystemExit(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(SUITES)}")
    failed = []
    for name in names:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, "-m", *SUITES[name]]).returncode:
            failed.append(name)
    if failed:
        raise SystemExit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
