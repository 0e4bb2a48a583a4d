"""The folder the demo's prod receiver serves (its ``ANALYTICS_SITE_DIR``).

``<work>/site`` is a symbolic link. Until the sites exist it points at a "building…" page, at
``/`` and at ``/dev/``, that tells which step the demo is at and shows the charts by itself
once they are there. Then one rename points it at the built sites, laid out as Pages
publishes them: prod at the top, dev below ``dev/``. A reader never sees a half-built site or
the receiver's JSON 404.
"""

from __future__ import annotations

import os
import shutil
from html import escape
from pathlib import Path
from string import Template

MARK = "pa-demo-building"  # in the page's <meta>; its script reloads once the mark is gone

PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="$mark" content="">
<title>$title</title>
<noscript><meta http-equiv="refresh" content="10"></noscript>
<style>
body { font: 1.1rem/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto;
       padding: 0 1rem; color: #1f1f1f; background: #fff; }
@media (prefers-color-scheme: dark) { body { color: #ececec; background: #161616; } }
</style>
</head>
<body>
<main>
<h1>$title</h1>
<p id="status" role="status">$step</p>
<p>The demo simulates a fleet of Pulp installations reporting for a few months, summarizes
each day as the nightly job does and builds the site. This page shows the charts by itself
as soon as they are ready, usually within a minute.</p>
<noscript><p>Without JavaScript this page reloads every 10 seconds.</p></noscript>
</main>
<script>
(function () {
  var status = document.getElementById("status");
  function poll() {
    fetch(location.href, {cache: "no-store"}).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      return response.text();
    }).then(function (text) {
      if (text.indexOf('name="$mark"') < 0) return location.reload();
      var next = new DOMParser().parseFromString(text, "text/html").getElementById("status");
      if (next && next.textContent !== status.textContent) status.textContent = next.textContent;
      setTimeout(poll, 1000);
    }).catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 1000);
})();
</script>
</body>
</html>
""")
PAGES = {"": "Building the demo site…", "dev": "Building the demo's dev site…"}


class SiteFolder:
    """``<work>/site`` and what it points at: ``building/`` first, then ``built/``."""

    def __init__(self, work: Path) -> None:
        self.path = work / "site"
        self.building = work / "building"
        self.built = work / "built"  # the prod site; the dev site goes into built/dev

    def show_step(self, step: str) -> None:
        """Write (or rewrite) the "building…" pages with ``step``; serve them if nothing is."""
        for sub, title in PAGES.items():
            page = PAGE.substitute(mark=MARK, title=escape(title, False), step=escape(step, False))
            write_atomically(self.building / sub / "index.html", page)
        if not self.path.is_symlink():
            self._point_at(self.building)

    def publish(self) -> None:
        """Serve the built sites instead of the "building…" pages, in one step."""
        self._point_at(self.built)
        shutil.rmtree(self.building, ignore_errors=True)

    def _point_at(self, target: Path) -> None:
        link = self.path.with_name(f".{self.path.name}.new")
        link.unlink(missing_ok=True)
        link.symlink_to(target.name, target_is_directory=True)
        os.replace(link, self.path)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one rename, so a reader gets the old page or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.new")
    draft.write_text(text, encoding="utf-8")
    os.replace(draft, path)
