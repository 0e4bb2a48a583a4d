"""Debian's Chromium driven by Playwright, and a local HTTP server for a built site.

Used by tests/test_browser.py and bench/site.py. Playwright never downloads a browser here:
it launches the system one (``CHROMIUM`` overrides the path).
"""

from __future__ import annotations

import gzip
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def wait_drawn(page: Any, timeout_ms: float = 15000) -> float:
    """Wait until the page's charts are drawn; milliseconds from navigation start to then."""
    page.wait_for_function(
        "document.documentElement.dataset.chartsDrawn === 'true'", timeout=timeout_ms
    )
    drawn: float = page.evaluate(
        "(performance.getEntriesByName('pa-charts-drawn')[0] || {startTime: 0}).startTime"
    )
    return drawn


def first_load(browser: Any, url: str, viewport: dict[str, int] | None = None) -> dict[str, int]:
    """Bytes of every response of a first visit to ``url`` (a fresh, empty cache) until its
    charts are drawn and the network is idle, each gzip-compressed as GitHub Pages serves
    them: ``{response URL: compressed bytes}``."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
    page = context.new_page()
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    try:
        page.goto(url)
        wait_drawn(page)
        page.wait_for_load_state("networkidle")
        return {
            r.url: len(gzip.compress(r.body(), compresslevel=6))
            for r in responses
            if r.request.method == "GET" and r.ok
        }
    finally:
        context.close()
