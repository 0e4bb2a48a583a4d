"""Summary files: schema checks (both validators agree) and ``check-summaries``."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from builder.cli import main
from builder.summaries.summary import _compiled, committed_schema, first_schema_error, load

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
    "float count": broken(lambda d: d["xyz_component"]["(other)"].update({"(other)": 1.5})),
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


# -- files that are schema-valid, or not files at all, and would still break the site --------

DAY = "prod/2026/2026-11-03.json"
TEXT = (GOLDEN / DAY).read_text()


def replace(old: str, new: str) -> Any:
    def change(root: Path) -> Path:
        path = root / DAY
        assert old in TEXT
        path.write_text(TEXT.replace(old, new, 1))
        return path

    return change


def write(relative: str, text: str) -> Any:
    def change(root: Path) -> Path:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return change


def directory_named_like_a_day(root: Path) -> Path:
    path = root / "prod/2026/2026-11-06.json"
    path.mkdir()
    return path


def link_named_like_a_day(root: Path) -> Path:
    path = root / "prod/2026/2026-11-06.json"
    path.symlink_to(root / "prod/2026/2026-11-05.json")
    return path


def nested_inside_a_value(depth: int) -> str:
    nested = f'"processes__avg": {"[" * depth}{"]" * depth}'
    return TEXT.replace('"processes__avg": null', nested, 1)


TODAY = datetime.now(UTC).date()  # not over yet
BUCKETS = '"processes": {\n      "(other)": 2\n    }'  # online_workers_buckets on 2026-11-03
BREAKS_THE_SITE = {
    "NaN mean": (
        replace('"processes__avg": null', '"processes__avg": NaN'),
        "cannot read summary (NaN is not a JSON",
    ),
    "Infinity mean": (
        replace('"hosts__avg": null', '"hosts__avg": Infinity'),
        "cannot read summary (Infinity is not a JSON number",
    ),
    "a number too large for a double": (
        replace('"processes__avg": null', '"processes__avg": 1e400'),
        "cannot read summary (number 1e400 is out of range",
    ),
    "an impossible age": (
        replace('"age_count": {', '"age_count": {"20000000": 1, '),
        "age_count: age 20000000 is impossible (a system first seen on 2000-01-01 would be"
        " 9803 days old)",
    ),
    "an age one day too old": (
        replace('"age_count": {', '"age_count": {"9804": 1, '),
        "age_count: age 9804 is impossible",
    ),
    "an integer written as a float": (
        replace('"systems": 3,', '"systems": 40.0,'),
        "at systems: an integer is written as a float",
    ),
    "a count written as a float": (
        replace('"(other)": 4', '"(other)": 4.0'),
        "at xy_component/(other)/(other): an integer is written as a float",
    ),
    "a key twice": (
        replace('"systems": 3,', '"systems": 3, "systems": 3,'),
        "cannot read summary (duplicate key 'systems'",
    ),
    "a copy in another year's folder": (
        write("prod/2025/2026-11-03.json", TEXT),
        "belongs in the folder 2026/",
    ),
    "nested deeper than the parser goes": (
        write("prod/2026/2026-11-06.json", "[" * 100_000 + "]" * 100_000),
        "nested too deeply to be a summary",
    ),
    "nested deep inside a value": (
        lambda root: write(DAY, nested_inside_a_value(600))(root),
        "schema: at online_workers/processes__avg:",
    ),
    "a stray file": (write("prod/2026/notes.json", '{"todo": 1}\n'), "file name is not a date"),
    "a folder named like a day": (directory_named_like_a_day, "not a regular file"),
    "a link named like a day": (link_named_like_a_day, "a symbolic link, not a summary file"),
    "a day that has not ended": (
        write(
            f"prod/{TODAY.year}/{TODAY}.json",
            TEXT.replace("2026-11-03", TODAY.isoformat()),
        ),
        f"date {TODAY} is not a day between 2000-01-01 and yesterday (UTC): only a day that"
        " has ended is summarized",
    ),
    # SPEC §8: what a summary may not publish, however it got into the file
    "an unreviewed component name": (
        replace('"xy_component": {', '"xy_component": {"acme_internal": {"1.0": 7}, '),
        "at xy_component/acme_internal: 'acme_internal' is not a reviewed component name"
        ' (builder/components.py); a published summary counts it under "(other)"',
    ),
    "a version below the minimum": (
        replace('"xyz_component": {', '"xyz_component": {"core": {"3.21.0": 7, "3.21.1": 2}, '),
        "at xyz_component/core/3.21.1: 2 systems, below the prod minimum of 5; a published"
        ' summary counts it under "(other)" (SPEC §8)',
    ),
    "a component below the minimum": (
        replace('"xy_component": {', '"xy_component": {"cookbook": {"(other)": 3}, '),
        "at xy_component/cookbook: 3 systems in all, below the prod minimum of 5; a published"
        ' summary counts the component under "(other)" (SPEC §8)',
    ),
    "a PostgreSQL version below the minimum": (
        replace('"postgresql_version": {', '"postgresql_version": {"130004": 1, '),
        "at postgresql_version/130004: 1 system, below the prod minimum of 5",
    ),
    "an RBAC count below the minimum": (
        replace('"users": {', '"users": {"12": 4, '),
        "at rbac_stats/users/12: 4 systems, below the prod minimum of 5",
    ),
    'versions under the component "(other)"': (
        replace('"(other)": 4', '"7.7.7+private": 1, "(other)": 3'),
        'at xy_component/(other)/7.7.7+private: the component "(other)" holds only the version'
        ' "(other)" (it sums different components)',
    ),
    "a mean of too few systems": (
        replace('"processes__avg": null', '"processes__avg": 3.0'),
        "at online_workers/processes__avg: a mean of at most 2 persistent systems, below the"
        " prod minimum of 5; a published summary has null there (SPEC §8)",
    ),
    # the metrics added later: buckets in order, core versions that agree with the versions
    "a bucket below the minimum": (
        replace(BUCKETS, '"processes": {\n      "1": 30,\n      "9-16": 2\n    }'),
        "at online_workers_buckets/processes/9-16: 2 systems, below the prod minimum of 5; a"
        " published summary merges the bucket with its neighbours towards the median (SPEC §8)",
    ),
    '"(other)" beside buckets': (
        replace(BUCKETS, '"processes": {\n      "1": 30,\n      "(other)": 2\n    }'),
        'at online_workers_buckets/processes/(other): "(other)" stands alone in a map of buckets',
    ),
    "overlapping buckets": (
        replace(BUCKETS, '"processes": {\n      "0-4": 30,\n      "1": 9\n    }'),
        "at online_workers_buckets/processes: buckets 0-4 and 1 overlap",
    ),
    "a bucket that splits a fixed one": (
        replace(BUCKETS, '"processes": {\n      "1": 30,\n      "10-16": 9\n    }'),
        "at online_workers_buckets/processes: bucket 10-16 does not start and end where the"
        " fixed buckets do",
    ),
    "a key that is no bucket": (
        replace(BUCKETS, '"processes": {\n      "many": 30\n    }'),
        "schema: at online_workers_buckets/processes: 'many' does not match",
    ),
    "core counted by its own version": (
        replace('"core_xy_by_component": {', '"core_xy_by_component": {"core": {"3.21": 9}, '),
        "at core_xy_by_component/core: core is not counted by its own version",
    ),
    "core versions of a component the versions do not count": (
        replace('"core_xy_by_component": {', '"core_xy_by_component": {"rpm": {"3.21": 7}, '),
        "at core_xy_by_component/rpm: 7 systems in all, but xy_component counts 0 running rpm",
    ),
    "a dev file with an unreviewed name": (
        write(
            "dev/2026/2026-11-03.json",
            TEXT.replace('"prod"', '"dev"').replace(
                '"xy_component": {', '"xy_component": {"zz_private_plugin": {"1.0": 1}, ', 1
            ),
        ),
        "at xy_component/zz_private_plugin: 'zz_private_plugin' is not a reviewed component",
    ),
}


@pytest.fixture
def summaries(tmp_path: Path) -> Path:
    root = tmp_path / "summaries"
    shutil.copytree(GOLDEN, root)
    return root


@pytest.mark.parametrize("case", BREAKS_THE_SITE)
def test_check_summaries_and_build_refuse_the_same_files(
    summaries: Path, tmp_path: Path, case: str
) -> None:
    """Each file is named in one line by both commands, and no site is built from it."""
    change, reason = BREAKS_THE_SITE[case]
    path = change(summaries)
    code, output = check(summaries)
    assert code == 1
    problems = [line for line in output.splitlines() if not line.startswith("Error: ")]
    assert len(problems) == 1 and problems[0].startswith(f"{path}: {reason}"), output
    assert len(problems[0]) <= len(f"{path}: ") + 300  # a long value is cut short
    out = tmp_path / "site"
    deployment = path.relative_to(summaries).parts[0]
    result = CliRunner().invoke(
        main,
        ["build", "--summaries", str(summaries), "--deployment", deployment, "--out", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: {reason}")
    assert len(result.output.splitlines()) == 1
    assert not (out / "index.html").exists()


def test_the_oldest_possible_age_is_accepted(summaries: Path) -> None:
    path = replace('"age_count": {', '"age_count": {"9803": 1, ')(summaries)
    assert load(path, "prod").age_count[9803] == 1  # first seen on 2000-01-01
