"""The "What we collect" page, generated from the contract and the code (SPEC §8, Transparent).

Every fact on the page is read where it is defined: the fields, their numbers, comments and
examples from ``proto/analytics.proto`` (``builder.protofile``); how each day is summarized,
what is published and each metric's proposal and first pulpcore release from
``builder.metrics``; the publishing minimums from ``builder.summaries.publish``; the reviewed
components from ``builder.components``; how long the receiver keeps things from its settings
(``receiver.config``, with the defaults below until it exposes them). The MkDocs plugin writes
the page (:func:`page_markdown`) into every build; a field of the .proto that no metric reads
and ``UNSUMMARIZED`` does not explain, or a field without an example, stops the build.

The page is Markdown headings (so the table of contents lists them) around HTML blocks built
here, in which every text is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from builder import components as reviewed
from builder import protofile
from builder.components import OTHER, Component
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
    Unsummarized,
    Versions,
    VersionsAlongside,
)
from builder.protofile import Field, Message, ProtoError
from builder.site.pages import SiteError
from builder.summaries.publish import DEFAULT_MIN_COUNT, describe
from builder.summaries.summarize import DEFAULT_MIN_AGE

SRC = "what-we-collect.md"
TITLE = "What we collect"


SITE = "https://analytics.pulpproject.org/"
DEV_SITE = "https://dev.analytics.pulpproject.org/"
# pulpcore's documentation of the setting (docs/admin/reference/settings.md, "ANALYTICS") and of
# how settings are given (docs/admin/guides/configure-pulp/: a settings file, or PULP_<NAME>).
PULPCORE_SETTINGS = "https://pulpproject.org/pulpcore/docs/admin/reference/settings/#analytics"
PULPCORE_CONFIGURE = "https://pulpproject.org/pulpcore/docs/admin/guides/configure-pulp/"
# Foreman's installer: in theforeman/puppet-foreman_proxy_content, manifests/init.pp, the
# parameter "$pulpcore_telemetry: Enable upload of anonymous usage data to
# https://analytics.pulpproject.org/" is "Boolean $pulpcore_telemetry = false"; foremanctl's
# issue #58 "Disable pulpcore analytics" says "We do that in puppet pulpcore".
FOREMAN_PARAMETER = "https://github.com/theforeman/puppet-foreman_proxy_content"


class CollectError(SiteError):
    """The contract and the metric definitions disagree, or the .proto cannot be read; the
    message says where."""


@dataclass(frozen=True)
class Links:
    """Where the page links this repository's files; empty: it names them as text."""

    repository: str = ""
    branch: str = "main"

    def file(self, path: str) -> str:
        if not self.repository:
            return ""
        return f"{self.repository.rstrip('/')}/blob/{self.branch}/{path}"

    def new_issue(self, template: str) -> str:
        if not self.repository:
            return ""
        return f"{self.repository.rstrip('/')}/issues/new?template={template}"


@dataclass(frozen=True)
class Facts:
    """Everything the page states, read from the code."""

    message: Message
    metrics: tuple[Metric, ...]
    unsummarized: Mapping[str, Unsummarized]
    components: tuple[Component, ...]
    min_count: Mapping[str, int]
    min_age: Mapping[str, int]
    retention_days: int
    max_keep_days: int
    lifetime_days: int
    deployment: str = "prod"
    links: Links = Links()


def receiver_default(key: str) -> int:
    """The receiver's default for setting ``key`` (``receiver.config.DEFAULTS``)."""
    from receiver.config import DEFAULTS

    return DEFAULTS[key]


def facts(deployment: str = "prod", links: Links = Links()) -> Facts:
    """The facts of this checkout: the .proto, the metrics, the settings, the components."""
    try:
        message = protofile.read()
    except ProtoError as exc:
        raise CollectError(str(exc)) from None
    return Facts(
        message=message,
        metrics=METRICS,
        unsummarized=UNSUMMARIZED,
        components=reviewed.COMPONENTS,
        min_count=DEFAULT_MIN_COUNT,
        min_age=DEFAULT_MIN_AGE,
        retention_days=receiver_default("RETENTION_DAYS"),
        max_keep_days=receiver_default("MAX_KEEP_DAYS"),
        lifetime_days=receiver_default("SYSTEM_LIFETIME_DAYS"),
        deployment=deployment,
        links=links,
    )


# -- fields and metrics ----------------------------------------------------------------------


