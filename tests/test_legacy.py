"""``pulp-analytics import-legacy``: the old site's dumpdata fixture into summary files.

Every expected summary below is worked out by hand from tests/legacy_fixture.py: ``systems``
is the sum of the day's age counts, ``persistent_systems`` the sum over ages >= 1 on prod
(>= 0 on dev), means rounded to 4 decimals, null where the old site stored none. On prod, a
count below 5 is then published under "(other)" (SPEC §8; ``FOLDED_ON_PROD``).
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import git
import pytest
from click.testing import CliRunner

from builder.cli import main
from builder.summaries import legacy
from builder.summaries.summary import Summary, check_file, first_schema_error
from tests import legacy_fixture as fx
from tests.legacy_fixture import A, B, C, D

MEASURES = ("users", "groups", "domains", "custom_access_policies", "custom_roles")
NO_RBAC: dict[str, Any] = {measure: {} for measure in MEASURES}


def expected(day: str, deployment: str = "prod") -> dict[str, Any]:
    """The summary file of ``day``, by hand."""
    dev = deployment == "dev"
    files: dict[str, dict[str, Any]] = {
        A: {
            "systems": 20,  # 4 + 2 + 5 + 3 + 6
            "persistent_systems": 20 if dev else 16,  # without the 4 of age 0
            "age_count": {"0": 4, "1": 2, "3": 5, "12": 3, "30": 6},
            "xy_component": {"core": {"3.21": 10, "3.22": 6}, "rpm": {"3.19": 7}},
            "xyz_component": {
                "core": {"3.21.0": 4, "3.21.1": 6, "3.22.0": 6},
                "rpm": {"3.19.4": 7},
            },
            "postgresql_version": {"0": 1, "90624": 5, "130004": 10},
            "online_workers": {"processes__avg": 2.0, "hosts__avg": 1.0},
            "online_content_apps": {"processes__avg": 1.5, "hosts__avg": 1.0},
            "rbac_stats": NO_RBAC,
        },
        B: {
            "systems": 22,  # 3 + 4 + 1 + 6 + 2 + 6
            "persistent_systems": 22 if dev else 19,
            "age_count": {"0": 3, "1": 4, "2": 1, "4": 6, "13": 2, "31": 6},
            "xy_component": {"core": {"3.21": 4, "3.22": 15}, "rpm": {"3.19": 5, "3.20": 2}},
            "xyz_component": {
                "core": {"3.21.1": 4, "3.22.0": 9, "3.22.1": 6},
                "rpm": {"3.19.4": 5, "3.20.0": 2},
            },
            "postgresql_version": {"130004": 12, "140005": 7},
            # no DeploymentStats row: every mean is null
            "online_workers": {"processes__avg": None, "hosts__avg": None},
            "online_content_apps": {"processes__avg": None, "hosts__avg": None},
            "rbac_stats": {
                **NO_RBAC,
                "users": {"0": 3, "1": 10, "2": 4, "4": 2},
                "groups": {"0": 19},
            },
        },
        C: {
            "systems": 20,  # 2 + 3 + 4 + 2 + 1 + 2 + 6
            "persistent_systems": 20 if dev else 18,
            "age_count": {"0": 2, "1": 3, "2": 4, "3": 2, "5": 1, "14": 2, "32": 6},
            "xy_component": {"core": {"3.22": 18}},
            "xyz_component": {"core": {"3.22.1": 18}},
            "postgresql_version": {"0": 2, "140005": 16},
            "online_workers": {"processes__avg": 2.3333, "hosts__avg": None},
            "online_content_apps": {"processes__avg": 1.25, "hosts__avg": 1.0},
            "rbac_stats": {
                **NO_RBAC,
                "users": {"0": 2, "1": 8, "3": 5, "7": 3},
                "groups": {"0": 18},
            },
        },
        D: {
            "systems": 17,  # 1 + 2 + 3 + 4 + 2 + 5
            "persistent_systems": 17 if dev else 16,
            "age_count": {"0": 1, "1": 2, "2": 3, "6": 4, "15": 2, "34": 5},
            "xy_component": {"core": {"3.22": 10, "3.23": 6}, "rpm": {"3.20": 4}},
            "xyz_component": {"core": {"3.22.1": 10, "3.23.0": 6}, "rpm": {"3.20.1": 4}},
            "postgresql_version": {"0": 1, "120015": 3, "140005": 12},
            "online_workers": {"processes__avg": 3.0, "hosts__avg": 1.5},
            "online_content_apps": {"processes__avg": 2.0, "hosts__avg": None},
            "rbac_stats": {**NO_RBAC, "users": {"1": 9, "2": 7}, "groups": {"0": 16}},
        },
    }
    head = {"schema_version": 1, "date": day, "deployment": deployment, "source": "legacy"}
    return {**head, **files[day], **(FOLDED_ON_PROD[day] if deployment == "prod" else {})}


# What prod publishes differently: every count below 5 summed under "(other)"; a component
# counting fewer than 5 systems (rpm on D) is summed whole under the component "(other)", in
# X.Y and X.Y.Z alike. Ages, totals and means (over 16 to 19 persistent systems) stay as they are.
FOLDED_ON_PROD: dict[str, dict[str, Any]] = {
    A: {
        "xyz_component": {
            "core": {"3.21.1": 6, "3.22.0": 6, "(other)": 4},  # 3.21.0: 4
            "rpm": {"3.19.4": 7},
        },
        "postgresql_version": {"90624": 5, "130004": 10, "(other)": 1},  # unknown: 1
    },
    B: {
        "xy_component": {
            "core": {"3.22": 15, "(other)": 4},  # 3.21: 4
            "rpm": {"3.19": 5, "(other)": 2},  # 3.20: 2
        },
        "xyz_component": {
            "core": {"3.22.0": 9, "3.22.1": 6, "(other)": 4},  # 3.21.1: 4
            "rpm": {"3.19.4": 5, "(other)": 2},  # 3.20.0: 2
        },
        "rbac_stats": {
            **NO_RBAC,
            "users": {"1": 10, "(other)": 9},  # 0: 3, 2: 4, 4: 2
            "groups": {"0": 19},
        },
    },
    C: {
        "postgresql_version": {"140005": 16, "(other)": 2},  # unknown: 2
        "rbac_stats": {
            **NO_RBAC,
            "users": {"1": 8, "3": 5, "(other)": 5},  # 0: 2, 7: 3
            "groups": {"0": 18},
        },
    },
    D: {
        "xy_component": {"core": {"3.22": 10, "3.23": 6}, "(other)": {"(other)": 4}},  # rpm: 4
        "xyz_component": {"core": {"3.22.1": 10, "3.23.0": 6}, "(other)": {"(other)": 4}},
        "postgresql_version": {"140005": 12, "(other)": 4},  # unknown: 1, 12.15: 3
    },
}


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def run_import(fixture: Path, out: Path, *args: str) -> tuple[int, str, str]:
    return cli("import-legacy", str(fixture), "--summaries", str(out), *args)


def files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.json"))}


def path_of(root: Path, day: str, deployment: str = "prod") -> Path:
    return root / deployment / day[:4] / f"{day}.json"


@pytest.fixture
def fixture(tmp_path: Path) -> Path:
    return fx.write(tmp_path / "legacy.json", fx.history().rows)


@pytest.mark.parametrize("deployment", ["prod", "dev"])
def test_each_day_becomes_the_summary_worked_out_by_hand(
    fixture: Path, tmp_path: Path, deployment: str
) -> None:
    out = tmp_path / "summaries"
    code, stdout, stderr = run_import(fixture, out, "--deployment", deployment)
    assert (code, stderr) == (0, "")
    assert sorted(files(out)) == [f"{deployment}/2023/{day}.json" for day in (A, B, C, D)]
    for day in (A, B, C, D):
        path = path_of(out, day, deployment)
        assert json.loads(path.read_text()) == expected(day, deployment)
        check_file(path, deployment)  # schema-valid, in its year's folder, canonical bytes
    assert stdout.splitlines() == [
        f"read {len(fx.history().rows)} rows: 4 daily summaries",
        f"imported 4 days into {out}/{deployment}: 2023-04-14..2023-04-16 (3 days), 2023-04-18",
        "ignored 6 system and 12 component rows (per-system data is never imported)",
    ]


def test_row_order_and_layout_do_not_matter(tmp_path: Path) -> None:
    rows = fx.history().rows
    outputs = []
    for n, (shuffle, indent) in enumerate([(None, None), (1, 2), (2, "\t"), (3, None)]):
        fixture = fx.write(tmp_path / f"f{n}.json", rows, shuffle=shuffle, indent=indent)
        out = tmp_path / f"s{n}"
        assert run_import(fixture, out)[0] == 0
        outputs.append(files(out))
    assert all(output == outputs[0] for output in outputs)


def test_existing_summaries_are_never_overwritten(fixture: Path, tmp_path: Path) -> None:
    out = tmp_path / "summaries"
    mine = path_of(out, B)
    mine.parent.mkdir(parents=True)
    mine.write_text("the receiver's own summary\n")
    code, stdout, _ = run_import(fixture, out)
    assert code == 0
    assert mine.read_text() == "the receiver's own summary\n"
    assert "left 1 existing summary untouched" in stdout
    assert f"imported 3 days into {out}/prod: 2023-04-14, 2023-04-16, 2023-04-18" in stdout
    before = files(out)
    code, stdout, _ = run_import(fixture, out)  # a second run adds nothing
    assert (code, files(out)) == (0, before)
    assert "imported nothing: every day of the fixture has its summary already" in stdout
    assert "left 4 existing summaries untouched" in stdout


def test_malformed_days_are_reported_by_date_and_not_written(tmp_path: Path) -> None:
    rows = fx.history()
    rows.day("2023-04-20")
    rows.add("agecount", {"summary": "2023-04-20", "age": 3, "count": "7"})  # text
    rows.day("2023-04-21")
    rows.ages("2023-04-21", {3: 2})
    rows.add("agecount", {"summary": "2023-04-21", "age": 3, "count": 5})  # twice age 3
    rows.day("2023-04-22")
    rows.numbers("2023-04-22", "admins", {1: 4})  # not an RBAC measure
    rows.versions("xyversioncount", "2023-04-23", {"core": {"3.22": 4}})  # no dailysummary
    rows.day("2023-04-24")
    rows.means("2023-04-24", worker=(-1.0, 1.0), content_app=(1.0, 1.0))
    rows.day("2023-04-25")
    rows.ages("2023-04-25", {-2: 1, 4: 1})  # a negative age and a good row: one line
    out = tmp_path / "summaries"
    code, _, stderr = run_import(fx.write(tmp_path / "bad.json", rows.rows), out)
    assert code == 1
    lines = stderr.splitlines()
    assert [line.split(" ", 4)[:4] for line in lines[:-1]] == [
        ["2023-04-20:", "not", "imported:", "row"],
        ["2023-04-21:", "not", "imported:", "rows"],
        ["2023-04-22:", "not", "imported:", "row"],
        ["2023-04-23:", "not", "imported:", "rows"],
        ["2023-04-24:", "not", "imported:", "row"],
        ["2023-04-25:", "not", "imported:", "row"],
    ]
    assert (
        "(pulpanalytics.agecount pk=" in lines[0]
        and "count is not a whole number >= 0: '7'" in lines[0]
    )
    assert lines[1].endswith("both give age_count 3")
    assert (
        "name is not one of users, groups, domains, custom_access_policies, custom_roles: 'admins'"
        in lines[2]
    )
    assert lines[3].endswith("rows refer to this day, but the fixture has no dailysummary for it")
    assert lines[4].endswith("online_worker_processes_avg is negative: -1.0")
    assert lines[5].endswith("age is not a whole number >= 0: -2")
    assert lines[-1].startswith("Error: 6 days were not imported (malformed rows, listed above)")
    assert sorted(files(out)) == [f"prod/2023/{day}.json" for day in (A, B, C, D)]


def test_days_no_summary_may_hold_are_reported_and_not_written(tmp_path: Path) -> None:
    """Rows the old site could have stored but no summary file may hold: check-summaries and
    build would refuse the file, so the import never writes it."""
    rows = fx.history()
    rows.day("2023-04-20")
    rows.ages("2023-04-20", {10**9: 6})  # older than any system first seen since 2000
    rows.day("2099-01-01")  # a day that has not happened yet
    out = tmp_path / "summaries"
    code, _, stderr = run_import(fx.write(tmp_path / "odd.json", rows.rows), out)
    assert code == 1
    lines = stderr.splitlines()
    assert lines[0].startswith("2023-04-20: not imported: age_count: age 1000000000 is impossible")
    assert lines[1].startswith("2099-01-01: not imported: date 2099-01-01 is not a day between")
    assert lines[-1].startswith("Error: 2 days were not imported")
    assert sorted(files(out)) == [f"prod/2023/{day}.json" for day in (A, B, C, D)]
    assert cli("check-summaries", str(out))[0] == 0


def test_a_row_that_names_no_day_stops_the_import_before_anything_is_written(
    tmp_path: Path,
) -> None:
    rows = fx.history()
    rows.add("agecount", {"summary": "2023-02-30", "age": 1, "count": 1})
    out = tmp_path / "summaries"
    code, stdout, stderr = run_import(fx.write(tmp_path / "f.json", rows.rows), out)
    assert code == 1 and stdout == ""
    assert stderr.startswith("Error: ")
    assert "(pulpanalytics.agecount pk=" in stderr
    assert (
        "names no day: summary is not a date (YYYY-MM-DD): '2023-02-30'; nothing was written"
        in stderr
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "the file is empty"),
        (b"<html>oops</html>", "not a Django fixture (a JSON list of rows): it starts with '<'"),
        (b'{"model": "pulpanalytics.agecount"}', "not a Django fixture (a JSON list of rows)"),
        (b"[1, 2]", "row 1 is not a fixture row (an object with model, pk and fields)"),
        (
            b'[{"model": "pulpanalytics.dailysummary", "pk": "2023-04-14", "fields": {}}',
            "the file ends inside the list (cut short?)",
        ),
        (
            b'[{"model": "pulpanalytics.dailysummary", "pk": "2023-04-',
            "not valid JSON at character 47: Unterminated string starting at",
        ),
        (b"[\xff\xfe]", "not UTF-8 text"),
        (b"[] []", "not valid JSON at character 3: text after the end of the list"),
    ],
)
def test_a_file_that_is_no_fixture_is_one_error_line(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    fixture = tmp_path / "legacy.json"
    if content is not None:
        fixture.write_bytes(content)
    out = tmp_path / "summaries"
    code, stdout, stderr = run_import(fixture, out)
    assert code == 1 and stdout == ""
    assert stderr.startswith(f"Error: {fixture}: ") and message in stderr
    assert len(stderr.splitlines()) == 1
    assert not out.exists()


def test_a_directory_is_no_fixture(tmp_path: Path) -> None:
    code, _, stderr = run_import(tmp_path, tmp_path / "s")
    assert code == 1
    assert stderr == f"Error: {tmp_path}: is a directory, not a fixture file\n"


def test_an_empty_fixture_imports_nothing(tmp_path: Path) -> None:
    code, stdout, _ = run_import(fx.write(tmp_path / "f.json", []), tmp_path / "s")
    assert code == 0
    assert stdout.splitlines() == [
        "read 0 rows: 0 daily summaries",
        "imported nothing: every day of the fixture has its summary already",
    ]


def test_unknown_models_and_fields_are_ignored_and_counted(tmp_path: Path) -> None:
    rows = fx.history()
    rows.add("newmetriccount", {"summary": A, "value": 1, "count": 2})
    rows.add("newmetriccount", {"summary": B, "value": 1, "count": 2})
    rows.rows.append({"model": "auth.user", "pk": 1, "fields": {"username": "admin"}})
    rows.rows.append(
        {"model": "pulpanalytics.dailysummary", "pk": "2023-04-19", "fields": {"summary": "CgA="}}
    )
    out = tmp_path / "s"
    code, stdout, _ = run_import(fx.write(tmp_path / "f.json", rows.rows), out)
    assert code == 0
    assert (
        "ignored rows of unknown models: pulpanalytics.newmetriccount (2), auth.user (1)" in stdout
    )
    assert (
        "ignored unknown fields of known models: pulpanalytics.dailysummary.summary (1)" in stdout
    )
    assert json.loads(path_of(out, A).read_text()) == expected(A)


def test_per_system_rows_reach_no_file_and_no_output(fixture: Path, tmp_path: Path) -> None:
    """System and component rows hold raw system ids: nothing of them is kept anywhere."""
    secrets = (fx.SYSTEM_MARK, fx.PRIVATE_NAME, fx.PRIVATE_VERSION, "0a1b2c3d", "06:30:12")
    report = legacy.ImportReport()
    (tmp_path / "work").mkdir()
    spool = legacy.Spool(tmp_path / "work")
    try:
        legacy.spool_fixture(fixture, spool, report)
        spooled = spool.path.read_bytes()
    finally:
        spool.close()
    assert report.raw_rows == {"system": 6, "component": 12}
    assert not any(secret.encode() in spooled for secret in secrets)
    assert list((tmp_path / "work").iterdir()) == []  # the spool is deleted

    out = tmp_path / "summaries"
    work = tmp_path / "work2"
    work.mkdir()
    result = legacy.import_fixture(fixture, out, "prod", workdir=work)
    assert len(result.written) == 4
    assert list(work.iterdir()) == []
    _, stdout, stderr = run_import(fixture, tmp_path / "again")
    written = "".join(files(out).values()) + "".join(files(tmp_path / "again").values())
    for secret in secrets:
        assert secret not in written + stdout + stderr


def test_every_day_passes_through_publishable(
    fixture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[date, int]] = []
    fold = legacy.publishable

    def folding(summary: Summary, min_count: int) -> Summary:
        seen.append((summary.date, min_count))
        return fold(summary, min_count)

    monkeypatch.setattr(legacy, "publishable", folding)
    out = tmp_path / "s"
    assert run_import(fixture, out, "--min-count", "7")[0] == 0
    assert seen == [(date.fromisoformat(day), 7) for day in (A, B, C, D)]
    written = [json.loads(text)["xy_component"] for text in files(out).values()]
    counts = [n for day in written for vs in day.values() for v, n in vs.items() if v != "(other)"]
    assert len(written) == 4 and counts and all(n >= 7 for n in counts)


def test_unreviewed_names_in_the_old_tables_are_published_as_other(tmp_path: Path) -> None:
    rows = fx.Rows()
    rows.day(A)
    rows.ages(A, {3: 30})
    private = {fx.PRIVATE_NAME: {"7.7": 12}, "cookbook": {"0.1": 3}}
    rows.versions("xyversioncount", A, {"core": {"3.22": 30}, **private})
    private = {fx.PRIVATE_NAME: {fx.PRIVATE_VERSION: 12}, "cookbook": {"0.1.0": 3}}
    rows.versions("xyzversioncount", A, {"core": {"3.22.1": 30}, **private})
    out = tmp_path / "s"
    code, _, stderr = run_import(fx.write(tmp_path / "f.json", rows.rows), out)
    assert (code, stderr) == (0, "")
    data = json.loads(path_of(out, A).read_text())
    other = {"(other)": {"(other)": 15}}  # the private plugin's 12 and cookbook's 3
    assert data["xy_component"] == {"core": {"3.22": 30}, **other}
    assert data["xyz_component"] == {"core": {"3.22.1": 30}, **other}
    text = path_of(out, A).read_text()
    assert fx.PRIVATE_NAME not in text and fx.PRIVATE_VERSION not in text


@pytest.mark.parametrize(
    ("deployment", "min_count", "users"),
    [
        ("prod", "10", {"1": 10, "(other)": 9}),
        ("prod", "11", {"(other)": 19}),
        ("dev", "4", {"1": 10, "2": 4, "(other)": 5}),
    ],
)
def test_min_count_folds_more_than_the_default(
    fixture: Path, tmp_path: Path, deployment: str, min_count: str, users: dict[str, int]
) -> None:
    out = tmp_path / "s"
    args = ("--deployment", deployment, "--min-count", min_count)
    assert run_import(fixture, out, *args)[0] == 0
    data = json.loads(path_of(out, B, deployment).read_text())
    assert data["rbac_stats"]["users"] == users
    assert data["persistent_systems"] == expected(B, deployment)["persistent_systems"]
    check_file(path_of(out, B, deployment), deployment)


def test_a_min_count_below_the_deployments_is_refused_before_anything_is_read(
    tmp_path: Path,
) -> None:
    out = tmp_path / "s"
    missing = tmp_path / "missing.json"
    code, stdout, stderr = run_import(missing, out, "--min-count", "4")
    assert (code, stdout) == (1, "")
    assert stderr == (
        "Error: --min-count 4 is below the prod minimum of 5: check-summaries and build refuse"
        " a published count below it (SPEC §8); nothing was written\n"
    )
    assert not out.exists()
    code, _, stderr = run_import(missing, out, "--min-count", "0", "--deployment", "dev")
    assert code == 2 and "0 is not in the range x>=1" in stderr


def test_a_deploymentstats_row_of_nulls_gives_null_means_like_no_row(tmp_path: Path) -> None:
    rows = fx.Rows()
    rows.day(A)
    rows.means(A, worker=(None, None), content_app=(None, None))
    rows.ages(A, {0: 1, 3: 2})
    rows.day(B)
    rows.ages(B, {5: 1})
    out = tmp_path / "s"
    assert run_import(fx.write(tmp_path / "f.json", rows.rows), out)[0] == 0
    for day in (A, B):
        data = json.loads(path_of(out, day).read_text())
        assert data["online_workers"] == {"processes__avg": None, "hosts__avg": None}
        assert data["online_content_apps"] == {"processes__avg": None, "hosts__avg": None}
    assert json.loads(path_of(out, A).read_text())["persistent_systems"] == 2


def test_commit_makes_one_commit_that_names_the_date_ranges(fixture: Path, tmp_path: Path) -> None:
    repo = git.Repo.init(tmp_path / "repo")
    (tmp_path / "repo" / "README").write_text("x\n")
    repo.index.add(["README"])
    repo.index.commit("initial")
    out = tmp_path / "repo" / "summaries"
    mine = path_of(out, C)
    mine.parent.mkdir(parents=True)
    mine.write_text("{}\n")  # an existing file: neither overwritten nor committed
    code, stdout, _ = run_import(fixture, out, "--commit")
    assert code == 0, stdout
    head = repo.head.commit
    assert head.parents[0].message == "initial"
    assert sorted(head.stats.files) == [f"summaries/prod/2023/{day}.json" for day in (A, B, D)]
    assert head.message.splitlines() == [
        "summaries(prod): import 3 days of analytics.pulpproject.org history,"
        " 2023-04-14..2023-04-18",
        "",
        "Imported with `pulp-analytics import-legacy legacy.json --deployment prod`",
        "from the old site's `manage.py dumpdata pulpanalytics`. Days imported:",
        "",
        "- 2023-04-14..2023-04-15 (2 days)",
        "- 2023-04-18",
        "",
        "Left untouched, a summary existed already: 1 day.",
    ]
    assert f"committed 3 summaries as {head.hexsha[:12]}" in stdout
    assert repo.untracked_files == ["summaries/prod/2023/2023-04-16.json"]


def test_an_import_waits_for_no_summarize_run_in_the_same_checkout(
    fixture: Path, tmp_path: Path
) -> None:
    """import-legacy takes the checkout's lock that summarize takes: while another run holds
    it, the import refuses with one line and writes nothing."""
    from builder.summaries.lock import checkout_lock

    out = tmp_path / "summaries"
    with checkout_lock(out):
        code, _, stderr = run_import(fixture, out)
    assert code == 1
    assert stderr.startswith(f"Error: another run (pid {os.getpid()}) is writing summaries")
    assert files(out) == {}
    assert run_import(fixture, out)[0] == 0  # released: the import goes ahead


def test_commit_outside_a_repository_is_an_error_after_writing(
    fixture: Path, tmp_path: Path
) -> None:
    out = tmp_path / "summaries"
    code, _, stderr = run_import(fixture, out, "--commit")
    assert code == 1
    assert stderr == f"Error: {out / 'prod' / '2023'} is not inside a git repository\n"
    assert len(files(out)) == 4


def test_a_day_that_has_its_file_is_left_alone_even_when_its_rows_are_malformed(
    tmp_path: Path,
) -> None:
    rows = fx.history()
    rows.add("agecount", {"summary": D, "age": 3, "count": -1})
    out = tmp_path / "summaries"
    mine = path_of(out, D)
    mine.parent.mkdir(parents=True)
    mine.write_text("summarized by the receiver\n")
    code, stdout, stderr = run_import(fx.write(tmp_path / "f.json", rows.rows), out)
    assert (code, stderr) == (0, "")
    assert "left 1 existing summary untouched" in stdout
    assert mine.read_text() == "summarized by the receiver\n"


def test_the_schema_knows_only_the_legacy_source() -> None:
    data = expected(A)
    assert first_schema_error(data) is None
    assert first_schema_error({**data, "source": "receiver"}) is not None
    without = {k: v for k, v in data.items() if k != "source"}
    assert first_schema_error(without) is None  # optional: summarized days have none
