"""``pulp-analytics demo`` end to end, in a short form, checked in a real Chromium."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from builder.devtools import receivers
from tests import wire
from tests.browser import chromium, wait_drawn

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CLI = str(Path(sys.executable).parent / "pulp-analytics")


def test_demo_serves_a_populated_site_and_the_receiver_then_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    port = receivers.free_port()
    demo = subprocess.Popen(
        [
            CLI,
            "demo",
            "--systems",
            "25",
            "--days",
            "6",
            "--port",
            str(port),
            "--workdir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    output = []
    for line in demo.stdout:
        output.append(line)
        if "Press Ctrl-C" in line:
            break
    else:
        pytest.fail("the demo ended early:\n" + "".join(output))
    text = "".join(output)
    assert "[3/4] summarized 5 complete days" in text
    url = f"http://127.0.0.1:{port}/"
    try:
        with chromium() as browser:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            wait_drawn(page)
            assert page.locator("canvas").count() >= 3
            assert errors == []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/", body=wire.analytics(str(uuid.uuid4())))
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b'{"status": "accepted"}')
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0, rest
    assert "stopped" in rest
    with pytest.raises(ConnectionRefusedError):  # the receiver is gone too
        socket.create_connection(("127.0.0.1", port), timeout=5)
