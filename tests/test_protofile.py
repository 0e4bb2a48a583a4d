"""Reading proto/analytics.proto for people: every field, its number, comment and example."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from builder import protofile
from builder.protofile import Field, ProtoError, parse
from receiver import analytics_pb2


def label(f: FieldDescriptor) -> str:
    return "required" if f.is_required else "repeated" if f.is_repeated else "optional"


def described(descriptor: Descriptor) -> list[tuple[str, int, str, object]]:
    """Names, numbers, labels and nested fields as the generated bindings see them."""
    return [
        (
            f.name,
            f.number,
            label(f),
            described(f.message_type) if f.message_type is not None else [],
        )
        for f in descriptor.fields
    ]


def parsed(fields: tuple[Field, ...]) -> list[tuple[str, int, str, object]]:
    return [(f.name, f.number, f.label, parsed(f.fields)) for f in fields]


def test_the_contract_reads_as_the_generated_bindings_do() -> None:
    message = protofile.read()
    assert message.name == "Analytics"
    assert parsed(message.fields) == described(analytics_pb2.Analytics.DESCRIPTOR)


def test_every_field_that_holds_a_value_has_a_comment_and_an_example() -> None:
    leaves = dict(protofile.leaves(protofile.read()))
    assert list(leaves) == [
        "system_id",
        "online_content_apps.processes",
        "online_content_apps.hosts",
        "online_workers.processes",
        "online_workers.hosts",
        "components.name",
        "components.version",
        "postgresql_version",
        "rbac_stats.users",
        "rbac_stats.groups",
        "rbac_stats.domains",
        "rbac_stats.custom_access_policies",
        "rbac_stats.custom_roles",
    ]
    for path, f in leaves.items():
        assert f.comment and f.example, path
    assert leaves["postgresql_version"].example == "130004"
    assert leaves["postgresql_version"].default == "0"
    assert leaves["components.version"].comment == "Its version, as installed."


SAMPLE = """\
// The file's own comment: not a field's, a blank line follows.

syntax = "proto2";

message Report {
  // Who.
  // Example: abc
  required string who = 1;

  message Size {
    // Example: 3
    optional uint32 n = 1;
  }

  // How big,
  // in two lines.
  optional Size size = 7;
  repeated string tags = 2;
}
"""


def test_comments_examples_and_nested_messages() -> None:
    message = parse(SAMPLE)
    who, size, tags = message.fields
    assert who == Field("who", 1, "required", "string", "Who.", "abc")
    assert (size.number, size.type, size.comment) == (7, "Size", "How big, in two lines.")
    assert size.is_message and size.fields == (Field("n", 1, "optional", "uint32", "", "3"),)
    assert tags == Field("tags", 2, "repeated", "string")  # no comment, no example
    assert [path for path, _ in protofile.leaves(message)] == ["who", "size.n", "tags"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("message A {\n  enum Kind { X = 0; }\n}\n", "line 2: not understood: enum Kind"),
        ("message A {\n  /* old */\n  optional int32 a = 1;\n}\n", "line 2: block comments"),
        ("message A {\n  optional int32 a = 1; // why\n}\n", "line 2: put the comment on"),
        ("message A {\n  optional B b = 1;\n}\n", "line 2: type B is not a message defined"),
        ("message A {\n  optional int32 a = 1;\n  optional int32 b = 1;\n}\n", "number 1 is"),
        ("message A {\n  optional int32 a = 1;\n", "message A is not closed"),
        ("message A {\n}\nmessage B {\n}\n", "expected one top-level message, found 2"),
        ("message A {\n  // Example: 1\n  // Example: 2\n  optional int32 a = 1;\n}\n", "more"),
        ('syntax = "proto3";\nmessage A {\n}\n', 'line 1: not understood: syntax = "proto3"'),
        ("optional int32 a = 1;\n", "line 1: not understood"),
    ],
)
def test_what_it_does_not_read_is_refused_with_its_line(text: str, problem: str) -> None:
    with pytest.raises(ProtoError, match=problem):
        parse(text)


def test_a_broken_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "analytics.proto"
    path.write_text("message A {\n  oneof x {\n", encoding="utf-8")
    with pytest.raises(ProtoError, match=f"{path}: line 2: not understood: oneof x"):
        protofile.read(path)
