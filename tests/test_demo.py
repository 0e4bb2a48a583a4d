"""``pulp-analytics demo``: its pieces, then whole runs stopped every way a user stops them."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.devtools import receivers
from builder.devtools.sitefolder import SiteFolder
from builder.devtools.stopping import Console, Stopped, StopSignals
from tests import wire
from tests.browser import chromium, serve, wait_drawn

CLI = str(Path(sys.executable).parent / "pulp-analytics")
ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--systems", "25", "--days", "10"]


def test_a_port_closing_in_time_wait_is_free_and_a_listening_one_is_not() -> None:
    port = receivers.free_port()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    with pytest.raises(receivers.ReceiverError, match=f"^port {port} on 127.0.0.1 is in use"):
        receivers.check_port_free("127.0.0.1", port)
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first, as gunicorn does: its port enters TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    with socket.socket() as plain, pytest.raises(OSError):  # what the old check did
        plain.bind(("127.0.0.1", port))
    receivers.check_port_free("127.0.0.1", port)


def test_a_stop_signal_raises_except_while_deferred_or_ignored() -> None:
    with StopSignals() as signals:
        with pytest.raises(Stopped) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        assert stopped.value.exit_status == 143
        reached_the_end = False
        with pytest.raises(Stopped) as stopped, signals.deferred():
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.1)
            reached_the_end = True
        assert reached_the_end and stopped.value.exit_status == 129
        signals.ignore()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_console_goes_quiet_when_its_reader_is_gone() -> None:
    read, write = os.pipe()
    with os.fdopen(write, "w") as stream:
        console = Console(stream)
        console.write("step 1\n")
        console.flush()
        os.close(read)  # the terminal is gone
        console.write("stopping...\n" * 10_000)
        console.flush()
        assert console.gone
        console.write("stopped\n")  # still no error
    # closing ``stream`` flushed into /dev/null instead of raising BrokenPipeError


def test_the_building_page_follows_the_steps_then_shows_the_site(tmp_path: Path) -> None:
    folder = SiteFolder(tmp_path)
    folder.show_step("Step 2 of 4: simulating 25 systems over 10 days.")
    page = (tmp_path / "site/index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "<h1>Building the demo site…</h1>" in page
    assert 'role="status">Step 2 of 4: simulating' in page
    assert "Building the demo's dev site…" in (tmp_path / "site/dev/index.html").read_text()
    (folder.built / "dev").mkdir(parents=True)
    (folder.built / "index.html").write_text("<!doctype html><title>charts</title><h1>Charts</h1>")
    (folder.built / "dev/index.html").write_text("<!doctype html><title>dev</title><h1>Dev</h1>")
    with serve(folder.path) as url, chromium() as browser:
        page = browser.new_page()
        page.goto(url)
        status = page.locator('[role="status"]')
        assert status.inner_text().startswith("Step 2 of 4")
        folder.show_step("Step 3 of 4: summarizing each complete day.")
        page.wait_for_function(
            "document.querySelector('[role=status]').textContent.startsWith('Step 3')",
            timeout=10_000,
        )
        folder.publish()
        page.wait_for_selector("text=Charts", timeout=10_000)  # reloaded by itself
    assert (tmp_path / "site/dev/index.html").read_text().endswith("<h1>Dev</h1>")
    assert not folder.building.exists()


def test_a_workdir_in_use_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = subprocess.run(
        [CLI, "demo", "--workdir", str(tmp_path), "--port", str(receivers.free_port())],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert (
        result.stderr
        == f"Error: {tmp_path} is not empty; give a new or empty folder with --workdir\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_port_something_listens_on_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [CLI, "demo", "--port", str(port)],
            capture_output=True,
            text=True,
            env={**os.environ, "TMPDIR": str(tmp_path)},
        )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: port {port} on 127.0.0.1 is in use by another program; stop it or pick"
        " another port with --port"
    ]
    assert list(tmp_path.iterdir()) == []


class Run:
    """A ``pulp-analytics demo`` process, its output read line by line."""

    def __init__(self, port: int, tmpdir: Path, *extra: str) -> None:
        self.process = subprocess.Popen(
            [CLI, "demo", *SMALL, "--port", str(port), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={
                **os.environ,
                "TMPDIR": str(tmpdir),
                "ANALYTICS_SITE_URL": "https://example.invalid/",  # the shell's, ignored
                "ANALYTICS_DATABASE": str(tmpdir / "not-the-demos.sqlite3"),
            },
        )
        self.lines: list[str] = []

    def read_until(self, text: str) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if text in line:
                return line
        pytest.fail(f"the demo ended before {text!r}:\n" + "".join(self.lines))

    def stop(self, sig: int, close_output: bool = False) -> str:
        assert self.process.stdout is not None
        if close_output:  # as when the terminal is closed
            self.process.stdout.close()
            self.process.send_signal(sig)
            self.process.wait(timeout=60)
            return ""
        self.process.send_signal(sig)
        rest, _ = self.process.communicate(timeout=60)
        return str(rest)


def processes_mentioning(path: Path) -> dict[int, str]:
    """Running processes whose command line names ``path`` (a receiver names its database),
    by process id."""
    found = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in text:
            found[int(cmdline.parent.name)] = text
    return found


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def assert_all_gone(tmpdir: Path, *ports: int) -> None:
    assert processes_mentioning(tmpdir) == {}
    assert all(refused(port) for port in ports)


@pytest.fixture
def tmpdir_for_demo(tmp_path: Path) -> Iterator[Path]:
    """A TMPDIR of the demo's own, to see that it leaves nothing there."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    yield folder
    for pid in processes_mentioning(folder):  # a failed test leaves no receiver behind
        os.kill(pid, signal.SIGKILL)


