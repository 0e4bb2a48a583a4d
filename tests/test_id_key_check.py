"""A receiver never starts with an ID key other than the one its database's hashes were made
with (a restored backup, a wrong secret mounted, a lost dev key): every system would silently
count as new. Rotating the key on purpose is one command, ``accept-id-key``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from receiver.store import Database, IdKeyMismatch
from tests import wire
from tests.conftest import AUTH, ID_KEY, Clock
from tests.stores import Peek

pytestmark = pytest.mark.stores("sqlite", "postgresql")
CLI = str(Path(sys.executable).parent / "pulp-analytics")
SYSTEM = "0c8f5a4e-5d3b-4f7e-8a21-3e9d6b1c2f40"
NEW_KEY = "5a" * 32


def ages(app: Flask, day: str) -> list[int]:
    response = app.test_client().get(f"/export/{day}.jsonl", headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [json.loads(line)["age_days"] for line in response.get_data(as_text=True).splitlines()]


def accept_id_key(database: Database, key: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``pulp-analytics accept-id-key`` as an operator runs it, with the receiver's settings."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "ANALYTICS_DATABASE": str(database),
        "ANALYTICS_ID_KEY": key,
    }
    return subprocess.run(
        [CLI, "accept-id-key"], capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )


def test_a_receiver_refuses_another_key_and_changes_nothing(
    make_app: Callable[..., Flask], database: Database, clock: Clock
) -> None:
    app = make_app()
    assert app.test_client().post("/", data=wire.analytics(SYSTEM)).json == {"status": "accepted"}
    peek = Peek(database)
    try:
        before = peek.snapshot()
        with pytest.raises(IdKeyMismatch) as refused:
            make_app(ID_KEY=NEW_KEY)
        assert peek.snapshot() == before
    finally:
        peek.close()
    message = str(refused.value)
    assert "\n" not in message and NEW_KEY not in message and ID_KEY not in message
    assert "pulp-analytics accept-id-key" in message
    clock.advance(days=2)  # the right key again: the system keeps its age
    again = make_app()
    assert again.test_client().post("/", data=wire.analytics(SYSTEM)).json == {"status": "accepted"}
    assert ages(again, "2026-11-04") == [2]


def test_accept_id_key_makes_a_rotated_key_the_databases_own(
    make_app: Callable[..., Flask], database: Database, clock: Clock, tmp_path: Path
) -> None:
    app = make_app()
    app.test_client().post("/", data=wire.analytics(SYSTEM))
    app.extensions["analytics"].store.close()

    rotated = accept_id_key(database, NEW_KEY, tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.strip().endswith(
        "now takes the configured ID key: every system counts as new at its next report"
    )
    assert NEW_KEY not in rotated.stdout + rotated.stderr
    again = accept_id_key(database, NEW_KEY, tmp_path)
    assert again.stdout.strip().endswith("already takes the configured ID key; nothing changed")

    clock.advance(days=2)
    new = make_app(ID_KEY=NEW_KEY)
    assert new.test_client().post("/", data=wire.analytics(SYSTEM)).json == {"status": "accepted"}
    assert ages(new, "2026-11-04") == [0]  # as the rotation steps in docs/operations.md warn
    with pytest.raises(IdKeyMismatch):
        make_app()  # and the old key is now the wrong one


@pytest.mark.stores("sqlite")
def test_serve_and_accept_id_key_refuse_in_one_line(
    make_app: Callable[..., Flask], database: Database, tmp_path: Path
) -> None:
    make_app().extensions["analytics"].store.close()
    serve = subprocess.run(
        [CLI, "serve", "--db", str(database), "--port", "9"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "ANALYTICS_ID_KEY": NEW_KEY},
        timeout=60,
    )
    assert serve.returncode == 1
    assert serve.stderr.splitlines() == [
        "Error: the ID key is not the one this database's system hashes were made with: every"
        " system would count as new. Start with that key; if the key was rotated on purpose,"
        " run `pulp-analytics accept-id-key` once (docs/operations.md)"
    ]

    missing = tmp_path / "elsewhere.sqlite3"
    refused = accept_id_key(missing, NEW_KEY, tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"Error: no receiver database at {missing}; nothing was changed"
    ]
    assert not missing.exists()
    bad_key: Any = accept_id_key(database, "not a key", tmp_path)
    assert bad_key.returncode == 1 and bad_key.stderr.startswith("Error: ANALYTICS_ID_KEY must be")
