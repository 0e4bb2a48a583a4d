"""POST / and the rest of SPEC §3's request table, through Flask's test client."""

from __future__ import annotations

import io
import json
import sqlite3
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests import wire
from tests.conftest import AUTH, Clock

SYSTEM = "6d7e6f3b-1b8f-4a5e-9a43-7b9b8c1f2e10"


def export_day(client: FlaskClient, day: str) -> list[dict[str, Any]]:
    response = client.get(f"/export/{day}.jsonl", headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def stored(db: sqlite3.Connection) -> tuple[int, int]:
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
def test_system_ids_are_stored_canonical(
    client: FlaskClient, db: sqlite3.Connection, spelling: str
) -> None:
    assert client.post("/", data=wire.analytics(spelling)).json == {"status": "accepted"}
    assert client.post("/", data=wire.analytics(SYSTEM)).json == {"status": "duplicate"}
    assert db.execute("SELECT system_id FROM systems").fetchall() == [(SYSTEM,)]


def test_unknown_fields_from_newer_clients_are_kept_in_the_raw_bytes(
    client: FlaskClient, db: sqlite3.Connection
) -> None:
    body = wire.analytics(SYSTEM, extra=wire.uint(42, 7) + wire.text(43, "future"))
    assert client.post("/", data=body).json == {"status": "accepted"}
    assert db.execute("SELECT raw FROM submissions").fetchone()[0] == body


def test_dev_systems_are_ignored_on_prod(
    make_app: Callable[..., Flask], db_path: Any, clock: Clock
) -> None:
    client = make_app(DEPLOYMENT="prod").test_client()
    dev = wire.analytics(SYSTEM, [("core", "3.22.0.dev0"), ("rpm", "3.19.4")])
    assert client.post("/", data=dev).json == {"status": "ignored"}
    release = wire.analytics(str(uuid.uuid4()), [("core", "3.21.0")])
    assert client.post("/", data=release).json == {"status": "accepted"}
    conn = sqlite3.connect(db_path)
    assert stored(conn) == (1, 1)
    index = client.get("/export/", headers=AUTH).json
    assert index["days"] == [{"date": "2026-11-02", "systems": 1, "duplicate": 0, "ignored": 1}]


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
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_bad_bodies_get_400_with_a_reason_and_store_nothing(
    client: FlaskClient, db: sqlite3.Connection, case: str
) -> None:
    body, reason = BAD_BODIES[case]
    response = client.post("/", data=body)
    assert response.status_code == 400
    assert reason in response.json["error"]
    assert stored(db) == (0, 0)
    assert db.execute("SELECT count(*) FROM outcomes").fetchone()[0] == 0


def test_256_components_of_64_character_versions_are_accepted(client: FlaskClient) -> None:
    body = wire.analytics(SYSTEM, [(f"p{i}", "1." * 31 + "10") for i in range(256)])
    assert client.post("/", data=body).json == {"status": "accepted"}


def test_bodies_over_64_kib_get_413_and_store_nothing(
    client: FlaskClient, db: sqlite3.Connection
) -> None:
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


def test_healthz_is_503_while_the_database_cannot_be_written(
    client: FlaskClient, db_path: Any
) -> None:
    client.get("/healthz")  # the app's connection exists before the lock is taken
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json["status"] == "unavailable"
    finally:
        blocker.execute("ROLLBACK")
    assert client.get("/healthz").status_code == 200


def test_front_page_links_the_site_or_redirects(make_app: Callable[..., Flask]) -> None:
    page = make_app().test_client().get("/")
    assert page.status_code == 200
    assert b"<a href=" in page.data
    redirect = make_app(SITE_URL="https://example.org/analytics/").test_client().get("/")
    assert (redirect.status_code, redirect.location) == (302, "https://example.org/analytics/")


def test_rejected_posts_on_each_day_are_counted(client: FlaskClient, clock: Clock) -> None:
    client.post("/", data=wire.analytics(SYSTEM))
    client.post("/", data=wire.analytics(SYSTEM))
    client.post("/", data=wire.analytics(SYSTEM))
    clock.set_day(date(2026, 11, 3))
    client.post("/", data=wire.analytics(str(uuid.uuid4())))
    days = client.get("/export/", headers=AUTH).json["days"]
    assert days == [
        {"date": "2026-11-02", "systems": 1, "duplicate": 2, "ignored": 0},
        {"date": "2026-11-03", "systems": 1, "duplicate": 0, "ignored": 0},
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
def test_chunked_bodies_over_64_kib_get_413(
    client: FlaskClient, db: sqlite3.Connection, size: int
) -> None:
    response = post_chunked(client, body_of_size(size))
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json["error"]
    assert stored(db) == (0, 0)


def test_a_chunked_body_of_exactly_64_kib_is_accepted(client: FlaskClient) -> None:
    assert post_chunked(client, body_of_size(65536)).json == {"status": "accepted"}


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
