"""docs/cli.md: the help of every command, generated so it never drifts (``make docs``)."""

from __future__ import annotations

import click

from builder.cli import main


def render() -> str:
    parts = [
        "# Command reference",
        "",
        "Generated from the commands' own help by `make docs`; a test keeps it current.",
        "",
    ]
    settings = {"help_option_names": main.context_settings["help_option_names"]}
    for name, command in [("", main), *sorted(main.commands.items())]:
        title = f"pulp-analytics {name}".strip()
        # the help options as the commands really take them (click caches a command's help
        # option the first time it is asked for: the same names every time keep this stable)
        with click.Context(command, info_name=title, terminal_width=100, **settings) as ctx:
            text = command.get_help(ctx)
        parts += [f"## `{title}`", "", "```text", text, "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
