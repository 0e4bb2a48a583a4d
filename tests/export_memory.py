"""The most memory one gzip-compressed day of the export takes, sent and received.

    python -m tests.export_memory DB

Serves a prod receiver on the database DB (on a thread of this process, its clock the morning
after bench.summarize's day) and reads that day through ``HttpSource`` into its temporary
database while tracemalloc runs, so both sides are measured. Prints JSON: ``rows`` loaded,
``peak`` bytes Python held at once, and the bytes ``received`` and ``decoded``. A fresh process
keeps the figure free of whatever else a test session holds or runs on its threads.
"""

from __future__ import annotations

import json
import sys
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask

from bench.summarize import BENCH_SECRET, DAY
from builder.summaries.sources import HttpSource
from receiver import create_app
from tests.conftest import TOKEN, Clock, serving


def large_app(db: Path) -> Flask:
    """A prod receiver on ``db`` whose clock says DAY is complete, with the key its hashes
    were made with."""
    clock = Clock(datetime(2026, 11, 28, 6, tzinfo=UTC))
    return create_app(
        {"DATABASE": db, "CLOCK": clock, "EXPORT_TOKEN": TOKEN, "ID_KEY": BENCH_SECRET.hex(),
         "DEPLOYMENT": "prod", "TESTING": True}
    )  # fmt: skip


def rows_of_the_day(source: HttpSource) -> int:
    """How many rows ``source`` loads for DAY."""
    with source.day(DAY) as rows:
        count: int = rows.conn.execute(f"SELECT count(*) FROM {rows.relation}").fetchone()[0]
        return count


def peak_while(work: Callable[[], int]) -> tuple[int, int]:
    """(what ``work`` returns, the most memory Python held meanwhile, in bytes)."""
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    with serving(large_app(Path(sys.argv[1]))) as url:
        source = HttpSource(url, TOKEN, retries=0)
        rows, peak = peak_while(lambda: rows_of_the_day(source))
    figures = {"rows": rows, "peak": peak, "received": source.received}
    print(json.dumps({**figures, "decoded": source.decoded}))


if __name__ == "__main__":
    main()