def post(port: int) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/", body=wire.analytics(str(uuid.uuid4())))
    response = conn.getresponse()
    return response.status, response.read()


@pytest.mark.slow
@pytest.mark.browser
def test_demo_serves_prod_and_dev_stops_on_sigterm_and_sighup_and_restarts_at_once(
    tmpdir_for_demo: Path,
) -> None:
    tmpdir = tmpdir_for_demo
    port = receivers.free_port()
    run = Run(port, tmpdir)
    started = run.read_until("[1/4]")
    url = f"http://127.0.0.1:{port}/"
    with urllib.request.urlopen(url, timeout=10) as response:  # not the JSON 404
        assert response.headers["Content-Type"].startswith("text/html")
        assert "Building the demo site…" in response.read().decode()
    dev_port = int(re.findall(r":(\d+)/", started)[-1])
    run.read_until("Press Ctrl-C")
    text = "".join(run.lines)
    assert re.search(rf"\[1/4\] started the receivers \(\d+\.\d s\): prod on {url}", started)
    assert re.search(r"\[2/4\] simulated 10 days of reports \(\d+\.\d s\): prod \d+ accepted", text)
    assert re.search(r"\[3/4\] summarized 9 complete days of each deployment .*\(\d+\.\d s\)", text)
    assert re.search(r"\[4/4\] built the prod and dev sites \(\d+\.\d s\)", text)
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        wait_drawn(page)
        assert page.locator("canvas").count() >= 3
        assert page.locator(".pa-dev-banner").count() == 0  # prod, as published
        page.get_by_role("link", name="Development deployment").click()  # dev: one click away
        wait_drawn(page)
        assert page.url == f"{url}dev/"
        assert page.locator(".pa-dev-banner").count() == 1
        assert errors == []
    assert post(port) == (200, b'{"status": "accepted"}')
    assert post(dev_port) == (200, b'{"status": "accepted"}')
    conn = http.client.HTTPConnection("127.0.0.1", dev_port, timeout=10)
    conn.request("GET", "/")
    response = conn.getresponse()  # the dev receiver's address leads to the dev site
    assert (response.status, response.headers["Location"]) == (302, f"{url}dev/")

    rest = run.stop(signal.SIGTERM)
    assert run.process.returncode == 0, rest
    assert re.search(r"stopped; removed .*pulp-analytics-demo-", rest)
    assert_all_gone(tmpdir, port, dev_port)
    assert list(tmpdir.iterdir()) == []

    again = Run(port, tmpdir)  # at once, on the same port, while it holds closing connections
    dev_port = int(re.findall(r":(\d+)/", again.read_until("[1/4]"))[-1])
    again.read_until("Press Ctrl-C")
    assert post(port) == (200, b'{"status": "accepted"}')
    again.stop(signal.SIGHUP, close_output=True)  # the terminal was closed
    assert again.process.returncode == 0
    assert_all_gone(tmpdir, port, dev_port)
    assert list(tmpdir.iterdir()) == []


