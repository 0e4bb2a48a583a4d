"""``deploy/nginx.conf`` in a real nginx in front of a real receiver (TLS left out).

The file's own directives are used as shipped; only the listening port, the upstream and the
log path are pointed at the test's folder.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from builder.devtools import receivers
from tests import wire
from tests.test_server import CLIENT_ADDRESS, REPORT_HEAD, connect, serving

pytestmark = pytest.mark.slow
CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def site_conf(port: int, upstream: int, folder: Path) -> str:
    """deploy/nginx.conf on plain HTTP at ``port``, logging under ``folder``."""
    text = CONF.read_text()
    text = re.sub(r"listen 443 ssl;", f"listen 127.0.0.1:{port};", text)
    text = re.sub(r"\n\s*(ssl_certificate\S*)[^\n]*;", "", text)
    text = text.replace("/var/log/nginx/", f"{folder}/")
    return text.replace("http://127.0.0.1:8080", f"http://127.0.0.1:{upstream}")


@contextmanager
def nginx_in_front(
    upstream: int, folder: Path, site: Callable[[int, Path], str] | None = None
) -> Iterator[int]:
    """nginx on a free port with deploy/nginx.conf in front of ``upstream``, or with the site
    ``site(port, folder)`` writes."""
    if not Path(NGINX).exists():  # CI installs it: there a missing nginx is a failure
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "nginx is not installed (make system-packages)"
        )
    port = receivers.free_port()
    text = site(port, folder) if site else site_conf(port, upstream, folder)
    (folder / "site.conf").write_text(text)
    temp = " ".join(
        f"{kind}_temp_path {folder}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (folder / "nginx.conf").write_text(
        f"daemon off; user root; worker_processes 1; pid {folder}/nginx.pid;\n"
        f"error_log {folder}/main.error.log info;\n"
        f"events {{}}\nhttp {{ access_log off; {temp} include {folder}/site.conf; }}\n"
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def get(port: int, path: str) -> int:
    sock = connect(port)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: analytics\r\nConnection: close\r\n\r\n".encode())
    sock.settimeout(10)
    status = int(sock.recv(4096).split()[1])
    sock.close()
    return status


def post_via(port: int) -> tuple[int, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/", body=wire.analytics(str(uuid.uuid4())))
    status = conn.getresponse().status
    conn.close()
    return status, time.monotonic() - started


def test_nginx_in_front_limits_each_address_and_logs_none(tmp_path: Path) -> None:
    with (
        serving(tmp_path / "receiver") as receiver,
        nginx_in_front(receiver.port, tmp_path) as port,
    ):
        assert post_via(port)[0] == 200
        statuses = [get(port, "/healthz") for _ in range(40)]
    assert statuses[:20] == [200] * 20  # the burst
    assert 429 in statuses
    logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
    assert CLIENT_ADDRESS not in logs


def test_slow_clients_behind_nginx_do_not_delay_a_normal_report(tmp_path: Path) -> None:
    with (
        serving(tmp_path / "receiver") as receiver,
        nginx_in_front(receiver.port, tmp_path) as port,
    ):
        slow = [connect(port) for _ in range(10)]
        for sock in slow[5:]:
            sock.sendall(REPORT_HEAD + b"Content-Length: 500\r\n\r\n")
        try:
            timings = []
            for _ in range(4):
                for sock in slow:
                    with suppress(OSError):
                        sock.send(b"a")
                timings.append(post_via(port))
                time.sleep(0.5)
        finally:
            for sock in slow:
                sock.close()
    assert [status for status, _ in timings] == [200] * 4
    assert max(seconds for _, seconds in timings) < 2.0
