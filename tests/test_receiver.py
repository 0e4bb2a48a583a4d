"""POST / and the rest of SPEC §3's request table, through Flask's test client."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from receiver.store import Database
from tests import wire
from tests.conftest import AUTH, ID_KEY, Clock
from tests.leaks import keyed_hash
from tests.stores import Peek, unwritable

pytestmark = pytest.mark.stores("sqlite", "postgresql")
SYSTEM = "6d7e6f3b-1b8f-4a5e-9a43-7b9b8c1f2e10"


def export_day(client: FlaskClient, day: str) -> list[dict[str, Any]]:
    response = client.get(f"/export/{day}.jsonl", headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def stored(db: Peek) -> tuple[int, int]:
    """(submissions, systems) rows in the database."""
    subs = db.execute("SELECT count(*) FROM submissions").fetchone()[0]
    systems = db.execute("SELECT count(*) FROM systems").fetchone()[0]
    return subs, systems


def test_accepts_a_submission_and_exports_its_fields(client: FlaskClient) -> None:
    body = wire.analytics(
        SYSTEM,
        components=[("core", "3.21.0"), ("rpm", "3.19.4")],
        workers={"processes": 4, "hosts": 2},
        content_apps={"processes": 2, "hosts": 1},
        postgresql_version=130004,
        rbac={
            "users": 5,
            "groups": 1,
            "domains": 0,
            "custom_access_policies": 0,
            "custom_roles": 2,
        },
    )
    response = client.post("/", data=body, content_type="application/octet-stream")
    assert (response.status_code, response.json) == (200, {"status": "accepted"})
    assert export_day(client, "2026-11-02") == [
        {
            "date": "2026-11-02",
            "age_days": 0,
            "online_content_apps": {"processes": 2, "hosts": 1},
            "online_workers": {"processes": 4, "hosts": 2},
            "components": [
                {"name": "core", "version": "3.21.0"},
                {"name": "rpm", "version": "3.19.4"},
            ],
            "postgresql_version": 130004,
            "rbac_stats": {
                "users": 5,
                "groups": 1,
                "domains": 0,
                "custom_access_policies": 0,
                "custom_roles": 2,
            },
        }
    ]


def test_accepts_a_body_without_content_type(client: FlaskClient) -> None:
    response = client.post("/", data=wire.analytics(SYSTEM), content_type="")
    assert response.json == {"status": "accepted"}


def test_old_telemetry_layout_decodes_with_absent_fields_null(client: FlaskClient) -> None:
    body = wire.telemetry(
        SYSTEM, [("core", "3.18.0"), ("file", "1.10.0")], workers={"processes": 2, "hosts": None}
    )
    assert client.post("/", data=body).json == {"status": "accepted"}
    [line] = export_day(client, "2026-11-02")
    assert line["online_workers"] == {"processes": 2, "hosts": None}
    assert line["online_content_apps"] is None
    assert line["rbac_stats"] is None
    assert line["postgresql_version"] == 0  # 0 is "unknown", the one field that is never null


def test_first_report_of_the_day_wins(client: FlaskClient, clock: Clock) -> None:
    first = wire.analytics(SYSTEM, [("core", "3.21.0")])
    second = wire.analytics(SYSTEM, [("core", "3.22.0")])
    assert client.post("/", data=first).json == {"status": "accepted"}
    clock.advance(hours=10)
    assert client.post("/", data=second).json == {"status": "duplicate"}
    [line] = export_day(client, "2026-11-02")
    assert line["components"] == [{"name": "core", "version": "3.21.0"}]


def test_a_new_utc_day_accepts_again_and_counts_age(client: FlaskClient, clock: Clock) -> None:
    client.post("/", data=wire.analytics(SYSTEM))
    clock.advance(days=3)
    assert client.post("/", data=wire.analytics(SYSTEM)).json == {"status": "accepted"}
    assert [line["age_days"] for line in export_day(client, "2026-11-05")] == [3]


@pytest.mark.parametrize(
    "spelling",
    [SYSTEM.upper(), SYSTEM.replace("-", ""), "{" + SYSTEM + "}", "urn:uuid:" + SYSTEM],
)
def test_system_ids_are_stored_canonical(client: FlaskClient, db: Peek, spelling: str) -> None:
    assert client.post("/", data=wire.analytics(spelling)).json == {"status": "accepted"}
    assert client.post("/", data=wire.analytics(SYSTEM)).json == {"status": "duplicate"}
    keyed = keyed_hash(ID_KEY, SYSTEM)
    assert db.execute("SELECT system_hash FROM systems").fetchall() == [(keyed,)]


def test_unknown_fields_from_newer_clients_are_kept_in_the_raw_bytes_without_the_system_id(
    client: FlaskClient, db: Peek
) -> None:
    body = wire.analytics(SYSTEM, extra=wire.uint(42, 7) + wire.text(43, "future"))
    assert client.post("/", data=body).json == {"status": "accepted"}
    system_field = wire.text(1, SYSTEM)
    assert body.startswith(system_field)
    assert db.execute("SELECT raw FROM submissions").fetchone()[0] == body[len(system_field) :]


def test_every_system_id_field_is_cut_from_the_raw_bytes_wherever_it_is(
    client: FlaskClient, db: Peek
) -> None:
    """protobuf takes the last of repeated field 1s, and one with another wire type is kept as
    an unknown field: the stored bytes keep none of them, and everything else byte for byte."""
    other = str(uuid.UUID(int=7))
    rest = wire.analytics(SYSTEM)[len(wire.text(1, SYSTEM)) :]
    unknown = wire.uint(42, 7)
    body = wire.text(1, other) + rest + wire.uint(1, 5) + unknown + wire.text(1, SYSTEM)
    assert client.post("/", data=body).json == {"status": "accepted"}
    assert db.execute("SELECT raw FROM submissions").fetchone()[0] == rest + unknown
    assert client.post("/", data=wire.analytics(SYSTEM)).json == {"status": "duplicate"}


def test_dev_systems_are_ignored_on_prod(
    make_app: Callable[..., Flask], database: Database, clock: Clock
) -> None:
    client = make_app(DEPLOYMENT="prod").test_client()
    dev = wire.analytics(SYSTEM, [("core", "3.22.0.dev0"), ("rpm", "3.19.4")])
    assert client.post("/", data=dev).json == {"status": "ignored"}
    release = wire.analytics(str(uuid.uuid4()), [("core", "3.21.0")])
    assert client.post("/", data=release).json == {"status": "accepted"}
    peek = Peek(database)
    assert stored(peek) == (1, 1)
    peek.close()
    index = client.get("/export/", headers=AUTH).json
    assert index["days"] == [
        {"date": "2026-11-02", "systems": 1, "duplicate": 0, "ignored": 1, "fetched": False}
    ]


@pytest.mark.parametrize(
    ("deployment", "collect", "expected"),
    [
        ("dev", None, "accepted"),
        ("prod", "true", "accepted"),
        ("dev", "false", "ignored"),
    ],
)
def test_collect_dev_systems_follows_the_deployment_unless_set(
    make_app: Callable[..., Flask], deployment: str, collect: str | None, expected: str
) -> None:
    config = {"DEPLOYMENT": deployment}
    if collect is not None:
        config["COLLECT_DEV_SYSTEMS"] = collect
    client = make_app(**config).test_client()
    body = wire.analytics(SYSTEM, [("core", "3.22.0a1")])
    assert client.post("/", data=body).json == {"status": expected}


LONG = "9" * 65
BAD_BODIES = {
    "garbage": (b"\xff\xff\xff\xff", "not a valid Analytics message"),
    "empty body": (b"", "missing required field system_id"),
    "truncated": (wire.analytics(SYSTEM)[:-3], "not a valid Analytics message"),
    "no system id": (
        wire.chunk(4, wire.text(1, "core") + wire.text(2, "3.21.0")),
        "missing required field system_id",
    ),
    "system id not a uuid": (wire.analytics("my-laptop"), "system_id is not a UUID"),
    "system id not utf-8": (wire.chunk(1, b"\xff\xfe" * 18), "system_id is not valid UTF-8"),
    "component without version": (
        wire.text(1, SYSTEM) + wire.chunk(4, wire.text(1, "core")),
        "missing required field components[0].version",
    ),
    "upper-case component": (wire.analytics(SYSTEM, [("Core", "3.21.0")]), "component name 'Core'"),
    "dashed component": (
        wire.analytics(SYSTEM, [("pulp-rpm", "3.21.0")]),
        "component name 'pulp-rpm'",
    ),
    "long component name": (wire.analytics(SYSTEM, [("a" * 65, "1.0.0")]), "component name"),
    "long version": (wire.analytics(SYSTEM, [("core", LONG)]), "longer than 64"),
    "empty version": (wire.analytics(SYSTEM, [("core", "")]), "empty version"),
    "component twice": (
        wire.analytics(SYSTEM, [("core", "3.21.0"), ("core", "3.22.0")]),
        "listed twice",
    ),
    "too many components": (
        wire.analytics(SYSTEM, [(f"p{i}", "1.0.0") for i in range(257)]),
        "257 components",
    ),
    **{
        f"version {version!r}": (
            wire.analytics(SYSTEM, [("core", version)]),
            "version of component 'core' must be printable ASCII without ';'",
        )
        for version in ("1\u00b2", "\u2460", "3.21.0\x00", "3.21\n", "1\t2", "3.21\x7f", "1;=1+1")
    },
    "processes at the uint32 maximum": (
        wire.analytics(SYSTEM, workers={"processes": 2**32 - 1, "hosts": 1}),
        "online_workers.processes is 4294967295, outside the plausible range 0-10000",
    ),
    "processes -1 as a 64-bit varint": (
        wire.analytics(SYSTEM, workers={"processes": 2**64 - 1, "hosts": 1}),
        "online_workers.processes is 18446744073709551615, more than the field can hold",
    ),
    "hosts that protobuf would cut to 5": (
        wire.analytics(SYSTEM, content_apps={"processes": 2, "hosts": 2**32 + 5}),
        "online_content_apps.hosts is 4294967301, more than the field can hold",
    ),
    "postgresql version out of range": (
        wire.analytics(SYSTEM, postgresql_version=10_000_000),
        "postgresql_version is 10000000, outside the plausible range 0-999999",
    ),
    "rbac users out of range": (
        wire.analytics(SYSTEM, rbac={"users": 1_000_001}),
        "rbac_stats.users is 1000001, outside the plausible range 0-1000000",
    ),
    "unknown fields over the cap": (
        wire.analytics(SYSTEM, extra=wire.chunk(99, b"x" * 1100)),
        "1104 bytes beyond the fields this receiver knows (fields of a newer client, or fields"
        " sent twice); at most 1024 are kept per report",
    ),
    "known fields sent over and over": (
        wire.analytics(SYSTEM, extra=wire.uint(5, 130004) * 300),
        "1196 bytes beyond the fields this receiver knows",  # the last one counts
    ),
    "unknown fields before the known ones": (
        wire.chunk(99, b"x" * 1100) + wire.analytics(SYSTEM),
        "1104 bytes beyond the fields this receiver knows",
    ),
    "a number cut by protobuf among fields in another order": (
        wire.uint(5, 2**32 + 130004) + wire.analytics(SYSTEM),
        "postgresql_version is 4295097300, more than the field can hold",
    ),
    "unknown fields inside components count too": (
        wire.text(1, SYSTEM)
        + wire.chunk(4, wire.text(1, "core") + wire.text(2, "3.21.0") + wire.chunk(9, b"x" * 600))
        + wire.chunk(4, wire.text(1, "rpm") + wire.text(2, "3.19.4") + wire.chunk(9, b"x" * 600)),
        "1208 bytes beyond the fields this receiver knows",
    ),
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_bad_bodies_get_400_with_a_reason_and_store_nothing(
    client: FlaskClient, db: Peek, case: str
) -> None:
    body, reason = BAD_BODIES[case]
    response = client.post("/", data=body)
    assert response.status_code == 400
    assert reason in response.json["error"]
    assert stored(db) == (0, 0)
    assert db.execute("SELECT count(*) FROM outcomes").fetchone()[0] == 0


def test_numbers_at_the_edges_of_their_ranges_are_accepted(client: FlaskClient) -> None:
    body = wire.analytics(
        SYSTEM,
        workers={"processes": 10_000, "hosts": 1_000},
        content_apps={"processes": 0, "hosts": 0},
        postgresql_version=999_999,
        rbac={"users": 1_000_000, "groups": 0, "domains": 100_000, "custom_roles": 100_000},
    )
    assert client.post("/", data=body).json == {"status": "accepted"}


GROUP = wire.tag(20, 3) + wire.uint(1, 5) + wire.tag(21, 3) + wire.tag(21, 4) + wire.tag(20, 4)
ODD_ENCODINGS = {  # what protobuf accepts, so the receiver reads them byte by byte and agrees
    "an unknown group": wire.analytics(SYSTEM, extra=GROUP),
    "unknown fixed-width fields": wire.analytics(
        SYSTEM, extra=wire.tag(30, 1) + b"\0" * 8 + wire.tag(31, 5) + b"\0" * 4
    ),
    "a known number with another wire type": wire.analytics(SYSTEM, extra=wire.tag(5, 5) + b"1234"),
    "a number in an overlong varint": wire.analytics(SYSTEM) + wire.tag(5, 0) + b"\x85\x80\x80\x00",
}


@pytest.mark.parametrize("case", ODD_ENCODINGS)
def test_odd_encodings_protobuf_accepts_are_accepted(client: FlaskClient, case: str) -> None:
    assert client.post("/", data=ODD_ENCODINGS[case]).json == {"status": "accepted"}


def test_unknown_fields_up_to_the_cap_are_kept(client: FlaskClient, db: Peek) -> None:
    body = wire.analytics(SYSTEM, extra=wire.chunk(99, b"x" * 1020))  # 1024 bytes with its tag
    assert client.post("/", data=body).json == {"status": "accepted"}
    without_system_id = body[len(wire.text(1, SYSTEM)) :]
    assert db.execute("SELECT raw FROM submissions").fetchone()[0] == without_system_id


def test_versions_may_use_any_printable_ascii_but_semicolon(client: FlaskClient) -> None:
    version = "3.21.0+git.2026-11-02 (a1b2c3)~rc1_@[x]"
    body = wire.analytics(SYSTEM, [("core", version)])
    assert client.post("/", data=body).json == {"status": "accepted"}
    [line] = export_day(client, "2026-11-02")
    assert line["components"] == [{"name": "core", "version": version}]


def test_256_components_of_64_character_versions_are_accepted(client: FlaskClient) -> None:
    body = wire.analytics(SYSTEM, [(f"p{i}", "1." * 31 + "10") for i in range(256)])
    assert client.post("/", data=body).json == {"status": "accepted"}


def test_bodies_over_64_kib_get_413_and_store_nothing(client: FlaskClient, db: Peek) -> None:
    body = wire.analytics(SYSTEM, extra=wire.chunk(99, b"x" * 65536))
    response = client.post("/", data=body)
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json["error"]
    assert stored(db) == (0, 0)


def test_other_methods_and_paths_answer_json_errors(client: FlaskClient) -> None:
    assert client.put("/", data=b"").status_code == 405
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "error" in missing.json


def test_healthz_reports_a_writable_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json["status"]) == (200, "ok")


def test_a_report_that_cannot_be_stored_gets_503_and_the_next_one_is_stored_again(
    client: FlaskClient, database: Database, db: Peek
) -> None:
    with unwritable(database, log=False):  # the request's connection is opened meanwhile
        response = client.post("/", data=wire.analytics(SYSTEM))
        assert response.status_code == 503
        assert response.json == {"error": "storage is unavailable, try again later"}
    assert client.post("/", data=wire.analytics(SYSTEM)).json == {"status": "accepted"}
    assert stored(db) == (1, 1)


def test_healthz_fails_while_reports_cannot_be_stored_and_shows_no_database_error(
    client: FlaskClient, database: Database
) -> None:
    assert client.get("/healthz").json == {"status": "ok", "deployment": "dev"}
    assert client.post("/", data=wire.analytics(SYSTEM)).status_code == 200
    with unwritable(database):  # a read-only disk under the connection, or a failover
        assert client.post("/", data=wire.analytics(str(uuid.uuid4()))).status_code == 503
        for _ in range(3):
            response = client.get("/healthz")
            assert response.status_code == 503
            assert response.json == {
                "status": "unavailable",
                "error": "reports cannot be stored right now",
            }
    assert client.get("/healthz").status_code == 200
    assert client.post("/", data=wire.analytics(str(uuid.uuid4()))).json == {"status": "accepted"}


def test_healthz_writes_nothing_while_reports_are_stored(client: FlaskClient, db: Peek) -> None:
    client.post("/", data=wire.analytics(SYSTEM))
    version = db.version()
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
    assert db.version() == version
    client.post("/", data=wire.analytics(str(uuid.uuid4())))
    assert db.version() != version  # the probe can see one


def test_front_page_links_the_site_or_redirects(make_app: Callable[..., Flask]) -> None:
    page = make_app().test_client().get("/")
    assert page.status_code == 200
    assert b"<a href=" in page.data
    redirect = make_app(SITE_URL="https://example.org/analytics/").test_client().get("/")
    assert (redirect.status_code, redirect.location) == (302, "https://example.org/analytics/")


@pytest.mark.stores("sqlite")  # the database file is one of the links it must not follow
def test_site_dir_serves_only_files_inside_it(
    make_app: Callable[..., Flask], tmp_path: Path, db_path: Path
) -> None:
    site = tmp_path / "site"
    (site / "charts").mkdir(parents=True)
    (site / "index.html").write_text("<h1>charts</h1>")
    (site / "charts/data.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("not for the public")
    (site / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (site / "db").symlink_to(db_path)
    (site / "outside").symlink_to(tmp_path)
    (site / "same.json").symlink_to(site / "charts/data.json")
    client = make_app(SITE_DIR=str(site)).test_client()
    assert client.get("/").data == b"<h1>charts</h1>"
    assert client.get("/charts/data.json").data == b"{}"
    assert client.get("/same.json").data == b"{}"  # a link that stays inside is fine
    for path in ("/leak.txt", "/db", "/outside/secret.txt", "/outside/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"not for the public" not in response.data


def test_rejected_posts_on_each_day_are_counted(client: FlaskClient, clock: Clock) -> None:
    client.post("/", data=wire.analytics(SYSTEM))
    client.post("/", data=wire.analytics(SYSTEM))
    client.post("/", data=wire.analytics(SYSTEM))
    clock.set_day(date(2026, 11, 3))
    client.post("/", data=wire.analytics(str(uuid.uuid4())))
    days = client.get("/export/", headers=AUTH).json["days"]
    assert days == [
        {"date": "2026-11-02", "systems": 1, "duplicate": 2, "ignored": 0, "fetched": False},
        {"date": "2026-11-03", "systems": 1, "duplicate": 0, "ignored": 0, "fetched": False},
    ]


CHUNKED = {"wsgi.input_terminated": True}  # as gunicorn marks a chunked request body


def body_of_size(size: int) -> bytes:
    """A valid message padded with an unknown field (99) to exactly ``size`` bytes."""
    base = wire.analytics(SYSTEM)
    body = base + wire.chunk(99, b"x" * (size - len(base) - 5))  # 2 tag + 3 length bytes
    assert len(body) == size
    return body


def post_chunked(client: FlaskClient, body: bytes) -> Any:
    return client.post(
        "/",
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides=CHUNKED,
    )


@pytest.mark.parametrize("size", [65536 + 1, 65536 * 4])
def test_chunked_bodies_over_64_kib_get_413(client: FlaskClient, db: Peek, size: int) -> None:
    response = post_chunked(client, body_of_size(size))
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json["error"]
    assert stored(db) == (0, 0)


def test_a_chunked_body_of_exactly_64_kib_passes_the_size_limit(client: FlaskClient) -> None:
    response = post_chunked(client, body_of_size(65536))
    assert response.status_code == 400  # for its unknown fields, not 413 for its size
    assert "at most 1024 are kept per report" in response.json["error"]


def test_a_bug_is_answered_as_json_without_a_traceback(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from receiver import views

    def broken(body: bytes) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(views, "decode", broken)
    response = client.post("/", data=wire.analytics(SYSTEM))
    assert response.status_code == 500
    assert response.json == {"error": "internal error; the receiver's log has the details"}
