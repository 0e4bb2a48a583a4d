"""The fixed buckets that worker and content-app numbers are counted in (builder/buckets.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder import buckets
from builder.buckets import Bucket


def test_small_numbers_are_exact_then_the_buckets_double() -> None:
    keys = [buckets.bucket_of(n).key for n in (0, 1, 2, 8, 9, 16, 17, 32, 33, 100, 1024, 1025)]
    assert keys == [
        "0", "1", "2", "8", "9-16", "9-16", "17-32", "17-32", "33-64", "65-128", "513-1024",
        "1025-2048",
    ]  # fmt: skip
    assert buckets.bucket_of(2**32 - 1).key == "2147483649-4294967296"  # a uint32 has a bucket


def test_fewer_exact_buckets() -> None:
    assert [buckets.bucket_of(n, exact=2).key for n in (0, 2, 3, 4, 5)] == [
        "0", "2", "3-4", "3-4", "5-8"
    ]  # fmt: skip


@given(st.integers(0, 10**12))
def test_every_number_has_one_bucket_that_holds_it(n: int) -> None:
    bucket = buckets.bucket_of(n)
    assert bucket.low <= n <= (bucket.high or n)
    assert buckets.parse(bucket.key) == bucket
    assert buckets.is_fixed_range(bucket)


def test_keys_and_labels() -> None:
    assert [buckets.parse(k) for k in ("3", "9-16", "0-4", "33+")] == [
        Bucket(3, 3), Bucket(9, 16), Bucket(0, 4), Bucket(33, None)
    ]  # fmt: skip
    assert [b.label for b in (Bucket(3, 3), Bucket(9, 16), Bucket(33, None))] == [
        "3", "9\u201316", "\u2265 33"
    ]  # fmt: skip
    assert Bucket(4, 4).span(Bucket(5, 8)) == Bucket(4, 8)


@pytest.mark.parametrize("key", ["", "-1", "03", "4-4", "8-5", "1-", "+", "1e3", "(other)", "3 "])
def test_what_is_not_a_bucket(key: str) -> None:
    with pytest.raises(ValueError, match="is not a bucket"):
        buckets.parse(key)


def test_fixed_ranges_start_and_end_where_buckets_do() -> None:
    assert buckets.is_fixed_range(Bucket(0, 4))
    assert buckets.is_fixed_range(Bucket(5, 32))
    assert buckets.is_fixed_range(Bucket(9, None))
    assert buckets.is_fixed_range(Bucket(3, 7))  # 3 to 7, each its own bucket
    assert not buckets.is_fixed_range(Bucket(3, 12))  # would split 9-16
    assert not buckets.is_fixed_range(Bucket(10, 16))
    assert not buckets.is_fixed_range(Bucket(12, None))


def test_overlaps() -> None:
    assert buckets.first_overlap([Bucket(0, 1), Bucket(2, 3), Bucket(5, None)]) is None
    assert buckets.first_overlap([Bucket(5, 8), Bucket(0, 5)]) == (Bucket(0, 5), Bucket(5, 8))
    assert buckets.first_overlap([Bucket(9, None), Bucket(17, 32)]) == (
        Bucket(9, None), Bucket(17, 32)
    )  # fmt: skip


def test_values_counted_per_bucket_in_order() -> None:
    grouped = [(12, 1), (0, 4), (2, 7), (9, 2), (40, 1), (2.0, 1)]  # as SQL groups them
    assert buckets.count_map(grouped) == {"0": 4, "2": 8, "9-16": 3, "33-64": 1}
    assert list(buckets.ordered({"33+": 1, "(other)": 9, "2": 3, "0-1": 5})) == [
        (Bucket(0, 1), 5), (Bucket(2, 2), 3), (Bucket(33, None), 1)
    ]  # fmt: skip


@pytest.mark.parametrize("value", [-1, 2.5, "3", None, True])
def test_a_value_that_is_not_a_whole_number_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        buckets.count_map([(value, 1)])  # type: ignore[list-item]
