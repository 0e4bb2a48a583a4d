"""``make rehearse``: one whole night of the automation, on this machine, without GitHub.

It stands up what the workflows talk to and runs the same ``make`` targets their steps run:

* a prod and a dev receiver (``pulp-analytics serve``) holding a few days of simulated reports
  (written through the receiver's own code with its clock set to each day);
* a bare git repository as the remote, with ``main`` and ``dev``;
* ``make nightly`` for both deployments, as the nightly matrix does, with a maintainer's commit
  landing on ``main`` meanwhile so the push has to rebase;
* ``make pages``, building both sites into one folder as the Pages workflow does;
* a second night, which must find nothing new and commit nothing.

Then it checks the result and exits non-zero, naming the check, if any fails.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import git

from builder.devtools import receivers
from builder.devtools.fleet import Fleet, days_back
from builder.summaries.summary import DEPLOYMENTS, iter_summary_files

ROOT = Path(__file__).resolve().parents[2]
BRANCHES = {"prod": "main", "dev": "dev"}
IDENTITY = {
    "GIT_AUTHOR_NAME": "rehearsal",
    "GIT_AUTHOR_EMAIL": "rehearsal@example.org",
    "GIT_COMMITTER_NAME": "rehearsal",
    "GIT_COMMITTER_EMAIL": "rehearsal@example.org",
}


class RehearsalFailed(RuntimeError):
    """A check of the rehearsal failed; the message names it."""


class DayClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def seed_history(
    db: Path, deployment: str, id_key: str, systems: int, days: int, today: date
) -> None:
    """``days`` days of a fleet's reports, ending today, through the receiver's own code."""
    from receiver import create_app

    clock = DayClock()
    settings = {"DATABASE": db, "DEPLOYMENT": deployment, "ID_KEY": id_key, "CLOCK": clock}
    client = create_app(settings).test_client()
    fleet = Fleet(systems, seed=len(deployment))
    for index, day in enumerate(days_back(today, days)):
        clock.now = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        for _, body in fleet.day(index):
            assert client.post("/", data=body).status_code == 200


def make_remote(work: Path) -> Path:
    """A bare repository with ``main`` and ``dev``, both holding an empty summaries folder."""
    remote = work / "remote.git"
    git.Repo.init(remote, bare=True, initial_branch="main")
    seed = git.Repo.clone_from(str(remote), work / "seed")
    (work / "seed" / "summaries").mkdir()
    (work / "seed" / "summaries" / ".gitkeep").write_text("")
    (work / "seed" / "README.md").write_text("pulp-analytics rehearsal\n")
    seed.index.add(["README.md", "summaries/.gitkeep"])
    with seed.git.custom_environment(**IDENTITY):
        seed.git.commit("-m", "start")
    seed.git.push("origin", "HEAD:main", "HEAD:dev")
    return remote


def clone(remote: Path, branch: str, into: Path) -> git.Repo:
    return git.Repo.clone_from(str(remote), into, branch=branch)


def run_make(target: str, env: dict[str, str], **variables: str) -> str:
    command = [
        "make",
        "--no-print-directory",
        "-C",
        str(ROOT),
        target,
        *(f"{k}={v}" for k, v in variables.items()),
    ]
    result = subprocess.run(
        command, env={**os.environ, **IDENTITY, **env}, capture_output=True, text=True
    )
    if result.returncode:
        raise RehearsalFailed(f"make {target} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def nightly(
    remote: Path,
    work: Path,
    night: int,
    urls: dict[str, str],
    tokens: dict[str, str],
    today: date,
    race: bool,
) -> dict[str, str]:
    """Both legs of the nightly matrix, each in a fresh checkout of its branch."""
    outputs = {}
    for deployment, branch in BRANCHES.items():
        checkout = work / f"night{night}-{deployment}"
        clone(remote, branch, checkout)
        if race and deployment == "prod":
            maintainer_commit(remote, work / f"night{night}-maintainer")
        outputs[deployment] = run_make(
            "nightly",
            {"ANALYTICS_EXPORT_TOKEN": tokens[deployment]},
            DEPLOYMENT=deployment,
            BRANCH=branch,
            RECEIVER_URL=urls[deployment],
            SUMMARIES=str(checkout / "summaries"),
            REPO=str(checkout),
            TODAY=today.isoformat(),
        )
    return outputs


def maintainer_commit(remote: Path, into: Path) -> None:
    """Someone pushes to main while the nightly job runs."""
    repo = clone(remote, "main", into)
    (into / "NOTES.md").write_text("a maintainer's change\n")
    repo.index.add(["NOTES.md"])
    with repo.git.custom_environment(**IDENTITY):
        repo.git.commit("-m", "docs: a maintainer's change")
    repo.git.push("origin", "main")


def check(condition: bool, message: str) -> None:
    if not condition:
        raise RehearsalFailed(message)


def verify_branches(remote: Path, work: Path, days: int, today: date) -> None:
    expected = [d.isoformat() for d in days_back(today - timedelta(days=1), days - 1)]
    for deployment, branch in BRANCHES.items():
        tree = work / f"verify-{deployment}"
        repo = clone(remote, branch, tree)
        subjects = [str(c.summary) for c in repo.iter_commits()]
        summary_commits = [s for s in subjects if s.startswith(f"summaries({deployment})")]
        check(
            len(summary_commits) == 1,
            f"{branch}: expected one summaries({deployment}) commit, got {subjects}",
        )
        check(
            not any(
                s.startswith("summaries(") and not s.startswith(f"summaries({deployment})")
                for s in subjects
            ),
            f"{branch} holds another deployment's commit: {subjects}",
        )
        for other in DEPLOYMENTS:
            files = [p.stem for p in iter_summary_files(tree / "summaries", other)]
            want = expected if other == deployment else []
            check(files == want, f"{branch}: {other} summaries are {files}, expected {want}")
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "pulp-analytics"),
                "check-summaries",
                str(tree / "summaries"),
            ],
            capture_output=True,
            text=True,
        )
        check(result.returncode == 0, f"{branch}: invalid summaries: {result.stderr}")
    main_subjects = [
        str(c.summary) for c in clone(remote, "main", work / "verify-race").iter_commits()
    ]
    check(
        "docs: a maintainer's change" in main_subjects,
        "the maintainer's commit on main was lost by the nightly push",
    )


def build_pages(remote: Path, work: Path) -> Path:
    site = work / "pages"
    clone(remote, "main", site / "main")
    clone(remote, "dev", site / "main" / "dev-checkout")
    public = work / "public"
    run_make(
        "pages",
        {},
        PROD_SUMMARIES=str(site / "main" / "summaries"),
        DEV_SUMMARIES=str(site / "main" / "dev-checkout" / "summaries"),
        PAGES_OUT=str(public),
    )
    for page in (public / "index.html", public / "dev" / "index.html"):
        check(page.is_file(), f"the Pages build lacks {page.relative_to(work)}")
        check('name="revision"' in page.read_text(), f"{page} carries no revision")
    check(any((public / "data").rglob("*.json")), "the prod site has no chart data")
    check(any((public / "dev" / "data").rglob("*.json")), "the dev site has no chart data")
    return public


def run(work: Path, systems: int = 40, days: int = 4) -> list[str]:
    """Run the night; return what happened, line by line."""
    today = datetime.now(UTC).date()
    log = []
    tokens = {d: secrets.token_urlsafe(16) for d in BRANCHES}
    id_keys = {d: secrets.token_hex(32) for d in BRANCHES}  # the receiver's, and the seed's
    urls: dict[str, str] = {}
    servers = []
    server_logs = []
    try:
        for deployment in BRANCHES:
            db = work / f"{deployment}.sqlite3"
            seed_history(db, deployment, id_keys[deployment], systems, days, today)
            port = receivers.free_port()
            server_log = (work / f"{deployment}.log").open("ab")
            server_logs.append(server_log)
            servers.append(receivers.start(
                db, port, deployment=deployment, workers=1,
                env={"ANALYTICS_EXPORT_TOKEN": tokens[deployment],
                     "ANALYTICS_ID_KEY": id_keys[deployment]},
                log=server_log,
            ))  # fmt: skip
            urls[deployment] = f"http://127.0.0.1:{port}/"
            receivers.wait_healthy(urls[deployment], servers[-1])
            log.append(f"{deployment} receiver on {urls[deployment]} with {days} days of reports")
        remote = make_remote(work)
        log.append(f"remote {remote} with main and dev")
        first = nightly(remote, work, 1, urls, tokens, today, race=True)
        log += [f"night 1 {d}: {out.strip().splitlines()[-1]}" for d, out in first.items()]
        check(
            "after 1 rebase(s)" in first["prod"],
            f"the prod push did not rebase over the maintainer's commit:\n{first['prod']}",
        )
        verify_branches(remote, work, days, today)
        log.append("branches hold the right summaries, valid, maintainer's commit kept")
        second = nightly(remote, work, 2, urls, tokens, today, race=False)
        for deployment, out in second.items():
            check(
                "nothing to summarize" in out and "nothing to push" in out,
                f"night 2 {deployment} was not a no-op:\n{out}",
            )
        log.append("night 2: nothing new, no commits, nothing pushed")
        public = build_pages(remote, work)
        log.append(f"pages: prod at {public}, dev at {public / 'dev'}")
    finally:
        for server in servers:
            receivers.stop(server)
        for server_log in server_logs:
            server_log.close()
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description="Rehearse the nightly automation locally.")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pulp-analytics-rehearsal-"))
    try:
        for line in run(work):
            print(line)
        print("rehearsal passed")
    except RehearsalFailed as exc:
        print(f"rehearsal FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
    finally:
        if args.keep:
            print(f"files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
