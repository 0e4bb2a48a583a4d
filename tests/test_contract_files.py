"""Checked-in files generated from the contract must match their sources."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from builder.summaries.summary import SCHEMA_PATH, dumps, schema

ROOT = Path(__file__).resolve().parent.parent


def test_generated_protobuf_module_matches_the_proto(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{ROOT / 'proto'}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            str(ROOT / "proto/analytics.proto"),
        ],
        check=True,
    )
    for name in ("analytics_pb2.py", "analytics_pb2.pyi"):
        assert (tmp_path / name).read_text() == (ROOT / "receiver" / name).read_text(), (
            f"receiver/{name} is stale: run `make proto`"
        )


def test_summary_schema_matches_the_metric_definitions() -> None:
    assert SCHEMA_PATH.read_text() == dumps(schema()), "stale schema: run `make schema`"
    assert json.loads(SCHEMA_PATH.read_text())["additionalProperties"] is False
