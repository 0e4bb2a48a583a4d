"""The MkDocs plugin that puts the charts into the site (``plugins: [pulp-analytics]``).

``on_config`` reads the summaries and plans the pages (``builder.site.pages.plan_site``) and the
navigation, and sets what the footer shows (the newest day, the commit); ``on_files`` adds the
generated pages (the table pages outside the navigation), every chart's JSON and CSV file under
``data/``, the public JSON API under ``api/v1/`` (``builder.site.api``), the "What we collect"
page (``builder.site.collect``), and Chart.js with its date adapter from ``node_modules``;
``on_page_content`` puts each page's figures and tables where its Markdown has
``<!-- pulp-analytics -->`` (or at the end).
"""

from __future__ import annotations

import html
import json
import logging
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.pages import Page as MkDocsPage
from mkdocs.utils import get_relative_url

from builder.site import api, charts, collect
from builder.site.pages import (
    KNOWN_COMPONENTS,
    OVERVIEW,
    PLACEHOLDER,
    Plan,
    Provenance,
    Settings,
    SiteError,
    plan_site,
    render_page,
)
from builder.summaries.summary import DEPLOYMENTS, load_all

log = logging.getLogger(f"mkdocs.plugins.{__name__}")

# (file in node_modules, where the site serves it)
VENDOR = (
    ("chart.js/dist/chart.umd.min.js", "assets/vendor/chart.umd.min.js"),
    (
        "chartjs-adapter-date-fns/dist/chartjs-adapter-date-fns.bundle.min.js",
        "assets/vendor/chartjs-adapter-date-fns.bundle.min.js",
    ),
)


class AnalyticsConfig(base.Config):  # type: ignore[no-untyped-call]
    summaries = c.Type(str, default="summaries")  # relative to mkdocs.yml
    deployment = c.Choice(DEPLOYMENTS, default="prod")
    revision = c.Optional(c.Type(str))  # the summaries' commit; "unknown" when unset
    repository = c.Type(str, default="")  # GitHub URL of this repository: provenance links
    branches = c.DictOfItems(c.Type(str), default={"prod": "main", "dev": "dev"})
    known_components = c.ListOfItems(c.Type(str), default=list(KNOWN_COMPONENTS))
    min_component_count = c.Type(int, default=10)
    overview = c.ListOfItems(c.Type(str), default=list(OVERVIEW))
    pages = c.DictOfItems(c.Type(str), default={})  # metric key -> page title
    full_days = c.Type(int, default=charts.Limits.full_days)
    max_series = c.Type(int, default=charts.Limits.max_series)
    individual = c.Type(int, default=charts.Limits.individual)
    recent_rows = c.Type(int, default=14)
    fold_below = c.Type(int, default=charts.Limits.fold_below)
    max_points = c.Type(int, default=charts.Limits.max_points)
    node_modules = c.Type(str, default="node_modules")  # relative to mkdocs.yml