@pytest.mark.slow
def test_a_demo_stopped_while_starting_exits_as_interrupted_and_cleans_up(
    tmpdir_for_demo: Path, tmp_path: Path
) -> None:
    tmpdir = tmpdir_for_demo
    port = receivers.free_port()
    run = Run(port, tmpdir, "--keep")
    run.read_until("[1/4]")
    rest = run.stop(signal.SIGINT)
    assert run.process.returncode == 130, rest
    kept = re.search(r"stopped; the demo's files are kept in (\S+)", rest)
    assert kept, rest
    assert {p.name for p in Path(kept.group(1)).iterdir()} >= {"prod.sqlite3", "dev.sqlite3"}
    assert_all_gone(tmpdir, port)

    mine = tmp_path / "mine"
    run = Run(port, tmpdir, "--workdir", str(mine))
    run.read_until("[1/4]")
    rest = run.stop(signal.SIGTERM)
    assert run.process.returncode == 143, rest
    assert f"stopped; the demo's files are in {mine}" in rest
    assert (mine / "prod-receiver.log").is_file()  # the user's folder is never removed
    assert_all_gone(mine, port)


def gone_within(seconds: float, tmpdir: Path, *ports: int) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not processes_mentioning(tmpdir) and all(refused(port) for port in ports):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_a_killed_demo_takes_its_receivers_with_it_and_the_next_cleans_up_after_it(
    tmpdir_for_demo: Path,
) -> None:
    tmpdir = tmpdir_for_demo
    port = receivers.free_port()
    run = Run(port, tmpdir)
    dev_port = int(re.findall(r":(\d+)/", run.read_until("[1/4]"))[-1])
    assert post(port)[0] == 200
    run.stop(signal.SIGKILL)  # no chance to stop anything itself
    assert gone_within(30, tmpdir, port, dev_port), processes_mentioning(tmpdir)
    [left] = tmpdir.iterdir()  # nothing ran to remove it
    kept = tmpdir / "pulp-analytics-demo-kept"  # as --keep leaves one: not marked running
    kept.mkdir()

    again = Run(port, tmpdir)  # at once, on the same port; it removes what the killed one left
    again.read_until("[1/4]")
    assert f"removed {left}, left by a demo that was killed\n" in again.lines
    assert post(port)[0] == 200
    again.stop(signal.SIGTERM)
    assert again.process.returncode == 143
    assert list(tmpdir.iterdir()) == [kept]


def tiny_wheel(folder: Path, name: str) -> None:
    """A pure-Python wheel of one empty module, for pip to install without any index."""
    dist = f"{name}-1.0.dist-info"
    files = {
        f"{name}.py": "",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{dist}/RECORD": f"{name}.py,,\n{dist}/METADATA,,\n{dist}/WHEEL,,\n{dist}/RECORD,,\n",
    }
    with zipfile.ZipFile(folder / f"{name}-1.0-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)


def pip_progress(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts/pip_progress.py"), *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "40"},
    )


def test_the_install_lists_each_package_on_a_few_lines(tmp_path: Path) -> None:
    names = [f"pkg_{letter}{n}" for letter in "abcdef" for n in range(2)]
    for name in names:
        tiny_wheel(tmp_path, name)
    target = ["--no-index", "--find-links", str(tmp_path), "--target", str(tmp_path / "t")]
    result = pip_progress("Installing the demo's packages", *target, *names)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Installing the demo's packages:"
    assert " ".join(lines[1:-1]).split() == names  # wrapped at the terminal's width
    assert 2 < len(lines) - 2 < len(names)
    assert all(len(line) <= 40 for line in lines[1:-1])
    assert re.fullmatch(r"  installed 12 packages \(\d+ s\)", lines[-1])


def test_a_failed_install_shows_what_pip_said_and_its_status(tmp_path: Path) -> None:
    result = pip_progress("Installing", "--no-index", "--find-links", str(tmp_path), "nosuchpkg")
    assert result.returncode == 1
    assert "No matching distribution found for nosuchpkg" in result.stdout
    assert result.stderr == "pip failed (exit status 1)\n"