def reads(metric: Metric) -> tuple[str, ...]:
    """The dotted fields of the report a metric reads: ``online_workers.processes``."""
    agg = metric.aggregate
    if isinstance(agg, Versions | VersionsAlongside):
        return (f"{agg.path}.{agg.name_field}", f"{agg.path}.{agg.version_field}")
    if isinstance(agg, CountEach | MeanOf | CountBuckets):
        return tuple(f"{agg.path}.{name}" for name in agg.fields)
    return (agg.path,)


def numbered(message: Message) -> dict[str, str]:
    """Every field's dotted path and its number path (``online_workers.processes``: ``3.1``)."""
    out: dict[str, str] = {}

    def walk(fields: Iterable[Field], path: str, number: str) -> None:
        for f in fields:
            out[path + f.name] = number + str(f.number)
            walk(f.fields, f"{path}{f.name}.", f"{number}{f.number}.")

    walk(message.fields, "", "")
    return out


def check(f: Facts) -> None:
    """CollectError unless every field of the .proto is read by a metric or explained in
    UNSUMMARIZED, every field holding a value has an example, and every metric reads fields
    the .proto has."""
    known = numbered(f.message)
    read = {path for m in f.metrics for path in reads(m)}
    for m in f.metrics:
        missing = [path for path in reads(m) if path not in known]
        if missing:
            raise CollectError(f"metric {m.key} reads {missing[0]}, which the .proto lacks")
    for top in f.message.fields:
        if top.name in f.unsummarized:
            continue
        if not any(path == top.name or path.startswith(top.name + ".") for path in read):
            raise CollectError(
                f"field {top.name} ({top.number}) of the .proto is read by no metric: explain"
                " it in builder/metrics.py's UNSUMMARIZED"
            )
    for path, leaf in protofile.leaves(f.message):
        if leaf.example is None:
            raise CollectError(f'field {path} has no "Example:" line in its .proto comment')


def approvals(f: Facts, top: str) -> list[Approval]:
    """The approvals of the metrics that read a top-level field, earliest release first, those
    with a proposal before those without; a field no metric reads has its UNSUMMARIZED one."""
    found = [m.approval for m in f.metrics if any(p.split(".")[0] == top for p in reads(m))]
    if top in f.unsummarized:
        found.append(f.unsummarized[top].approval)
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda a: (release(a.since), a.proposal is None))


def release(since: str) -> tuple[int, ...]:
    return tuple(int(part) for part in since.split("."))


def summarized(metric: Metric) -> str:
    """How a day of reports becomes the metric's value, in words."""
    who = "persistent systems" if metric.persistent_only else "systems"
    return aggregate_words(metric.aggregate, who)


def aggregate_words(agg: Aggregate, who: str) -> str:
    """An aggregate in words; ``who`` is what it counts ("persistent systems")."""
    if isinstance(agg, CountBy):
        return f"The {who} per value of {agg.path}; a system that did not send it is not counted."
    if isinstance(agg, CountEach):
        return f"For each of {words(agg.fields)} of {agg.path}: the {who} per value."
    if isinstance(agg, MeanOf):
        return (
            f"The mean of {words(agg.fields)} of {agg.path}, each over the {who} that sent it;"
            " none when nobody did."
        )
    if isinstance(agg, Versions):
        if agg.parts is None:
            per = "whole version (3.21.4)"
        else:
            per = f"version cut to its first {agg.parts} parts (3.21.4 counts as {cut_of(agg)})"
        return f"For each component ({agg.path}): the {who} per {per}."
    if isinstance(agg, VersionsAlongside):
        cut = "X.Y version" if agg.parts == 2 else "version"
        return (
            f"For each component but {agg.of}: the {who} running it, by the {cut} of {agg.of}"
            f' in the same report ("{agg.missing}" when the report lists no {agg.of}).'
        )
    if isinstance(agg, CountBuckets):
        low, high = agg.exact + 1, agg.exact * 2
        return (
            f"For each of {words(agg.fields)} of {agg.path}: the {who} per bucket, every number"
            f" from 0 to {agg.exact} a bucket of its own, then {low}-{high}, {high + 1}-{high * 2}"
            " and so on (powers of two); medians and 90th percentiles are read from them."
        )
    raise TypeError(f"no words for aggregate {agg!r}")


EXAMPLE_VERSION = ("3", "21", "4")


def cut_of(agg: Versions) -> str:
    """The example version as the aggregate keeps it: ``3.21`` for X.Y."""
    return ".".join(EXAMPLE_VERSION[: agg.parts])


