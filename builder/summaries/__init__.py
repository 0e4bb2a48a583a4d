"""From raw submissions to committed summary files: sources, counting, files, git."""