class AnalyticsPlugin(BasePlugin[AnalyticsConfig]):  # type: ignore[no-untyped-call]
    plan: Plan
    site_settings: Settings
    vendor: list[tuple[Path, str]]
    annotations: list[dict[str, str]]  # marks on every time chart (imported history's end)
    api_files: dict[str, str]  # the public JSON API: path in the site -> JSON text

    def settings(self) -> Settings:
        cfg = self.config
        for name in ("full_days", "max_series", "individual", "fold_below", "max_points"):
            if getattr(cfg, name) < 0:
                raise SiteError(f"mkdocs.yml: {PLUGIN}.{name} must not be negative")
        return Settings(
            known_components=tuple(cfg.known_components),
            min_component_count=cfg.min_component_count,
            overview=tuple(cfg.overview),
            pages=dict(cfg.pages),
            limits=charts.Limits(
                full_days=cfg.full_days,
                max_series=max(cfg.max_series, 1),
                individual=cfg.individual,
                fold_below=cfg.fold_below,
                max_points=cfg.max_points,
            ),
            recent_rows=max(cfg.recent_rows, 1),
            provenance=Provenance.of(cfg.repository, self.branch(), cfg.deployment),
        )

    def branch(self) -> str:
        """The branch that holds this deployment's summaries."""
        return str(self.config.branches.get(self.config.deployment, "main"))

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        root = Path(config.config_file_path).parent
        summaries = load_all(root / self.config.summaries, self.config.deployment)
        self.site_settings = self.settings()
        self.plan = plan_site(summaries, self.site_settings)
        self.annotations = charts.history_annotations(summaries)
        self.api_files = api.api_files(summaries, self.site_settings, self.config.deployment)
        own = {page.src for page in self.plan.pages}
        extra = [entry for entry in config.nav or [] if not _points_to(entry, own)]
        config.nav = [*self.plan.nav(), *extra]
        config.extra["deployment"] = self.config.deployment
        config.extra["revision"] = self.config.revision or "unknown"
        config.extra["newest_day"] = summaries[-1].date.isoformat() if summaries else ""
        config.extra["commit_url"] = commit_url(self.config.repository, self.config.revision)
        if self.config.deployment != "prod":
            config.site_name = f"{config.site_name} ({self.config.deployment})"
        self.vendor = vendor_files(root / self.config.node_modules)
        return config

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        for page in self.plan.pages:
            if files.get_file_from_path(page.src) is None:
                text = f"---\nhide: [toc]\n---\n\n# {html.escape(page.title)}\n\n{PLACEHOLDER}\n"
                inclusion = InclusionLevel.INCLUDED if page.listed else InclusionLevel.NOT_IN_NAV
                files.append(File.generated(config, page.src, content=text, inclusion=inclusion))
        for path, view in self.plan.views().items():
            data = charts.annotate(view.kind, view.data, self.annotations)
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            files.append(File.generated(config, f"data/{path}", content=text))
            table = charts.table(view.kind, view.data, view.key_title)
            files.append(
                File.generated(config, f"data/{view.csv_path}", content=charts.csv_text(table))
            )
        for source, target in self.vendor:
            files.append(File.generated(config, target, abs_src_path=str(source)))
        for path, text in self.api_files.items():
            files.append(File.generated(config, path, content=text))
        if files.get_file_from_path(collect.SRC) is None:
            links = collect.Links(self.config.repository, self.branch())
            text = collect.page_markdown(collect.facts(self.config.deployment, links))
            files.append(File.generated(config, collect.SRC, content=text))
        return files

    def on_page_content(
        self, html: str, /, *, page: MkDocsPage, config: MkDocsConfig, files: Files
    ) -> str:
        planned = self.plan.page(page.file.src_uri)
        if planned is None:
            return html

        def rel(target: str) -> str:
            file = files.get_file_from_path(target)
            url = file.url if file is not None else target
            return get_relative_url(url, page.url)

        block = render_page(planned, rel, self.site_settings)
        if PLACEHOLDER in html:
            return html.replace(PLACEHOLDER, block, 1)
        return html + "\n" + block


PLUGIN = "pulp-analytics"
REVISION = re.compile(r"[0-9a-f]{7,64}")


def commit_url(repository: str, revision: str | None) -> str:
    """The commit's page in the repository, or "" when either is unknown."""
    if not repository or revision is None or not REVISION.fullmatch(revision):
        return ""
    return f"{repository.rstrip('/')}/commit/{revision}"


def _points_to(entry: Any, pages: set[str]) -> bool:
    """Whether a nav entry of mkdocs.yml is one of the pages the plugin lays out itself."""
    if isinstance(entry, str):
        return entry in pages
    if isinstance(entry, dict):
        return any(isinstance(v, str) and v in pages for v in entry.values())
    return False


def vendor_files(node_modules: Path) -> list[tuple[Path, str]]:
    """Chart.js and its adapter from ``node_modules``, installed with ``npm ci`` if missing."""
    files = [(node_modules / source, target) for source, target in VENDOR]
    if all(path.is_file() for path, _ in files):
        return files
    npm = shutil.which("npm")
    if npm is None:
        raise SiteError(f"{node_modules}: Chart.js is not installed and npm is not on PATH")
    log.info("Installing the site's JavaScript with npm ci")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=node_modules.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    missing = [str(path) for path, _ in files if not path.is_file()]
    if done.returncode != 0 or missing:
        reason = done.stderr.strip().splitlines()[-1:] or missing
        raise SiteError(f"npm ci failed in {node_modules.parent}: {reason[0]}")
    return files
