"""What the decoded message hides: the numbers as the client sent them.

protobuf silently cuts a varint that is too big for its field down to the field's width (``-1``
sent as a 64-bit varint becomes ``4294967295`` in a ``uint32``, ``2**32 + 5`` becomes ``5``).
:func:`scan` walks the raw bytes once, guided by the message descriptor, and reports every
number of a known field as sent, so the receiver can refuse it instead of storing a number the
client never sent. Fields it does not know are skipped whole, as protobuf keeps them.

The body has already been parsed by protobuf when this runs, so it is well-formed; a body that
is not still raises :class:`RawFieldError` rather than being misread.
"""

from __future__ import annotations

from functools import cache

from google.protobuf.descriptor import Descriptor, FieldDescriptor

VARINT, FIXED64, LENGTH, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5
WIRE_TYPES = {  # the wire type protobuf expects for each scalar field type it may meet here
    FieldDescriptor.TYPE_MESSAGE: LENGTH,
    FieldDescriptor.TYPE_STRING: LENGTH,
    FieldDescriptor.TYPE_BYTES: LENGTH,
    FieldDescriptor.TYPE_DOUBLE: FIXED64,
    FieldDescriptor.TYPE_FIXED64: FIXED64,
    FieldDescriptor.TYPE_SFIXED64: FIXED64,
    FieldDescriptor.TYPE_FLOAT: FIXED32,
    FieldDescriptor.TYPE_FIXED32: FIXED32,
    FieldDescriptor.TYPE_SFIXED32: FIXED32,
}
SIGNED_32 = (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_ENUM)


def fits(field_type: int, value: int) -> bool:
    """Whether protobuf keeps a varint ``value`` of ``field_type`` as sent (negative ``int32``
    values travel as 64-bit two's complement; anything wider than the field is cut)."""
    if field_type == FieldDescriptor.TYPE_UINT32:
        return value < 2**32
    if field_type in SIGNED_32:
        return value < 2**31 or value >= 2**64 - 2**31
    return True


class RawFieldError(ValueError):
    """The bytes are not a protobuf message after all."""


Numbers = list[tuple[str, int, bool]]  # (dotted path, value as sent, kept whole by protobuf)


def scan(data: bytes, descriptor: Descriptor) -> Numbers:
    """Every varint of a known numeric field, as sent, in the order sent."""
    numbers: Numbers = []
    _walk(data, descriptor, "", numbers)
    return numbers


@cache
def _fields(descriptor: Descriptor) -> dict[int, tuple[FieldDescriptor, int]]:
    """Each field by number, with the wire type protobuf expects for it."""
    return {f.number: (f, WIRE_TYPES.get(f.type, VARINT)) for f in descriptor.fields}


def without_field(data: bytes, number: int) -> bytes:
    """``data`` with every top-level occurrence of field ``number`` cut out, whatever its wire
    type; every other field is kept byte for byte, in order (unknown ones included)."""
    kept: list[bytes] = []
    pos = start = 0
    while pos < len(data):
        key, after_key = _varint(data, pos)
        end = _skip(data, after_key, key & 7, key >> 3)
        if key >> 3 == number:
            kept.append(data[start:pos])
            start = end
        pos = end
    if not kept:
        return data
    kept.append(data[start:])
    return b"".join(kept)


def _walk(data: bytes, descriptor: Descriptor, prefix: str, result: Numbers) -> None:
    fields = _fields(descriptor)
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        known, expected = fields.get(number, (None, None))
        if known is not None and wire_type == expected:
            pos = _known(data, pos, known, prefix, result)
        elif known is not None and known.is_repeated and wire_type == LENGTH:
            pos = _packed(data, pos, known, prefix + known.name, result)
        else:  # unknown, or a known number with the wrong wire type: kept as unknown
            pos = _skip(data, pos, wire_type, number)


def _known(data: bytes, pos: int, known: FieldDescriptor, prefix: str, result: Numbers) -> int:
    path = prefix + known.name
    if known.type == FieldDescriptor.TYPE_MESSAGE:
        length, pos = _varint(data, pos)
        end = _end(data, pos, length)
        assert known.message_type is not None  # a message field always has its type
        _walk(data[pos:end], known.message_type, path + ".", result)
        return end
    if known.type not in WIRE_TYPES:
        value, pos = _varint(data, pos)
        result.append((path, value, fits(known.type, value)))
        return pos
    return _skip(data, pos, WIRE_TYPES[known.type], known.number)


def _packed(data: bytes, pos: int, known: FieldDescriptor, path: str, result: Numbers) -> int:
    """A packed repeated scalar: one length, then the values back to back."""
    length, pos = _varint(data, pos)
    end = _end(data, pos, length)
    while pos < end and known.type not in WIRE_TYPES:
        value, pos = _varint(data, pos)
        result.append((path, value, fits(known.type, value)))
    return end


def _skip(data: bytes, pos: int, wire_type: int, number: int) -> int:
    """The position after one field's payload (groups included, as protobuf keeps them)."""
    if wire_type == VARINT:
        return _varint(data, pos)[1]
    if wire_type == FIXED64:
        return _end(data, pos, 8)
    if wire_type == FIXED32:
        return _end(data, pos, 4)
    if wire_type == LENGTH:
        length, pos = _varint(data, pos)
        return _end(data, pos, length)
    if wire_type == START_GROUP:
        while True:
            key, pos = _varint(data, pos)
            if key == (number << 3 | END_GROUP):
                return pos
            pos = _skip(data, pos, key & 7, key >> 3)
    raise RawFieldError(f"wire type {wire_type} where a field was expected")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    if pos < len(data) and data[pos] < 0x80:  # most tags and numbers fit in one byte
        return data[pos], pos + 1
    value = shift = 0
    while pos < len(data) and shift < 70:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise RawFieldError("a varint runs past the end of its field")


def _end(data: bytes, pos: int, length: int) -> int:
    if pos + length > len(data):
        raise RawFieldError("a field runs past the end of the message")
    return pos + length
