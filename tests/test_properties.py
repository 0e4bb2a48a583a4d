"""Property tests: whatever a client sends, the receiver answers sanely and keeps the values."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver import create_app
from receiver.contract import MAX_VERSION_LENGTH, RANGES, VERSION
from tests import wire

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def client_in(folder: Path) -> Any:
    app = create_app({"DATABASE": folder / "a.sqlite3", "EXPORT_TOKEN": "t"})
    return app.test_client()


@contextmanager
def fresh_client() -> Iterator[Any]:
    """A receiver with an empty database, removed with its folder afterwards."""
    with tempfile.TemporaryDirectory(prefix="prop-") as folder:
        yield client_in(Path(folder))


@pytest.fixture(scope="module")
def shared_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One receiver for many examples, in pytest's own temporary folder."""
    return client_in(tmp_path_factory.mktemp("prop"))


valid_prefix = st.uuids().map(lambda u: wire.analytics(str(u)))


@SETTINGS
@given(
    body=st.one_of(
        st.binary(max_size=3000),
        st.tuples(valid_prefix, st.binary(max_size=200)).map(lambda t: t[0] + t[1]),
        st.tuples(valid_prefix, st.integers(1, 60)).map(lambda t: t[0][: -t[1]]),
    )
)
def test_any_bytes_get_200_or_400_never_5xx(shared_client: Any, body: bytes) -> None:
    response = shared_client.post("/", data=body)
    assert response.status_code in (200, 400), response.data
    payload = response.json
    assert ("status" in payload) if response.status_code == 200 else payload["error"]


def counter(path: str) -> st.SearchStrategy[int | None]:
    """None (not sent) or any number in the field's plausible range."""
    low, high = RANGES[path]
    return st.one_of(st.none(), st.integers(low, high))


def pair(field: str) -> st.SearchStrategy[dict[str, int | None] | None]:
    counts = {k: counter(f"{field}.{k}") for k in wire.PAIR}
    return st.one_of(st.none(), st.fixed_dictionaries(counts))


rbac = st.one_of(
    st.none(), st.fixed_dictionaries({k: counter(f"rbac_stats.{k}") for k in wire.RBAC})
)
names = st.lists(st.from_regex(r"[a-z0-9_]{1,64}", fullmatch=True), unique=True, max_size=12)
version = st.from_regex(VERSION, fullmatch=True).filter(lambda v: len(v) <= MAX_VERSION_LENGTH)


@SETTINGS
@given(
    system=st.uuids(),
    component_names=names,
    versions=st.lists(version, min_size=12, max_size=12),
    workers=pair("online_workers"),
    content_apps=pair("online_content_apps"),
    postgresql=counter("postgresql_version"),
    rbac_stats=rbac,
)
def test_a_valid_message_round_trips_through_store_and_export(
    system: uuid.UUID,
    component_names: list[str],
    versions: list[str],
    workers: dict[str, int | None] | None,
    content_apps: dict[str, int | None] | None,
    postgresql: int | None,
    rbac_stats: dict[str, int | None] | None,
) -> None:
    components = list(zip(component_names, versions, strict=False))
    body = wire.analytics(
        str(system),
        components,
        workers=workers,
        content_apps=content_apps,
        postgresql_version=postgresql,
        rbac=rbac_stats,
    )
    with fresh_client() as client:
        assert client.post("/", data=body).json == {"status": "accepted"}
        export = client.get("/export/", headers={"Authorization": "Bearer t"}).json
        day = export["days"][0]["date"]
        text = client.get(f"/export/{day}.jsonl", headers={"Authorization": "Bearer t"}).get_data()
    assert json.loads(text) == {
        "date": day,
        "age_days": 0,
        "online_content_apps": content_apps,
        "online_workers": workers,
        "components": [{"name": n, "version": v} for n, v in components],
        "postgresql_version": postgresql or 0,
        "rbac_stats": rbac_stats,
    }


def test_a_fresh_receiver_leaves_no_folder_behind() -> None:
    with fresh_client() as client:
        folder = Path(client.application.config["DATABASE"]).parent
        assert client.post("/", data=wire.analytics(str(uuid.uuid4()))).status_code == 200
    assert not folder.exists()


@SETTINGS
@given(
    bad=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=64).filter(
        lambda v: not VERSION.fullmatch(v)
    )
)
def test_a_version_outside_printable_ascii_or_with_a_semicolon_is_refused(
    shared_client: Any, bad: str
) -> None:
    response = shared_client.post("/", data=wire.analytics(str(uuid.uuid4()), [("core", bad)]))
    assert response.status_code == 400
    assert "must be printable ASCII without ';'" in response.json["error"]


@SETTINGS
@given(
    path=st.sampled_from(sorted(RANGES)),
    value=st.one_of(st.integers(1_000_001, 2**32 - 1), st.integers(2**32, 2**64 - 1)),
)
def test_a_number_outside_its_range_is_refused_never_stored_cut(
    shared_client: Any, path: str, value: int
) -> None:
    parent, _, name = path.rpartition(".")
    fields: dict[str, Any] = {"postgresql_version": value} if not parent else {}
    if parent == "rbac_stats":
        fields["rbac"] = {name: value}
    elif parent:
        fields["workers" if parent == "online_workers" else "content_apps"] = {name: value}
    response = shared_client.post("/", data=wire.analytics(str(uuid.uuid4()), **fields))
    assert response.status_code == 400
    assert response.json["error"].startswith(f"{path} is {value}, ")


wide = st.one_of(st.none(), st.integers(0, 2**33))


@SETTINGS
@given(
    workers=st.one_of(st.none(), st.fixed_dictionaries({"processes": wide, "hosts": wide})),
    postgresql=wide,
    extra=st.binary(max_size=1100).map(lambda b: wire.chunk(99, b) if b else b""),
)
def test_field_order_does_not_change_the_answer(
    shared_client: Any,
    workers: dict[str, int | None] | None,
    postgresql: int | None,
    extra: bytes,
) -> None:
    """pulpcore's own byte order takes a shortcut in the checks; any other order reads every
    byte. Both must come to the same answer."""
    system = str(uuid.uuid4())
    head = wire.text(1, system)
    body = wire.analytics(system, workers=workers, postgresql_version=postgresql, extra=extra)
    reordered = body[len(head) :] + head
    client = shared_client
    first, second = client.post("/", data=body), client.post("/", data=reordered)
    assert first.status_code == second.status_code
    assert first.json == second.json or first.json == {"status": "accepted"}
    if first.status_code == 200:
        assert second.json == {"status": "duplicate"}
