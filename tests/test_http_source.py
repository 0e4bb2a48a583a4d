"""``summarize --source``: the export token goes to the source's origin and nowhere else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from builder.summaries.sources import HttpSource, SourceError, is_loopback
from tests.conftest import TOKEN, serving
from tests.exports import export_app, submission
from tests.test_summarize import cli, files

DAY = date(2026, 11, 2)
ROWS = {DAY: [submission(DAY, [("core", "3.21.0")])]}


def summarize_from(url: str, out: Path) -> tuple[int, str]:
    return cli(
        "summarize",
        "--source",
        url,
        "--summaries",
        str(out),
        "--today",
        "2026-11-03",
        env={"ANALYTICS_EXPORT_TOKEN": TOKEN},
    )


class Trap:
    """A server on another origin that records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str | None]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.requests.append(
            {"path": environ["PATH_INFO"], "authorization": environ.get("HTTP_AUTHORIZATION")}
        )
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]


@pytest.fixture
def trap() -> Iterator[tuple[str, Trap]]:
    app = Trap()
    with serving(app) as url:
        yield url.rstrip("/"), app


def redirecting(target: Callable[[str], str | None], status: str = "302 Found") -> Any:
    """The export, except that paths ``target`` maps to a URL answer a redirect there."""
    export = export_app(ROWS, today=date(2026, 11, 3))

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        location = target(environ["PATH_INFO"])
        if location is None:
            return export(environ, start_response)
        start_response(status, [("Location", location)])
        return [b""]

    return app


@pytest.mark.parametrize("status", ["302 Found", "301 Moved Permanently", "307 Temporary Redirect"])
@pytest.mark.parametrize("which", ["/export/", "/export/2026-11-02.jsonl"])
def test_a_redirect_to_another_origin_is_refused_and_gets_no_token(
    trap: tuple[str, Trap], tmp_path: Path, status: str, which: str
) -> None:
    elsewhere, recorder = trap

    def target(path: str) -> str | None:
        return elsewhere + path if path == which else None

    with serving(redirecting(target, status)) as url:
        code, output = summarize_from(url, tmp_path)
    assert code == 1
    assert output == (
        f"Error: {url.rstrip('/')}{which} redirects to {elsewhere}, another origin; refusing"
        " to follow (the export token goes only to the --source)\n"
    )
    assert recorder.requests == []  # not even a request without the token
    assert files(tmp_path) == {}


def test_a_redirect_to_another_scheme_on_the_same_host_is_refused(tmp_path: Path) -> None:
    with serving(redirecting(lambda path: "https://127.0.0.1:1" + path)) as url:
        code, output = summarize_from(url, tmp_path)
    assert code == 1
    assert "redirects to https://127.0.0.1:1, another origin" in output


def test_a_redirect_within_the_origin_is_followed_with_the_token(tmp_path: Path) -> None:
    def target(path: str) -> str | None:
        return path.removeprefix("/old") if path.startswith("/old/") else None

    with serving(redirecting(target)) as url:
        code, output = summarize_from(url + "old", tmp_path)
    assert code == 0, output
    assert list(files(tmp_path)) == ["prod/2026/2026-11-02.json"]


@pytest.mark.parametrize(
    "url",
    [
        "http://analytics.example.org/",
        "http://10.1.2.3:8080/",
        "http://[2001:db8::1]/",
        "http://localhost.example.org/",
        "HTTP://192.0.2.7/",
    ],
)
def test_plain_http_is_refused_beyond_loopback(url: str, tmp_path: Path) -> None:
    code, output = summarize_from(url, tmp_path)
    assert code == 1
    assert output.startswith(f"Error: {url}: refusing to send the export token over")
    assert output.endswith("use https:// (http:// is only for loopback addresses)\n")


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/", "file:///etc/passwd", "127.0.0.1:8080", "https://"]
)
def test_a_source_must_be_an_http_url(url: str, tmp_path: Path) -> None:
    code, output = summarize_from(url, tmp_path)
    assert (code, output) == (1, f"Error: {url}: the source must be an https:// URL\n")


def test_https_anywhere_and_http_on_loopback_are_accepted() -> None:
    for url in ("https://analytics.example.org/", "https://10.1.2.3:8443", "http://[::1]:8080/"):
        HttpSource(url, TOKEN).close()
    assert all(is_loopback(h) for h in ("localhost", "127.0.0.1", "127.9.8.7", "::1"))
    assert not any(is_loopback(h) for h in ("128.0.0.1", "::2", "localhost.example.org", ""))


def test_localhost_by_name_works(tmp_path: Path) -> None:
    with serving(export_app(ROWS, today=date(2026, 11, 3))) as url:
        code, output = summarize_from(url.replace("127.0.0.1", "localhost"), tmp_path)
    assert code == 0, output


def test_an_unreadable_port_is_one_clear_error() -> None:
    with pytest.raises(SourceError, match="not a URL"):
        HttpSource("https://example.org:port/", TOKEN)
