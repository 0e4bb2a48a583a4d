"""Summary files: schema checks (both validators agree) and ``check-summaries``."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from builder.cli import main
from builder.summaries.summary import _compiled, committed_schema, first_schema_error

GOLDEN = Path(__file__).parent / "golden" / "summaries"
VALID = json.loads((GOLDEN / "prod/2026/2026-11-03.json").read_text())


def broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    change(data)
    return data


BROKEN = {
    "missing key": broken(lambda d: d.pop("systems")),
    "extra key": broken(lambda d: d.update(surprise=1)),
    "negative count": broken(lambda d: d["age_count"].update({"3": -1})),
    "age not a number": broken(lambda d: d["age_count"].update({"old": 1})),
    "float count": broken(lambda d: d["xyz_component"]["core"].update({"3.21.0": 1.5})),
    "unknown deployment": broken(lambda d: d.update(deployment="staging")),
    "bad date": broken(lambda d: d.update(date="27.11.2026")),
    "schema version": broken(lambda d: d.update(schema_version=2)),
    "average as text": broken(lambda d: d["online_workers"].update(processes__avg="2")),
    "rbac measure missing": broken(lambda d: d["rbac_stats"].pop("users")),
}


def test_a_valid_file_passes() -> None:
    assert first_schema_error(VALID) is None


@pytest.mark.parametrize("case", BROKEN)
def test_both_validators_reject_and_the_message_says_where(case: str) -> None:
    data = BROKEN[case]
    assert not Draft202012Validator(committed_schema()).is_valid(data)
    fast = _compiled()
    with pytest.raises(fastjsonschema.JsonSchemaException):
        fast(data)
    message = first_schema_error(data)
    assert message is not None and message.startswith("schema: at ")


def check(root: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check-summaries", str(root)])
    return result.exit_code, result.output


def test_check_summaries_accepts_the_committed_files() -> None:
    code, output = check(Path(__file__).parent.parent / "summaries")
    assert code == 0, output


def test_check_summaries_names_each_bad_file(tmp_path: Path) -> None:
    shutil.copytree(GOLDEN, tmp_path, dirs_exist_ok=True)
    good = tmp_path / "prod/2026/2026-11-02.json"
    (tmp_path / "prod/2026/2026-11-03.json").write_text(json.dumps(VALID))  # not canonical
    (tmp_path / "prod/2025").mkdir()
    shutil.copy(good, tmp_path / "prod/2025/2026-11-02.json")  # wrong year folder
    (tmp_path / "dev/2026").mkdir(parents=True)
    shutil.copy(good, tmp_path / "dev/2026/2026-11-02.json")  # another deployment's file
    (tmp_path / "prod/2026/2026-11-05.json").write_text("{")  # not JSON
    code, output = check(tmp_path)
    assert code == 1
    assert "prod/2026/2026-11-03.json: not in canonical form" in output
    assert "prod/2025/2026-11-02.json: belongs in the folder 2026/" in output
    assert "dev/2026/2026-11-02.json: deployment is 'prod', not 'dev'" in output
    assert "prod/2026/2026-11-05.json: cannot read summary" in output
    assert "Error: 4 of 6 summary files are invalid" in output
