"""A tiny protobuf encoder, independent of the generated code, for building test payloads.

It writes the bytes pulpcore's ``Analytics`` and older ``Telemetry`` messages put on the wire,
so tests prove the receiver decodes what clients really send, not what our own bindings emit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def uint(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def chunk(number: int, payload: bytes) -> bytes:
    return tag(number, 2) + varint(len(payload)) + payload


def text(number: int, value: str) -> bytes:
    return chunk(number, value.encode())


def counts(values: Mapping[str, int | None], order: Iterable[str]) -> bytes:
    return b"".join(uint(i, values[k]) for i, k in enumerate(order, 1) if values.get(k) is not None)


PAIR = ("processes", "hosts")
RBAC = ("users", "groups", "domains", "custom_access_policies", "custom_roles")


def telemetry(
    system_id: str,
    components: Iterable[tuple[str, str]] = (("core", "3.21.0"),),
    workers: Mapping[str, int | None] | None = None,
    content_apps: Mapping[str, int | None] | None = None,
) -> bytes:
    """The layout pulpcore 3.18-3.21 sends (message Telemetry, fields 1-4)."""
    body = text(1, system_id)
    if content_apps is not None:
        body += chunk(2, counts(content_apps, PAIR))
    if workers is not None:
        body += chunk(3, counts(workers, PAIR))
    for name, version in components:
        body += chunk(4, text(1, name) + text(2, version))
    return body


def analytics(
    system_id: str,
    components: Iterable[tuple[str, str]] = (("core", "3.21.0"),),
    workers: Mapping[str, int | None] | None = None,
    content_apps: Mapping[str, int | None] | None = None,
    postgresql_version: int | None = None,
    rbac: Mapping[str, int | None] | None = None,
    extra: bytes = b"",
) -> bytes:
    """The current layout (message Analytics, fields 1-6), plus any ``extra`` raw fields."""
    body = telemetry(system_id, components, workers, content_apps)
    if postgresql_version is not None:
        body += uint(5, postgresql_version)
    if rbac is not None:
        body += chunk(6, counts(rbac, RBAC))
    return body + extra
