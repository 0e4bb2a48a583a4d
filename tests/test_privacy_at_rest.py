"""SPEC §8, at rest: no posted system id survives anywhere the pipeline writes.

Reports with known ids go to a real ``pulp-analytics serve`` (gunicorn, as the receiver unit
runs it, its log captured) on two days; then the export, ``summarize`` from the export and
from the file, the prune unit's own commands (``prune`` and the ``sqlite3 .backup``, run as
systemd would, under the unit's umask) while the receiver keeps running. Every byte of the
database, its -wal and -shm, the backup, the logs, the export and the summaries is searched for
every id in every form, and the logs, the export and the summaries for the keyed hashes too.
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import stat
import subprocess
import sys
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from builder.devtools import receivers
from tests import wire
from tests.conftest import ID_KEY, TOKEN
from tests.leaks import found, hash_forms, id_forms, keyed_hash

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "pulp-analytics")
CLIENT_ADDRESS = "127.0.0.2"  # the server listens on 127.0.0.1, and may say so
PRUNE_UNIT = ROOT / "deploy" / "pulp-analytics-prune.service"
STATE = "/var/lib/pulp-analytics"


def post(port: int, body: bytes) -> int:
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(CLIENT_ADDRESS, 0)
    )
    conn.request("POST", "/", body=body, headers={"Content-Type": "application/octet-stream"})
    status = conn.getresponse().status
    conn.close()
    return status


def get(url: str, path: Path) -> None:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        path.write_bytes(response.read())


class Pipeline:
    """The receiver's files, the commands' outputs and what they wrote, under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"  # what /var/lib/pulp-analytics is on the host
        (self.state / "backup").mkdir(parents=True, mode=0o700)
        self.db = self.state / "receiver.sqlite3"
        self.logs = root / "logs"
        self.logs.mkdir()
        self.env = {
            "ANALYTICS_DEPLOYMENT": "prod",
            "ANALYTICS_EXPORT_TOKEN": TOKEN,
            "ANALYTICS_ID_KEY": ID_KEY,
            "ANALYTICS_RETENTION_DAYS": "1",
            "ANALYTICS_SYSTEM_LIFETIME_DAYS": "1",
        }

    def serve(self, day: date) -> tuple[subprocess.Popen[bytes], int]:
        """The receiver as deploy runs it, its clock on ``day``; its output goes to a log."""
        port = receivers.free_port()
        log = (self.logs / "receiver.log").open("ab")
        env = {**self.env, "ANALYTICS_CLOCK": f"{day}T12:00:00Z"}
        server = receivers.start(self.db, port, workers=2, env=env, log=log)
        receivers.wait_healthy(f"http://127.0.0.1:{port}/", server)
        return server, port

    def run(self, name: str, command: list[str], umask: int = 0o022) -> str:
        """A command with the receiver's environment; its output is kept as a log."""
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            cwd=self.root,
            timeout=120,
            preexec_fn=lambda: os.umask(umask) and None,
        )
        (self.logs / f"{name}.log").write_text(result.stdout + result.stderr)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def prune_unit(self) -> list[str]:
        """The prune unit's ExecStart lines, as systemd runs them: its UMask, its paths."""
        lines = PRUNE_UNIT.read_text().splitlines()
        umask = int(next(line for line in lines if line.startswith("UMask=")).split("=")[1], 8)
        outputs = []
        for number, line in enumerate(x for x in lines if x.startswith("ExecStart=")):
            command = shlex.split(line.removeprefix("ExecStart="))
            command = [
                part.replace("/opt/pulp-analytics/.venv/bin/pulp-analytics", CLI).replace(
                    STATE, str(self.state)
                )
                for part in command
            ]
            outputs.append(self.run(f"prune-unit-{number}", command, umask))
        return outputs


def test_no_posted_system_id_is_left_in_any_file_the_pipeline_writes(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    first, second = today - timedelta(days=2), today - timedelta(days=1)
    systems = [str(uuid.uuid4()) for _ in range(10)]
    pipe = Pipeline(tmp_path)
    reports = {system: wire.analytics(system, [("core", "3.21.0")]) for system in systems}

    server, port = pipe.serve(first)
    try:
        for system in systems[:6]:
            assert post(port, reports[system]) == 200
        assert post(port, reports[systems[0]]) == 200  # a duplicate
        assert post(port, wire.analytics(systems[1], [("Private-Plugin", "1.0")])) == 400
        assert post(port, wire.analytics(systems[2], [("core", "3.22.0.dev")])) == 200  # ignored
    finally:
        receivers.stop(server)

    server, port = pipe.serve(second)
    try:
        for system in systems[3:]:
            assert post(port, reports[system]) == 200
        url = f"http://127.0.0.1:{port}/"
        export = tmp_path / "export"
        export.mkdir()
        get(f"{url}export/", export / "index.json")
        for day in (first, second):
            get(f"{url}export/{day}.jsonl", export / f"{day}.jsonl")
        summarize = [CLI, "summarize", "--deployment", "prod"]
        pipe.run("summarize-source", [*summarize, "--source", url, "--summaries", "from-source"])
        pipe.run("summarize-db", [*summarize, "--db", str(pipe.db), "--summaries", "from-db"])
        prune_output, _ = pipe.prune_unit()  # while the receiver keeps running, as deployed
        live = [pipe.db.with_name(pipe.db.name + suffix) for suffix in ("", "-wal", "-shm")]
        at_rest_live = found(live, {s: id_forms(s) for s in systems})
        assert live[1].exists()  # the receiver is running: the log file is there to search
    finally:
        receivers.stop(server)

    backup = pipe.state / "backup" / "receiver.sqlite3"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert "forgot 3 systems not seen for 1 day" in prune_output  # seen on the first day only
    summaries = sorted((tmp_path / "from-source").rglob("*.json"))
    summaries += sorted((tmp_path / "from-db").rglob("*.json"))
    assert len(summaries) == 3  # the receiver's today was the second day: one from the export
    exported = [json.loads(line) for line in (export / f"{second}.jsonl").read_text().split()]
    assert sorted(line["age_days"] for line in exported) == [0, 0, 0, 0, 1, 1, 1]

    at_rest = sorted(pipe.state.rglob("*"))
    assert {p.name for p in at_rest} >= {"receiver.sqlite3", "backup"}
    written = [*sorted(pipe.logs.iterdir()), *sorted(export.iterdir()), *summaries]
    ids = {system: id_forms(system) for system in systems}
    hashes = {f"hash of {s}": hash_forms(keyed_hash(ID_KEY, s)) for s in systems}
    assert at_rest_live == []
    assert found(at_rest, ids) == []
    assert found(written, {**ids, **hashes}) == []
    # the search can fail: the hashes are in the database, the ids were in the reports
    assert found([pipe.db], hashes)
    assert all(form in reports[s] for s in systems for form in id_forms(s)[:1])
    log = (pipe.logs / "receiver.log").read_text()
    requests = [line for line in log.splitlines() if " POST / " in line]
    assert len(requests) == 16
    assert CLIENT_ADDRESS not in log
