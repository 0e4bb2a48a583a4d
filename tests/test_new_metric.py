"""A metric added as one definition reaches the summary, its schema and the site.

This is the worked example of docs/metrics.md done at run time: a new ``Metric`` (here over a
field the receiver already decodes) is appended to ``METRICS``, and nothing else changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from flask import Flask

from builder import metrics
from builder.metrics import RBAC, Chart, CountBy, Metric
from builder.site import pages
from builder.site.pages import build_site
from builder.summaries import publish, summarize, summary
from builder.summaries.sources import LocalSource
from tests import wire
from tests.conftest import Clock

NEW = Metric(
    key="custom_roles_count",
    title="Custom roles",
    aggregate=CountBy("rbac_stats.custom_roles"),
    approval=RBAC,
    charts=(Chart(kind="newest_pie", data="custom_roles.json", title="Custom roles"),),
)


@pytest.fixture
def with_new_metric(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    extended = (*metrics.METRICS, NEW)
    for module in (metrics, pages, publish, summarize, summary):
        monkeypatch.setattr(module, "METRICS", extended)
    monkeypatch.setattr(summary, "committed_schema", summary.schema)  # as after `make schema`
    summary._compiled.cache_clear()
    yield
    summary._compiled.cache_clear()  # later tests compile the real schema again


def test_one_definition_reaches_summary_schema_and_site(
    with_new_metric: None,
    make_app: Callable[..., Flask],
    clock: Clock,
    db_path: Path,
    tmp_path: Path,
) -> None:
    client = make_app().test_client()
    rbac = {"users": 1, "groups": 0, "domains": 0, "custom_access_policies": 0}
    for n, roles in enumerate([0, 2, 2, None]):
        body = wire.analytics(f"{n}" * 32, rbac={**rbac, "custom_roles": roles})
        assert client.post("/", data=body).json == {"status": "accepted"}
    root = tmp_path / "summaries"
    summarize.summarize(LocalSource(db_path), root, "dev", date(2026, 11, 3))

    path = root / "dev/2026/2026-11-02.json"
    written = json.loads(path.read_text())
    assert list(written)[-3:] == [
        "custom_roles_count",
        "duplicate_submissions",
        "ignored_submissions",
    ]
    assert written["custom_roles_count"] == {"0": 1, "2": 2}
    assert summary.schema()["properties"]["custom_roles_count"]["description"] == (
        "Custom roles. A count below the deployment's minimum count (5 on prod, 1 on dev) is"
        ' summed under the key "(other)".'  # the default rule of a CountBy (SPEC §8)
    )
    assert summary.check_file(path, "dev").metrics["custom_roles_count"] == {"0": 1, "2": 2}

    out = tmp_path / "site"
    build_site(root, "dev", out, revision="test")
    chart = json.loads((out / "data/custom_roles.json").read_text())
    assert chart["labels"] == ["0", "2"]
    assert chart["datasets"][0]["data"] == [1, 2]
    pages = [p.read_text() for p in out.rglob("*.html")]
    assert any("Custom roles" in page and "data/custom_roles.json" in page for page in pages)
