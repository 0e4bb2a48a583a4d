"""Migration 0003: a database made by the receiver that stored system ids, converted in place.

The database is ``fixtures/receiver-0002.sqlite3``, written by that receiver's own code (see
``fixtures/make_receiver_0002.py``) rather than rebuilt here from its SQL: it holds what such a
file really holds, ids in free pages left by a prune included, and it stays that file however
the code changes later.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from receiver import create_app
from receiver.store import sqlite as store
from tests import wire
from tests.conftest import AUTH, ID_KEY, TOKEN, Clock
from tests.fixtures.make_receiver_0002 import DAYS, FIRST_DAY, SYSTEMS, fixture_uuid, report
from tests.leaks import found, id_forms, keyed_hash

FIXTURE = Path(__file__).parent / "fixtures" / "receiver-0002.sqlite3"
TODAY = date.fromordinal(FIRST_DAY.toordinal() + DAYS)  # the fixture's last day
IDS = {f"system {n}": fixture_uuid(n) for n in range(SYSTEMS + 1)}


def copy_fixture(tmp_path: Path) -> Path:
    db = tmp_path / "receiver.sqlite3"
    shutil.copyfile(FIXTURE, db)
    db.chmod(0o600)
    return db


def snapshot(db: Path) -> dict[str, Any]:
    """Everything but the ids, keyed by system id: to compare before and after."""
    conn = sqlite3.connect(db)
    id_column = "system_id" if "system_id" in columns(conn, "systems") else "system_hash"
    systems = {
        row[0]: row[1:]
        for row in conn.execute(f"SELECT {id_column}, first_seen, id FROM systems ORDER BY id")
    }
    reports = {
        (row[0], row[1]): row[2:]
        for row in conn.execute(
            f"SELECT y.{id_column}, s.day, s.id, s.received_at, s.data, s.raw"
            " FROM submissions AS s JOIN systems AS y ON y.id = s.system"
        )
    }
    tables = {
        name: conn.execute(f"SELECT * FROM {name} ORDER BY 1, 2").fetchall()
        for name in ("outcomes", "fetched_days")
    }
    meta = dict(conn.execute("SELECT key, value FROM meta WHERE key != 'checked_at'"))
    conn.close()
    return {"systems": systems, "reports": reports, "meta": meta, **tables}


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def rekeyed(old: dict[str, Any]) -> dict[str, Any]:
    """What the snapshot must be after the migration: each id replaced by its keyed hash, the
    raw reports without their leading system id field, the key's check value recorded (so no
    other key is taken later), all else the same."""
    digest = {system_id: keyed_hash(ID_KEY, system_id) for system_id in old["systems"]}
    reports = {}
    for (system_id, day), (row_id, received, data, raw) in old["reports"].items():
        field = wire.text(1, system_id)
        assert raw.startswith(field)
        reports[(digest[system_id], day)] = (row_id, received, data, raw[len(field) :])
    systems = {digest[system_id]: values for system_id, values in old["systems"].items()}
    check = int.from_bytes(keyed_hash(ID_KEY, "pulp-analytics ID key check")[:7], "big")
    meta = {**old["meta"], "id_key_check": check}
    return {**old, "systems": systems, "reports": reports, "meta": meta}


def migrated_app(db: Path, clock: Clock) -> Any:
    return create_app(
        {"DATABASE": db, "DEPLOYMENT": "prod", "ID_KEY": ID_KEY, "CLOCK": clock,
         "EXPORT_TOKEN": TOKEN}
    )  # fmt: skip


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 7 rows, so the 24 systems and 97 reports take several transactions."""
    monkeypatch.setattr(store, "MIGRATION_BATCH", 7)


def test_the_fixture_holds_system_ids_in_tables_and_free_pages() -> None:
    """Otherwise the test below could not fail."""
    conn = sqlite3.connect(f"{FIXTURE.as_uri()}?mode=ro", uri=True)
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] > 0
    names = [row[0] for row in conn.execute("SELECT name FROM schema_migrations")]
    assert names == ["0001_initial", "0002_fetched_days"]
    assert len(found([FIXTURE], {k: v[:1] for k, v in forms().items()})) == SYSTEMS
    conn.close()


def forms() -> dict[str, list[bytes]]:
    return {name: id_forms(system_id) for name, system_id in IDS.items()}


