"""The "What we collect" page against the code it is generated from (SPEC §8, Transparent).

A real build of the sample history: every field of proto/analytics.proto with its number and
example, every metric with its proposal (or the reason it has none), its summary and publishing
rule in words, the reviewed components, the receiver's retention and lifetime as the receiver
defines them; the page linked from every page. And the rules that keep it true: a field no
metric reads, or one without an example, stops the build; every text is escaped. The issue
templates the page links have valid front matter.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path
from posixpath import normpath
from typing import Any, get_args

import pytest
import yaml

from builder import protofile
from builder.components import COMPONENTS
from builder.metrics import (
    METRICS,
    UNSUMMARIZED,
    Aggregate,
    Approval,
    CountBuckets,
    CountBy,
    CountEach,
    MeanOf,
    Metric,
    Versions,
    VersionsAlongside,
)
from builder.site import collect
from builder.site.collect import CollectError, Facts, Links
from builder.site.pages import SiteError, build_site
from builder.summaries.publish import DEFAULT_MIN_COUNT, describe
from receiver.config import load_settings
from tests.test_site import REVISION, write_sample

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / ".github" / "ISSUE_TEMPLATE"
REPOSITORY = "https://github.com/pulp/pulp-analytics"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample history built for prod."""
    base = tmp_path_factory.mktemp("collect")
    build_site(write_sample(base / "summaries"), "prod", base / "site", revision=REVISION)
    return base / "site"


@pytest.fixture(scope="module")
def page(site: Path) -> str:
    return (site / "what-we-collect/index.html").read_text(encoding="utf-8")


def text(fragment: str) -> str:
    """The text of an HTML fragment, as a reader sees it."""
    spaced = re.sub(r"<[^>]+>", " ", fragment.replace("<wbr>", ""))
    return html.unescape(re.sub(r"\s+", " ", spaced)).strip()


def rows(page: str, table_id: str) -> list[list[str]]:
    """The cells of a table's body as HTML."""
    found = re.search(f'<table class="pa-tab pa-tab--text" id="{table_id}">(.*?)</table>', page)
    assert found, table_id
    body = found.group(1).split("<tbody>")[1]
    return [
        re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]


def every_field(fields: tuple[protofile.Field, ...], prefix: str = "") -> list[tuple[str, Any]]:
    """Every field by dotted path, messages included."""
    out: list[tuple[str, Any]] = []
    for f in fields:
        out += [(prefix + f.name, f), *every_field(f.fields, f"{prefix}{f.name}.")]
    return out


def test_every_field_appears_with_its_number_type_and_example(page: str) -> None:
    message = protofile.read()
    expected = collect.numbered(message)
    examples = dict(protofile.leaves(message))
    comments = {path: f.comment for path, f in every_field(message.fields)}
    found = {}
    for field, what, example in rows(page, "pa-fields"):
        path, kind = text(field.split("<br>")[0]), text(field.split("<br>")[1])
        number = kind.split(" · ")[0]
        found[path] = number
        if path in examples:
            assert text(example) == examples[path].example, path
            assert kind.endswith(" · " + examples[path].type), path
        else:
            assert example == "" and "message" in kind, path
        assert text(what).split(" Sent since pulpcore")[0] == comments[path], path
    assert found == expected  # every field, in the file's order, with its number path
    assert list(found) == list(expected)
    assert found["online_workers.processes"] == "3.1" and found["rbac_stats.custom_roles"] == "6.5"
    assert "Every field of the report (17 fields)" in page


def test_every_top_level_field_says_since_when_and_which_proposal(page: str) -> None:
    cells = {text(r[0].split("<br>")[0]): r[1] for r in rows(page, "pa-fields")}
    origins = {
        "system_id": UNSUMMARIZED["system_id"].approval,
        "online_content_apps": collect.approvals(collect.facts(), "online_content_apps")[0],
        "postgresql_version": next(m.approval for m in METRICS if m.key == "postgresql_version"),
        "rbac_stats": next(m.approval for m in METRICS if m.key == "rbac_stats"),
    }
    for name, approval in origins.items():
        said = text(cells[name])
        assert f"Sent since pulpcore {approval.since};" in said, name
        if approval.proposal is None:
            assert f"no proposal: {approval.no_proposal}" in said, name
        else:
            assert f'href="{html.escape(approval.proposal)}"' in cells[name], name
    for top in protofile.read().fields:
        readers = [m for m in METRICS if top.name in {p.split(".")[0] for p in collect.reads(m)}]
        anchors = re.findall(r'<a href="#metric-([a-z_]+)">', cells[top.name])
        assert anchors == [m.key for m in readers], top.name
        assert ("Not summarized." in text(cells[top.name])) == (not readers), top.name
    assert "Sent since" not in text(cells["online_workers.hosts"])  # its message's origin
    assert "Sent since pulpcore 3.22;" in text(cells["postgresql_version"])
    assert "Sent since pulpcore 3.23;" in text(cells["rbac_stats"])