def words(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# -- HTML ------------------------------------------------------------------------------------


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def link(url: str, text: str) -> str:
    """A link, or the text alone when there is no URL."""
    return f'<a href="{esc(url)}">{esc(text)}</a>' if url else esc(text)


def code(text: str) -> str:
    return f"<code>{esc(text)}</code>"


def dotted(path: str) -> str:
    """A field's dotted path as code that may break after each dot on a narrow screen."""
    return "<code>" + ".<wbr>".join(esc(part) for part in path.split(".")) + "</code>"


def para(*parts: str) -> str:
    """A paragraph of parts that are already HTML."""
    return "<p>" + "".join(parts) + "</p>"


def approval_html(approval: Approval) -> str:
    """The proposal's link (its address without the scheme), or why there is none."""
    if approval.proposal is None:
        return f'<span class="pa-no-proposal">no proposal: {esc(approval.no_proposal)}</span>'
    return "proposal: " + link(approval.proposal, approval.proposal.removeprefix("https://"))


def table(table_id: str, caption: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table of text that wraps; cells are HTML already, the first of each row its header."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<th scope="row">{c}</th>' if i == 0 else f"<td>{c}</td>" for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return (
        f'<div class="pa-table pa-table--text" role="region" tabindex="0"'
        f' aria-labelledby="{table_id}-caption">'
        f'<table class="pa-tab pa-tab--text" id="{table_id}">'
        f'<caption id="{table_id}-caption">{esc(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def field_rows(f: Facts) -> list[list[str]]:
    """One row per field of the report, a message's fields right after it: the field (its
    number and type below it), what it is (for a top-level field, since when it is sent and the
    proposal that approved it, which its fields share), and an example."""
    rows: list[list[str]] = []

    def walk(fields: Iterable[Field], path: str, number: str) -> None:
        for field in fields:
            kind = "message" if field.is_message else field.type
            if field.label == "repeated":
                kind = f"list of {kind}s"
            what = esc(field.comment)
            if not path:
                approval = approvals(f, field.name)[0]
                what += (
                    f'<br><span class="pa-field-origin">Sent since pulpcore {esc(approval.since)};'
                    f" {approval_html(approval)}{stop(approval)} {summarized_in(f, field.name)}"
                    "</span>"
                )
            rows.append(
                [
                    dotted(path + field.name)
                    + f'<br><span class="pa-field-kind">{esc(number + str(field.number))}'
                    f" · {esc(kind)}</span>",
                    what,
                    code(field.example) if field.example is not None else "",
                ]
            )
            walk(field.fields, f"{path}{field.name}.", f"{number}{field.number}.")

    walk(f.message.fields, "", "")
    return rows


def stop(approval: Approval) -> str:
    """The full stop after :func:`approval_html`, unless its reason has one."""
    return "" if approval.proposal is None and approval.no_proposal.endswith(".") else "."


def summarized_in(f: Facts, top: str) -> str:
    """Links to the metrics that read a top-level field, or "Not summarized"."""
    readers = [m for m in f.metrics if any(p.split(".")[0] == top for p in reads(m))]
    if not readers:
        return "Not summarized."
    links = (f'<a href="#metric-{esc(m.key)}">{esc(m.title)}</a>' for m in readers)
    return "Summarized in: " + ", ".join(links) + "."


def metric_html(metric: Metric, known: Mapping[str, str]) -> str:
    fields = ", ".join(f"{code(p)} ({esc(known[p])})" for p in reads(metric))
    items = (
        ("Summary key", code(metric.key)),
        ("Reads", fields),
        ("How a day is summarized", esc(summarized(metric))),
        ("What is published", esc(describe(metric))),
        ("Sent since", esc(f"pulpcore {metric.approval.since}")),
        ("Approved by", approval_html(metric.approval)),
    )
    return (
        f'<section class="pa-metric" id="metric-{esc(metric.key)}"'
        f' aria-labelledby="metric-{esc(metric.key)}-title">'
        f'<h3 id="metric-{esc(metric.key)}-title">{esc(metric.title)}</h3><dl class="pa-dl">'
        + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items)
        + "</dl></section>"
    )


# -- the page --------------------------------------------------------------------------------


def page_markdown(f: Facts) -> str:
    """The page's Markdown: its title, then each section as a heading and an HTML block."""
    check(f)
    parts = [f"# {TITLE}", block(intro(f))]
    for anchor, heading, body in sections(f):
        parts += [f"## {heading} {{#{anchor}}}", block(body)]
    return "\n\n".join(parts) + "\n"


def block(body: str) -> str:
    """An HTML block that Markdown leaves as it is."""
    return f'<div class="pa-collect">{body}</div>'


def sections(f: Facts) -> list[tuple[str, str, str]]:
    return [
        ("turning-it-off", "Turning it off", opt_out(f)),
        ("the-report", "The report, field by field", report(f)),
        ("metrics", "How each day is summarized", metrics_section(f)),
        ("published", "What is published", published(f)),
        ("kept", "How long anything is kept", kept(f)),
        ("keyed-hash", "No system id at rest", keyed_hash(f)),
        ("components", "The reviewed components", components_section(f)),
        ("not-opentelemetry", "Not OpenTelemetry", not_opentelemetry()),
        ("not-counted", "Who is not counted", not_counted(f)),
        ("history", "History before this site", history(f)),
        ("proposing", "Proposing a metric or a component", proposing(f)),
    ]


def intro(f: Facts) -> str:
    return para(
        "Every Pulp installation with analytics enabled (pulpcore's ",
        code("ANALYTICS"),
        " setting, on unless turned off) sends one small report a day to ",
        esc(SITE),
        " (development builds to ",
        esc(DEV_SITE),
        "). This page lists everything a report holds, how each day of reports is summarized, "
        "what is published and how long anything is kept. It is generated from the report's "
        "definition (",
        link(f.links.file("proto/analytics.proto"), "proto/analytics.proto"),
        ") and the metric definitions (",
        link(f.links.file("builder/metrics.py"), "builder/metrics.py"),
        ") each time the site is built, so it says what the code does.",
    )


def opt_out(f: Facts) -> str:
    return para(
        "Set ",
        code("ANALYTICS = False"),
        " in pulpcore's settings file (for example ",
        code("/etc/pulp/settings.py"),
        "), or the environment variable ",
        code("PULP_ANALYTICS=false"),
        " for pulpcore's processes, and restart them: the installation then sends nothing. "
        "pulpcore 3.21 called the setting ",
        code("TELEMETRY"),
        " (",
        link(PULPCORE_SETTINGS, "the setting"),
        ", ",
        link(PULPCORE_CONFIGURE, "how settings are given"),
        "). Reports already received are kept no longer than below; summaries hold no trace of "
        "any one installation, so there is nothing of yours in them to remove.",
    )


def report(f: Facts) -> str:
    return para(
        "A report is a protocol buffer message (",
        code(f.message.name),
        ") posted once a day. Under each field are its number on the wire and its type; with",
        " each field of the message, the first pulpcore release that sent it to ",
        esc(SITE),
        " and the public, reviewed proposal that approved collecting it.",
    ) + table(
        "pa-fields",
        f"Every field of the report ({len(numbered(f.message))} fields)",
        ("field", "what it is", "example"),
        field_rows(f),
    )


def metrics_section(f: Facts) -> str:
    who = (
        f"Every figure counts persistent systems: those that first reported at least"
        f" {days(f.min_age['prod'])} earlier on prod (on dev, every system:"
        f" {days(f.min_age['dev'])}), so that throw-away test installations do not skew them."
        " The totals of systems and the systems by age count every system that reported."
    )
    unread = [para(code(name), ": ", esc(u.use)) for name, u in f.unsummarized.items()]
    known = numbered(f.message)
    return (
        para(
            "Each complete UTC day of reports becomes one summary file, one key per metric. ",
            esc(who),
        )
        + "".join(metric_html(m, known) for m in f.metrics)
        + para("Fields no metric reads:")
        + "".join(unread)
    )


def days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def published(f: Facts) -> str:
    k = f.min_count[f.deployment]
    return para(
        esc(
            "Summary files are public (committed to git), and the site, its downloads and its"
            " API are drawn from them only. So they hold only the names of the reviewed"
            f' components below, every other name counted under "{OTHER}", and no count below'
            f" the deployment's minimum: {f.min_count['prod']} systems on prod,"
            f" {f.min_count['dev']} on dev. This site ({f.deployment}) publishes no count below"
            f" {k}. A smaller count is folded by its metric's rule above, most often summed"
            f' under "{OTHER}", which names nothing; the totals of systems stay exact. A file'
            " that breaks these rules is refused by the checks and by the build."
        )
    )


def kept(f: Facts) -> str:
    return (
        "<ul>"
        + "".join(
            f"<li>{item}</li>"
            for item in (
                esc(
                    f"Raw reports: {days(f.retention_days)} in the receiver, then deleted (up to"
                    f" {days(f.max_keep_days)} for a day the nightly summary has not fetched yet,"
                    " so that a failed night loses nothing). No client address is stored or logged."
                ),
                esc(
                    "System records: for each installation, its keyed hash (below), the first and"
                    " the last day it reported, so that ages stay right after raw reports are gone."
                    f" An installation not seen for {days(f.lifetime_days)} is forgotten; if it"
                    " reports again, it counts as new (age 0)."
                ),
                esc(
                    "Summaries: for good, in git and on this site; they name no installation and"
                    " hold no small counts (above)."
                ),
            )
        )
        + "</ul>"
    )


def keyed_hash(f: Facts) -> str:
    return para(
        esc(
            "The receiver never stores a system id. Where it needs to recognise an installation"
            " (one report a day, the first wins; the first and last day seen), it keeps"
            " HMAC-SHA256(ID_KEY, system id): a keyed hash, with a secret key that lives only"
            " with the receiver. Each raw report is stored with its system id (field 1)"
            " removed. The export the nightly job reads has no system id or hash at all."
        )
    ) + para(
        esc(
            "A leaked database (without the key) shows, per hash, the first and the last day"
            f" it reported and its reports of the last {days(f.retention_days)}: components and"
            " versions, PostgreSQL version and the counts above. It does not show which"
            " installation a hash belongs to: pulpcore logs its own system id, but without the"
            " key no one can compute the hash from it. With the key as well, someone who also"
            " has an installation's system id could find that installation's recent reports."
        )
    )


def components_section(f: Facts) -> str:
    rows = [
        [code(c.name), esc(c.title), link(c.url, c.url)]
        for c in sorted(f.components, key=lambda c: c.name)
    ]
    return para(
        esc(
            "A component is reported by its Django app label. These are the public Pulp"
            " components whose names may be published; every other name, such as a private"
            f' plugin\'s, is counted under "{OTHER}" and never named.'
        )
    ) + table(
        "pa-reviewed",
        f"Reviewed components ({len(rows)})",
        ("name sent", "component", "project"),
        rows,
    )


def not_opentelemetry() -> str:
    return para(
        esc(
            "These analytics are not OpenTelemetry. pulpcore can also send OpenTelemetry"
            " metrics and traces (request counts, latencies, disk use per domain) to an"
            " OpenTelemetry collector that the installation's operators run for their own"
            " monitoring; it is off unless they turn it on, and that data never comes here."
            " Turning one off does not turn off the other."
        )
    )


def not_counted(f: Facts) -> str:
    return para(
        esc(
            "An installation is counted only when its reports arrive: not when analytics are"
            " turned off, nor when it cannot reach the internet. Some downstream"
            " distributions turn analytics off by default,"
            " among them Foreman and Katello, whose installer sets it off unless"
            " asked ("
        ),
        link(FOREMAN_PARAMETER, "foreman_proxy_content"),
        esc("'s pulpcore_telemetry parameter, false by default"),
        esc(
            "). So the installations seen here are biased towards those that run Pulp on its"
            " own, and the figures say more about them than about Pulp's users as a whole."
            " Installations running any development build report to the dev deployment, whose"
            " figures are not those of users."
        ),
    )


def history(f: Facts) -> str:
    return para(
        esc(
            "Before this site, analytics.pulpproject.org received the same reports and"
            " published daily summaries. Those summaries were imported once when this site took"
            ' over (their files say "source": "legacy"), by the same publishing rules; no report'
            " and no per-installation row of the old site was copied. On the charts, a dashed"
            " line marks where imported history ends. How the import works: "
        ),
        link(f.links.file("docs/legacy.md"), "docs/legacy.md"),
        ".",
    )


def proposing(f: Facts) -> str:
    metric_form = f.links.new_issue("metric-proposal.md")
    component_form = f.links.new_issue("component-proposal.md")
    return para(
        esc(
            "A new field, or a new summary of one, is collected only after a public proposal:"
            " the question it answers, an example of the data, why it is safe (is it"
            " identifying, how is it made safe, what is published and from how many systems"
            " on), the pulpcore release that sends it, how a day is summarized and how it is"
            " drawn. "
        ),
        link(metric_form, "Propose a metric"),
        " (",
        link(f.links.file(".github/ISSUE_TEMPLATE/metric-proposal.md"), "the form"),
        "). ",
        esc(
            "A component joins the reviewed list when it is public and its app label is"
            " established from its code: "
        ),
        link(component_form, "propose a component"),
        " (",
        link(f.links.file(".github/ISSUE_TEMPLATE/component-proposal.md"), "the form"),
        ").",
    )
