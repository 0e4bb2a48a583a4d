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


counter = st.one_of(st.none(), st.integers(0, 2**32 - 1))
pair = st.one_of(st.none(), st.fixed_dictionaries({"processes": counter, "hosts": counter}))
rbac = st.one_of(st.none(), st.fixed_dictionaries({k: counter for k in wire.RBAC}))
names = st.lists(st.from_regex(r"[a-z0-9_]{1,64}", fullmatch=True), unique=True, max_size=12)
version = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=64)


@SETTINGS
@given(
    system=st.uuids(),
    component_names=names,
    versions=st.lists(version, min_size=12, max_size=12),
    workers=pair,
    content_apps=pair,
    postgresql=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
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
