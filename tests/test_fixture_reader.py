"""The streaming fixture reader gives what ``json.load`` gives, without holding the file."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from builder.summaries.fixture import ArrayReader, read_rows

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
LAYOUTS = st.sampled_from([None, 0, 1, 2, "\t"])


@settings(max_examples=300, deadline=None)
@given(st.lists(JSON, max_size=8), LAYOUTS, st.booleans(), st.integers(1, 64))
def test_any_list_reads_as_json_loads_reads_it(
    items: list[Any], indent: Any, ascii_only: bool, chunk: int
) -> None:
    text = json.dumps(items, indent=indent, ensure_ascii=ascii_only)
    reader = ArrayReader(io.StringIO(text), "t", chunk_chars=chunk)
    assert list(reader.items()) == json.loads(text)


def test_rows_keep_their_order_and_numbers(tmp_path: Path) -> None:
    rows = [{"model": "m.a", "pk": n, "fields": {"n": n, "é": "ü"}} for n in range(50)]
    path = tmp_path / "f.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    read = list(read_rows(path, chunk_chars=7))
    assert [(r.model, r.pk, r.fields, r.number) for r in read] == [
        ("m.a", n, {"n": n, "é": "ü"}, n + 1) for n in range(50)
    ]


def test_memory_stays_near_one_chunk_whatever_the_file_size(tmp_path: Path) -> None:
    """A 6 MB fixture read with 64 KiB chunks never holds more than a fraction of it."""
    path = tmp_path / "big.json"
    row = {"model": "pulpanalytics.agecount", "pk": 0, "fields": {"summary": "2023-04-14"}}
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[")
        for n in range(60_000):
            handle.write(("," if n else "") + json.dumps({**row, "pk": n, "fields": {"age": n}}))
        handle.write("]")
    assert path.stat().st_size > 4_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_rows(path, chunk_chars=1 << 16))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 60_000
    assert peak < 1_000_000, f"peak {peak} bytes: the file was not streamed"
