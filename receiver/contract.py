"""Decoding and checking what pulpcore sends (SPEC §2 and the limits of §3).

``decode`` turns the posted bytes into a :class:`Submission` or raises :class:`Rejected` with a
sentence a client operator can act on. The decoded fields are kept generically, as a JSON-ready
dict built by walking the message descriptor, so a field added to ``proto/analytics.proto`` is
stored and exported without any change here.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from receiver import rawfields
from receiver.analytics_pb2 import Analytics

MAX_BODY_BYTES = 64 * 1024
MAX_COMPONENTS = 256
MAX_VERSION_LENGTH = 64
SYSTEM_ID_FIELD = 1  # the field the stored raw bytes never keep
MAX_EXTRA_BYTES = 1024  # bytes beyond the known fields (fields of newer clients), kept raw
COMPONENT_NAME = re.compile(r"[a-z0-9_]{1,64}")
VERSION = re.compile(r"[\x20-\x3a\x3c-\x7e]+")  # printable ASCII but ';'
RELEASE_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")

# The plausible range of every number a report carries (inclusive). A report with a number
# outside it is refused with a 400 naming the field, so that one client cannot move a day's
# published means; README.md shows the same table (tests/test_docs.py keeps it so). A numeric
# field added to proto/analytics.proto should get a line here.
RANGES: dict[str, tuple[int, int]] = {
    "online_content_apps.processes": (0, 10_000),
    "online_content_apps.hosts": (0, 1_000),
    "online_workers.processes": (0, 10_000),
    "online_workers.hosts": (0, 1_000),
    "postgresql_version": (0, 999_999),  # server_version_num; 0 = unknown, 999999 = 99.9999
    "rbac_stats.users": (0, 1_000_000),
    "rbac_stats.groups": (0, 1_000_000),
    "rbac_stats.domains": (0, 100_000),
    "rbac_stats.custom_access_policies": (0, 100_000),
    "rbac_stats.custom_roles": (0, 100_000),
}


class Rejected(ValueError):
    """The body is not a submission this receiver accepts; the message says why.

    ``logged`` is the same reason without anything the client wrote (a malformed system id
    may well identify a machine): it is what the request log shows.
    """

    def __init__(self, message: str, logged: str | None = None) -> None:
        super().__init__(message)
        self.logged = logged or message


class ReadTimeout(Exception):
    """The client did not send its whole request (headers and body) in time; answered 408.

    Raised by the server's client socket (``receiver.worker``) while the request is read.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the request did not arrive within {seconds:g} s")


@dataclass(frozen=True)
class Submission:
    system_id: str  # canonical UUID text; never stored (receiver.identity hashes it)
    data: dict[str, Any]  # every field but system_id; absent fields are None
    raw: bytes  # the body as received without field 1 (system_id), unknown fields included
    dev: bool  # some component runs a version that is not plain X.Y.Z digits


def decode(body: bytes) -> Submission:
    """Parse and check one posted body."""
    message = Analytics()
    try:
        message.MergeFromString(body)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise Rejected(f"body is not a valid Analytics message ({exc})") from None
    system_id = _system_id(message)
    missing = cast(Any, message).FindInitializationErrors()  # not in the type stubs
    if missing:
        raise Rejected(f"missing required field {missing[0]}")
    if len(message.components) > MAX_COMPONENTS:
        raise Rejected(f"{len(message.components)} components is more than {MAX_COMPONENTS}")
    components = [_component(c) for c in message.components]
    _check_unique(components)
    data = message_to_data(message, skip=("system_id",))
    _check_raw(message, body, data)
    dev = any(not RELEASE_VERSION.fullmatch(version) for _, version in components)
    return Submission(system_id=system_id, data=data, raw=_without_system_id(body), dev=dev)


def _without_system_id(body: bytes) -> bytes:
    """The body with every field 1 cut out at the wire level, the rest kept byte for byte."""
    try:
        return rawfields.without_field(bytes(body), SYSTEM_ID_FIELD)
    except rawfields.RawFieldError as exc:  # protobuf read it, so this is not expected
        raise Rejected(f"body is not a valid Analytics message ({exc})") from None


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):  # proto2 hands back bytes for invalid UTF-8
        raise Rejected(f"{what} is not valid UTF-8")
    return value


def _system_id(message: Analytics) -> str:
    if not message.HasField("system_id"):
        raise Rejected("missing required field system_id")
    text = _text(message.system_id, "system_id")
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise Rejected(
            f"system_id is not a UUID: {text[:80]!r}", logged="system_id is not a UUID"
        ) from None


