"""The reviewed list of public Pulp components: the only names a published summary may hold.

pulpcore reports each installed plugin by its Django app label
(``pulpcore/app/tasks/analytics.py``: ``new_component.name = app.label``, one component per
``pulp_plugin_configs()``), so an entry's ``name`` is the ``label`` of the plugin's
``PulpPluginAppConfig``; ``source`` says where that label is set. A name that is not here is
summed under :data:`OTHER` before a summary is written (SPEC §8): a private, in-house plugin
never reaches git history, the site or a download. The summarizer, ``check-summaries``, the
site and the docs all read this one list.

Adding a component is a reviewed change like adding a metric (docs/metrics.md, "Components"):
one entry, with the public project that sets the label; the summaries count it from the next
day on (earlier days keep it inside ``"(other)"``).
"""

from __future__ import annotations

from dataclasses import dataclass

OTHER = "(other)"  # the name, or version, that folded counts are published under


@dataclass(frozen=True)
class Component:
    name: str  # the app label pulpcore sends, [a-z0-9_]
    title: str  # for people
    url: str  # the public project
    source: str  # where the label is set: the evidence that pulpcore sends this name


COMPONENTS: tuple[Component, ...] = (
    Component(
        "ansible",
        "Ansible",
        "https://github.com/pulp/pulp_ansible",
        'pulp/pulp_ansible, pulp_ansible/app/__init__.py: label = "ansible"',
    ),
    Component(
        "certguard",
        "Certguard",
        "https://github.com/pulp/pulpcore",
        'pulp/pulpcore, pulp_certguard/app/__init__.py: label = "certguard"'
        " (formerly the pulp/pulp-certguard repository)",
    ),
    Component(
        "container",
        "Container",
        "https://github.com/pulp/pulp_container",
        'pulp/pulp_container, pulp_container/app/__init__.py: label = "container"',
    ),
    Component(
        "cookbook",
        "Chef cookbooks",
        "https://github.com/pulp/pulp_cookbook",
        'pulp/pulp_cookbook, pulp_cookbook/app/__init__.py: label = "cookbook" (from'
        ' 0.1.0b10; earlier betas used "pulp_cookbook", before pulpcore sent analytics)',
    ),
    Component(
        "core",
        "Pulpcore",
        "https://github.com/pulp/pulpcore",
        'pulp/pulpcore, pulpcore/app/apps.py: PulpAppConfig label = "core"',
    ),
    Component(
        "deb",
        "Debian",
        "https://github.com/pulp/pulp_deb",
        'pulp/pulp_deb, pulp_deb/app/__init__.py: label = "deb"',
    ),
    Component(
        "file",
        "File",
        "https://github.com/pulp/pulpcore",
        'pulp/pulpcore, pulp_file/app/__init__.py: label = "file"'
        " (formerly the pulp/pulp_file repository)",
    ),
    Component(
        "galaxy",
        "Galaxy NG",
        "https://github.com/ansible/galaxy_ng",
        'ansible/galaxy_ng, galaxy_ng/app/__init__.py: label = "galaxy"',
    ),
    Component(
        "gem",
        "Ruby gems",
        "https://github.com/pulp/pulp_gem",
        'pulp/pulp_gem, pulp_gem/app/__init__.py: label = "gem"',
    ),
    Component(
        "hugging_face",
        "Hugging Face",
        "https://github.com/pulp/pulp_hugging_face",
        'pulp/pulp_hugging_face, pulp_hugging_face/app/__init__.py: label = "hugging_face"',
    ),
    Component(
        "maven",
        "Maven",
        "https://github.com/pulp/pulp_maven",
        'pulp/pulp_maven, pulp_maven/app/__init__.py: label = "maven"',
    ),
    Component(
        "npm",
        "npm",
        "https://github.com/pulp/pulp_npm",
        'pulp/pulp_npm, pulp_npm/app/__init__.py: label = "npm"',
    ),
    Component(
        "ostree",
        "OSTree",
        "https://github.com/pulp/pulp_ostree",
        'pulp/pulp_ostree, pulp_ostree/app/__init__.py: label = "ostree"',
    ),
    Component(
        "pulp_2to3_migration",
        "Pulp 2 to 3 migration",
        "https://github.com/pulp/pulp-2to3-migration",
        "pulp/pulp-2to3-migration, pulp_2to3_migration/app/__init__.py:"
        ' label = "pulp_2to3_migration" (requires pulpcore>=3.15, so it can run beside a'
        " pulpcore that sends analytics)",
    ),
    Component(
        "python",
        "Python",
        "https://github.com/pulp/pulp_python",
        'pulp/pulp_python, pulp_python/app/__init__.py: label = "python"',
    ),
    Component(
        "r",
        "R",
        "https://github.com/pulp/pulp_r",
        'pulp/pulp_r, pulp_r/app/__init__.py: label = "r"',
    ),
    Component(
        "rpm",
        "RPM",
        "https://github.com/pulp/pulp_rpm",
        'pulp/pulp_rpm, pulp_rpm/app/__init__.py: label = "rpm"',
    ),
    Component(
        "rust",
        "Rust",
        "https://github.com/pulp/pulp_rust",
        'pulp/pulp_rust, pulp_rust/app/__init__.py: label = "rust"',
    ),
    Component(
        "service",
        "Pulp service",
        "https://github.com/pulp/pulp-service",
        'pulp/pulp-service, pulp_service/pulp_service/app/__init__.py: label = "service"',
    ),
)

_BY_NAME = {c.name: c for c in COMPONENTS}


def names() -> tuple[str, ...]:
    """Every reviewed component name, in alphabetical order."""
    return tuple(c.name for c in COMPONENTS)


def is_reviewed(name: str) -> bool:
    """Whether ``name`` may appear in a published summary under its own name."""
    return name in _BY_NAME


def component(name: str) -> Component:
    """The reviewed component called ``name``; KeyError for any other name."""
    return _BY_NAME[name]
