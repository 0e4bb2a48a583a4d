"""The fields of ``proto/analytics.proto``, with their numbers and comments, for people.

The generated descriptor (``receiver/analytics_pb2.py``) has names and numbers but not the
comments, and the comments are what the "What we collect" page says about each field. So this
reads the file itself, for the subset of proto2 it uses: ``syntax``, ``message`` blocks (nested),
fields ``label type name = number [default = value];``, and ``//`` comments. A comment directly
above a field (or a message) belongs to it; a line ``Example: <value>`` in it is the field's
example. Anything else (``enum``, ``oneof``, ``import``, ``/* */``, options) is refused with the
line it is on, rather than skipped: a field this parser does not understand must not go
undocumented.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PROTO_PATH = Path(__file__).resolve().parent.parent / "proto" / "analytics.proto"
INTEGERS = tuple(
    f"{kind}{bits}" for kind in ("int", "uint", "sint", "fixed", "sfixed") for bits in (32, 64)
)
SCALARS = frozenset(("double", "float", "bool", "string", "bytes", *INTEGERS))
FIELD = re.compile(
    r"(?P<label>required|optional|repeated)\s+(?P<type>[A-Za-z_][A-Za-z0-9_.]*)\s+"
    r"(?P<name>[a-z_][a-z0-9_]*)\s*=\s*(?P<number>[1-9][0-9]*)\s*"
    r"(?:\[\s*default\s*=\s*(?P<default>[^\]]+?)\s*\])?\s*;"
)
MESSAGE = re.compile(r"message\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\{")
SYNTAX = re.compile(r'syntax\s*=\s*"proto2"\s*;')
EXAMPLE = re.compile(r"Example:\s*(?P<value>.+)")


class ProtoError(ValueError):
    """The file uses something this parser does not read; the message names the line."""


@dataclass(frozen=True)
class Field:
    name: str
    number: int
    label: str  # required, optional or repeated
    type: str  # a scalar type, or the name of a message
    comment: str = ""  # the comment lines above it, without the example line
    example: str | None = None
    default: str | None = None
    fields: tuple[Field, ...] = ()  # the fields of its message type, if it has one

    @property
    def is_message(self) -> bool:
        return self.type not in SCALARS


@dataclass(frozen=True)
class Message:
    name: str
    comment: str = ""
    fields: tuple[Field, ...] = ()


@dataclass
class _Scope:
    name: str
    comment: str
    fields: list[Field] = field(default_factory=list)
    messages: dict[str, Message] = field(default_factory=dict)


def parse(text: str) -> Message:
    """The one top-level message of a .proto file, each message-typed field resolved to the
    fields of its (nested) message."""
    stack: list[_Scope] = []
    top: list[Message] = []
    comment: list[str] = []
    for number, line in _lines(text):
        if line.startswith("//"):
            comment.append(line[2:].strip())
            continue
        if not line:
            comment = []
            continue
        if found := MESSAGE.fullmatch(line):
            stack.append(_Scope(found["name"], _join(comment)))
        elif line == "}" and stack:
            done = stack.pop()
            message = Message(done.name, done.comment, tuple(done.fields))
            if stack:
                stack[-1].messages[done.name] = message
            else:
                top.append(message)
        elif (found := FIELD.fullmatch(line)) and stack:
            stack[-1].fields.append(_field(found, comment, stack, number))
        elif SYNTAX.fullmatch(line) and not stack and not top:
            pass
        else:
            raise ProtoError(f"line {number}: not understood: {line}")
        comment = []
    if stack:
        raise ProtoError(f"message {stack[-1].name} is not closed")
    if len(top) != 1:
        raise ProtoError(f"expected one top-level message, found {len(top)}")
    return top[0]


def read(path: Path | None = None) -> Message:
    """The message of ``proto/analytics.proto`` (or ``path``); ProtoError names the file."""
    path = PROTO_PATH if path is None else path
    try:
        return parse(path.read_text(encoding="utf-8"))
    except ProtoError as exc:
        raise ProtoError(f"{path}: {exc}") from None


def leaves(message: Message) -> Iterator[tuple[str, Field]]:
    """Every field that holds a value, by dotted path: ``online_workers.processes``."""
    for f in message.fields:
        yield from _leaves(f, "")


def _leaves(f: Field, prefix: str) -> Iterator[tuple[str, Field]]:
    path = prefix + f.name
    if not f.is_message:
        yield path, f
    for child in f.fields:
        yield from _leaves(child, path + ".")


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if "/*" in line:
            raise ProtoError(f"line {number}: block comments are not read; use //")
        if "//" in line and not line.startswith("//"):
            raise ProtoError(f"line {number}: put the comment on the line above the field")
        yield number, line


def _join(lines: list[str]) -> str:
    return " ".join(line for line in lines if line)


def _field(found: re.Match[str], comment: list[str], stack: list[_Scope], line: int) -> Field:
    examples = [m["value"].strip() for c in comment if (m := EXAMPLE.fullmatch(c))]
    if len(examples) > 1:
        raise ProtoError(f"line {line}: field {found['name']} has more than one example")
    scope = stack[-1]
    kind = found["type"]
    if kind not in SCALARS and kind not in scope.messages:
        raise ProtoError(f"line {line}: type {kind} is not a message defined above it")
    if any(f.number == int(found["number"]) for f in scope.fields):
        raise ProtoError(f"line {line}: field number {found['number']} is used twice")
    return Field(
        name=found["name"],
        number=int(found["number"]),
        label=found["label"],
        type=kind,
        comment=_join([c for c in comment if not EXAMPLE.fullmatch(c)]),
        example=examples[0] if examples else None,
        default=found["default"],
        fields=scope.messages[kind].fields if kind in scope.messages else (),
    )