def test_every_metric_with_its_summary_rule_release_and_proposal(page: str) -> None:
    for metric in METRICS:
        found = re.search(
            f'<section class="pa-metric" id="metric-{metric.key}".*?</section>', page, re.S
        )
        assert found, metric.key
        said = text(found.group(0))
        assert said.startswith(metric.title + " Summary key " + metric.key), metric.key
        assert collect.summarized(metric) in said
        assert describe(metric) in said  # the publishing rule, as the schema says it
        assert f"Sent since pulpcore {metric.approval.since}" in said
        for path in collect.reads(metric):
            assert f"{path} ({collect.numbered(protofile.read())[path]})" in said
        if metric.approval.proposal is None:
            assert f"no proposal: {metric.approval.no_proposal}" in said, metric.key
        else:
            href = f'href="{html.escape(metric.approval.proposal)}"'
            assert href in found.group(0), metric.key
    assert page.count('<section class="pa-metric"') == len(METRICS)
    rbac = re.search(r'id="metric-rbac_stats".*?</section>', page, re.S)
    assert rbac and 'href="https://github.com/pulp/analytics.pulpproject.org/issues/84"' in (
        rbac.group(0)
    )
    assert "Counts each installation once a day" in text(page)  # system_id, read by no metric


def test_the_reviewed_components_are_listed_with_their_projects(page: str) -> None:
    listed = [
        (text(name), text(title), re.findall(r'href="([^"]+)"', url))
        for name, title, url in rows(page, "pa-reviewed")
    ]
    assert listed == [(c.name, c.title, [c.url]) for c in sorted(COMPONENTS, key=lambda c: c.name)]
    assert f"Reviewed components ({len(COMPONENTS)})" in page


def test_retention_lifetime_and_minimums_as_the_code_defines_them(page: str) -> None:
    said = text(page)
    retention = collect.receiver_default("RETENTION_DAYS")
    lifetime = collect.receiver_default("SYSTEM_LIFETIME_DAYS")
    keep = collect.receiver_default("MAX_KEEP_DAYS")
    assert f"Raw reports: {retention} days in the receiver" in said
    assert f"up to {keep} days for a day the nightly summary has not fetched yet" in said
    assert f"An installation not seen for {lifetime} days is forgotten" in said
    assert f"its reports of the last {retention} days" in said
    prod, dev = DEFAULT_MIN_COUNT["prod"], DEFAULT_MIN_COUNT["dev"]
    assert f"the deployment's minimum: {prod} systems on prod, {dev} on dev" in said
    assert f"This site (prod) publishes no count below {prod}." in said
    assert "HMAC-SHA256(ID_KEY, system id)" in said


def test_the_page_states_the_receivers_own_defaults(tmp_path: Path) -> None:
    """The receiver's settings with nothing set: what the page says it keeps (SPEC §3)."""
    settings = load_settings({}, tmp_path, environ={})
    assert collect.receiver_default("RETENTION_DAYS") == settings.retention_days == 14
    assert collect.receiver_default("MAX_KEEP_DAYS") == settings.max_keep_days == 60
    lifetime = settings.system_lifetime_days
    assert collect.receiver_default("SYSTEM_LIFETIME_DAYS") == lifetime == 400


def test_turning_it_off_and_what_this_is_not(page: str) -> None:
    said = text(page)
    assert "Set ANALYTICS = False in pulpcore's settings file" in said
    assert "PULP_ANALYTICS=false" in said
    assert "These analytics are not OpenTelemetry." in said
    assert "among them Foreman and Katello" in said and "biased" in said
    assert f'href="{REPOSITORY}/blob/main/docs/legacy.md"' in page
    for name in ("metric-proposal.md", "component-proposal.md"):
        assert f'href="{REPOSITORY}/issues/new?template={name}"' in page
        assert f'href="{REPOSITORY}/blob/main/.github/ISSUE_TEMPLATE/{name}"' in page
        assert (TEMPLATES / name).is_file()


