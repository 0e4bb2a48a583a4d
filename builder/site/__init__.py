"""From summary files to the static site: chart data, pages and the MkDocs plugin."""