@pytest.mark.usefixtures("small_batches")
def test_migration_hashes_every_id_keeps_every_day_and_leaves_no_id_in_the_file(
    tmp_path: Path, clock: Clock
) -> None:
    db = copy_fixture(tmp_path)
    before = snapshot(db)
    clock.set_day(TODAY)
    app = migrated_app(db, clock)
    after = snapshot(db)
    assert after == rekeyed(before)
    files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    assert found(files, forms()) == []
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert [row[0] for row in conn.execute("SELECT name FROM schema_migrations")][-1] == (
        "0003_keyed_system_ids"
    )
    conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError):  # the foreign key still holds
        conn.execute("INSERT INTO submissions VALUES (NULL, 1, 9999, '', '{}', x'')")
    conn.rollback()
    conn.close()
    client = app.test_client()
    # the day's first report still wins; first seen and age carry on
    assert client.post("/", data=report(0, DAYS)).json == {"status": "duplicate"}
    clock.set_day(date.fromordinal(TODAY.toordinal() + 1))
    assert client.post("/", data=report(0, DAYS + 1)).json == {"status": "accepted"}
    assert client.post("/", data=report(3, DAYS + 1)).json == {"status": "accepted"}
    lines = client.get(f"/export/{clock.now.date()}.jsonl", headers=AUTH).get_data(as_text=True)
    assert sorted(line.split('"age_days":')[1].split(",")[0] for line in lines.split()) == [
        "11",  # system 0: first seen on the fixture's first day
        "8",  # system 3: reported once, on day 3, whose reports were pruned
    ]


def test_last_seen_is_the_newest_kept_report_or_the_last_day_that_was_pruned(
    tmp_path: Path, clock: Clock
) -> None:
    db = copy_fixture(tmp_path)
    old = sqlite3.connect(db)
    newest = dict(old.execute("SELECT system, max(day) FROM submissions GROUP BY system"))
    pruned_before = old.execute("SELECT value FROM meta WHERE key = 'pruned_before'").fetchone()
    ids = list(old.execute("SELECT id, first_seen FROM systems"))
    old.close()
    clock.set_day(TODAY)
    migrated_app(db, clock)
    conn = sqlite3.connect(db)
    last_seen = dict(conn.execute("SELECT id, last_seen FROM systems"))
    expected = {i: newest.get(i, max(first, pruned_before[0] - 1)) for i, first in ids}
    assert last_seen == expected
    assert sum(i not in newest for i, _ in ids) > 0  # some systems have no kept report


@pytest.mark.usefixtures("small_batches")
def test_an_interrupted_migration_resumes_where_it_stopped(tmp_path: Path, clock: Clock) -> None:
    db = copy_fixture(tmp_path)
    before = snapshot(db)
    calls = []

    def failing_hash(system_id: str) -> bytes:
        calls.append(system_id)
        if len(calls) == 10:  # in the second batch: the first one is committed
            raise OSError("killed")
        return keyed_hash(ID_KEY, system_id)

    conn = store.connect(db)
    with pytest.raises(OSError, match="killed"):
        store.migrate(conn, TODAY, failing_hash)
    conn.close()
    halfway = sqlite3.connect(db)
    assert halfway.execute("SELECT count(*) FROM systems_keyed").fetchone()[0] == 7
    halfway.close()
    clock.set_day(TODAY)
    migrated_app(db, clock)
    assert snapshot(db) == rekeyed(before)
    files = [db, db.with_name(db.name + "-wal")]
    assert found(files, forms()) == []


def test_a_migrated_database_is_left_alone_the_next_time(tmp_path: Path, clock: Clock) -> None:
    db = copy_fixture(tmp_path)
    clock.set_day(TODAY)
    migrated_app(db, clock)
    after = snapshot(db)
    migrated_app(db, clock)
    assert snapshot(db) == after


@pytest.mark.usefixtures("small_batches")
def test_two_processes_starting_at_once_migrate_the_database_once(
    tmp_path: Path, clock: Clock
) -> None:
    """gunicorn migrates once before it forks, but a backfill and a receiver, or two
    receivers, may start on one file at the same moment."""
    db = copy_fixture(tmp_path)
    before = snapshot(db)
    errors: list[BaseException] = []

    def slow_hash(system_id: str) -> bytes:
        time.sleep(0.005)  # the others wait for the write lock meanwhile, or get it between batches
        return keyed_hash(ID_KEY, system_id)

    def start() -> None:
        try:
            conn = store.connect(db)
            store.migrate(conn, TODAY, slow_hash)
            conn.close()
        except BaseException as exc:  # reported below, with the other thread's
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert snapshot(db) == rekeyed(before)
    assert found([db, db.with_name(db.name + "-wal")], forms()) == []