NAV_LINK = re.compile(
    r'<a href="([^"]*)" class="md-nav__link[^"]*">\s*<span class="md-ellipsis">\s*What we collect'
)


def test_linked_from_every_page(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20
    for path in pages:
        here = path.parent.relative_to(site).as_posix()
        source = path.read_text(encoding="utf-8")
        footer = re.search(r'<div class="md-copyright">.*?</div>', source, re.S)
        assert footer, path
        found = re.search(r'<a href="([^"]*)">What we collect</a>', footer.group(0))
        assert found, path
        if path.name == "404.html":  # served at any depth: it links from the site's root
            assert found.group(1) == "/pulp-analytics/what-we-collect/"  # mkdocs.yml site_url
            continue
        assert normpath(f"{here}/{found.group(1)}") == "what-we-collect", path
        nav = NAV_LINK.findall(source)
        assert nav and all(normpath(f"{here}/{href}") == "what-we-collect" for href in nav), path
    about = (site / "about/index.html").read_text(encoding="utf-8")
    article = about.split('<article class="md-content__inner')[1]
    assert '<a href="../what-we-collect/">What we collect</a>' in article


# -- the rules that keep the page true ----------------------------------------------------------


EXTRA = """\
syntax = "proto2";

message Analytics {
  // Example: x
  required string system_id = 1;
  // The storage backend's class.
  // Example: pulpcore.app.models.storage.FileSystem
  optional string storage_backend = 7;
}
"""


def facts(**changes: Any) -> Facts:
    return replace(collect.facts("prod", Links(REPOSITORY)), **changes)


def test_a_field_no_metric_reads_and_nothing_explains_stops_the_build() -> None:
    message = protofile.parse(EXTRA)
    with pytest.raises(CollectError, match=r"field storage_backend \(7\) .* read by no metric"):
        collect.page_markdown(facts(message=message, metrics=()))
    backend = Metric(
        key="storage_backend",
        title="Storage backends",
        aggregate=CountBy("storage_backend"),
        approval=Approval(proposal="https://example.org/proposals/7", since="3.90"),
    )
    markdown = collect.page_markdown(facts(message=message, metrics=(backend,)))
    assert (
        'id="metric-storage_backend"' in markdown and "https://example.org/proposals/7" in markdown
    )


def test_a_field_without_an_example_or_a_metric_of_a_missing_field_stops_the_build() -> None:
    bare = protofile.parse(
        EXTRA.replace("  // Example: pulpcore.app.models.storage.FileSystem\n", "")
    )
    reader = Metric(
        key="storage_backend",
        title="Storage backends",
        aggregate=CountBy("storage_backend"),
        approval=Approval(proposal=None, since="3.90", no_proposal="A test."),
    )
    with pytest.raises(CollectError, match='field storage_backend has no "Example:" line'):
        collect.page_markdown(facts(message=bare, metrics=(reader,)))
    with pytest.raises(CollectError, match="metric storage_backend reads storage_backend, which"):
        collect.page_markdown(facts(metrics=(*METRICS, reader)))


def test_a_broken_proto_stops_a_real_build_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proto = tmp_path / "analytics.proto"
    proto.write_text(
        EXTRA.replace("optional string storage_backend = 7;", "map<string, int32> m = 7;")
    )
    monkeypatch.setattr(protofile, "PROTO_PATH", proto)
    with pytest.raises(SiteError, match=f"{proto}: line 8: not understood: map<string"):
        build_site(write_sample(tmp_path / "summaries", days=2), "prod", tmp_path / "site")


def test_every_text_is_escaped() -> None:
    hostile = "<img src=x onerror=window.__xss=3>"
    message = protofile.parse(
        EXTRA.replace("The storage backend's class.", hostile).replace(
            "Example: pulpcore.app.models.storage.FileSystem", f"Example: {hostile}"
        )
    )
    backend = Metric(
        key="storage_backend",
        title=hostile,
        aggregate=CountBy("storage_backend"),
        approval=Approval(proposal=None, since="3.90", no_proposal=hostile),
    )
    markdown = collect.page_markdown(facts(message=message, metrics=(backend,)))
    assert hostile not in markdown
    # the comment, the example, the title with the metric and in the field's "Summarized in",
    # and the reason with the field and with the metric
    assert markdown.count(html.escape(hostile)) == 6


def test_the_dev_site_states_its_own_minimum() -> None:
    markdown = collect.page_markdown(facts(deployment="dev"))
    assert f"This site (dev) publishes no count below {DEFAULT_MIN_COUNT['dev']}." in markdown
    plain = collect.page_markdown(facts(links=Links()))  # no repository: files named as text
    assert "docs/legacy.md" in plain and "pulp-analytics/" not in plain


def test_every_aggregate_has_words() -> None:
    examples = {
        CountBy: CountBy("postgresql_version"),
        CountEach: CountEach("rbac_stats", ("users", "groups")),
        MeanOf: MeanOf("online_workers", ("processes",)),
        Versions: Versions("components"),
        VersionsAlongside: VersionsAlongside("components", of="core"),
        CountBuckets: CountBuckets("online_workers", ("processes", "hosts")),
    }
    assert set(examples) == set(get_args(Aggregate))  # a new aggregate needs its words here
    said = {
        kind: collect.aggregate_words(agg, "persistent systems") for kind, agg in examples.items()
    }
    assert said[Versions] == (
        "For each component (components): the persistent systems per whole version (3.21.4)."
    )
    assert "X.Y" not in said[Versions] and "3.21.4 counts as 3.21)" in collect.aggregate_words(
        Versions("components", parts=2), "systems"
    )
    assert said[CountEach] == (
        "For each of users and groups of rbac_stats: the persistent systems per value."
    )
    assert "then 9-16, 17-32 and so on" in said[CountBuckets]
    assert '"(no core)" when the report lists no core' in said[VersionsAlongside]
    with pytest.raises(TypeError, match="no words"):
        collect.aggregate_words("a path", "systems")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"proposal": None, "since": "3.21"}, "must say why"),
        ({"proposal": None, "since": "3.21", "no_proposal": "  "}, "must say why"),
        ({"proposal": "https://x.org/p", "since": "3.21", "no_proposal": "why"}, "not both"),
        ({"proposal": "http://x.org/p", "since": "3.21"}, "not an https:// URL"),
        ({"proposal": "https://x.org/p", "since": "3.21.0"}, "not a pulpcore X.Y"),
        ({"proposal": "https://x.org/p", "since": "latest"}, "not a pulpcore X.Y"),
    ],
)
def test_an_approval_has_a_proposal_or_a_reason_and_a_release(
    arguments: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Approval(**arguments)


def test_every_metric_carries_its_approval() -> None:
    for metric in METRICS:
        approval = metric.approval
        assert (approval.proposal is None) == bool(approval.no_proposal), metric.key
        assert collect.release(approval.since) >= (3, 21), metric.key  # the first that sent


# -- the issue templates -------------------------------------------------------------------------


def front_matter(path: Path) -> tuple[dict[str, Any], str]:
    """The YAML between the leading ``---`` lines, and the rest."""
    content = path.read_text(encoding="utf-8")
    assert content.startswith("---\n"), path
    head, body = content[4:].split("\n---\n", 1)
    data = yaml.safe_load(head)
    assert isinstance(data, dict), path
    return data, body


@pytest.mark.parametrize(
    ("name", "sections"),
    [
        (
            "metric-proposal.md",
            [
                "The question it answers",
                "An example of the data",
                "Privacy",
                "Is it identifying?",
                "How is it made safe?",
                "What is published, and from how many systems on?",
                "The pulpcore release that sends it",
                "How a day is summarized",
                "How it is drawn",
                "Alternatives",
            ],
        ),
        (
            "component-proposal.md",
            [
                "The component",
                "Where its app label is set",
                "Is it public, and for how long?",
                "Anything else",
            ],
        ),
    ],
)
def test_the_issue_templates_have_valid_front_matter(name: str, sections: list[str]) -> None:
    data, body = front_matter(TEMPLATES / name)
    assert set(data) == {"name", "about", "title", "labels", "assignees"}
    for key in ("name", "about", "title"):
        assert isinstance(data[key], str) and data[key].strip(), key
    assert data["labels"] == "Proposed"
    assert re.findall(r"^#{2,3} (.+)$", body, re.M) == sections