def _component(component: Analytics.Component) -> tuple[str, str]:
    name = _text(component.name, "a component name")
    if not COMPONENT_NAME.fullmatch(name):
        raise Rejected(
            f"component name {name[:80]!r} is not 1-64 of [a-z0-9_]",
            logged="a component name is not 1-64 of [a-z0-9_]",
        )
    version = _text(component.version, f"the version of component {name!r}")
    if not version:
        raise Rejected(f"component {name!r} has an empty version")
    if len(version) > MAX_VERSION_LENGTH:
        raise Rejected(f"version of component {name!r} is longer than {MAX_VERSION_LENGTH}")
    if not VERSION.fullmatch(version):
        raise Rejected(
            f"version of component {name!r} must be printable ASCII without ';' "
            f"(no control characters), not {version!r}",
            logged=f"version of component {name!r} is not printable ASCII without ';'",
        )
    return name, version


def _check_raw(message: Analytics, body: bytes, data: dict[str, Any]) -> None:
    """Refuse numbers protobuf would cut or that are out of range, and too many extra bytes.

    The extra bytes are what the body holds beyond its known fields written once each:
    fields of newer clients, and known fields sent more than once (the last one counts, but
    the raw bytes keep them all).
    """
    numbers = _as_sent(message, body, data)
    for path, value, kept_whole in numbers:
        if not kept_whole:
            raise Rejected(f"{path} is {value}, more than the field can hold")
        low, high = RANGES.get(path, (value, value))
        if not low <= value <= high:
            raise Rejected(f"{path} is {value}, outside the plausible range {low}-{high}")
    message.DiscardUnknownFields()  # the stored raw bytes keep them
    extra = len(body) - message.ByteSize()
    if extra > MAX_EXTRA_BYTES:
        raise Rejected(
            f"{extra} bytes beyond the fields this receiver knows (fields of a newer client,"
            f" or fields sent twice); at most {MAX_EXTRA_BYTES} are kept per report"
        )


def _as_sent(message: Analytics, body: bytes, data: dict[str, Any]) -> rawfields.Numbers:
    """The numbers of the report as sent, and whether protobuf kept each whole.

    A body that is exactly what protobuf writes for the parsed message (what pulpcore sends)
    cannot hold a number protobuf cut, since a cut number is written differently: its numbers
    are the decoded ones. Any other body is read byte by byte (``rawfields``).
    """
    if message.SerializeToString() != body:
        try:
            return rawfields.scan(body, cast(Descriptor, Analytics.DESCRIPTOR))
        except rawfields.RawFieldError as exc:  # protobuf read it, so this is not expected
            raise Rejected(f"body is not a valid Analytics message ({exc})") from None
    numbers: rawfields.Numbers = []
    for path, parent, name in _RANGE_PATHS:
        holder = data.get(parent) if parent else data
        if holder and holder.get(name) is not None:
            numbers.append((path, holder[name], True))
    return numbers


_RANGE_PATHS = tuple((path, *path.rpartition(".")[::2]) for path in RANGES)


def _check_unique(components: list[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for name, _ in components:
        if name in seen:
            raise Rejected(f"component {name!r} is listed twice")
        seen.add(name)


def message_to_data(message: Message, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every field of ``message`` as plain JSON values, in declaration order.

    A field the client did not send is None, except a scalar whose ``.proto`` declares an
    explicit default (``postgresql_version``: 0 means unknown), which takes that default.
    """
    sent = {field.name: (field, value) for field, value in message.ListFields()}
    data: dict[str, Any] = {}
    for name, repeated, absent in _layout(message.DESCRIPTOR):
        if name in skip:
            continue
        if name not in sent:
            data[name] = [] if repeated else absent
            continue
        field, value = sent[name]
        data[name] = [_value(field, item) for item in value] if repeated else _value(field, value)
    return data


@cache
def _layout(descriptor: Descriptor) -> tuple[tuple[str, bool, Any], ...]:
    """(name, repeated, value when absent) of each field, computed once per message type."""
    layout = []
    for field in descriptor.fields:
        scalar_default = field.type != FieldDescriptor.TYPE_MESSAGE and field.has_default_value
        layout.append(
            (field.name, field.is_repeated, field.default_value if scalar_default else None)
        )
    return tuple(layout)


def _value(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return message_to_data(value)
    if isinstance(value, bytes):
        if field.type == FieldDescriptor.TYPE_STRING:
            raise Rejected(f"field {field.name} is not valid UTF-8")
        return value.hex()
    return value
