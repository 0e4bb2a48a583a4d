"""Reading a Django ``dumpdata`` fixture one row at a time, never the whole file at once.

A fixture is a JSON list of rows ``{"model": "app.name", "pk": ..., "fields": {...}}``; Django
writes it on one line unless asked to indent. One with per-system rows can be gigabytes, so
:func:`read_rows` decodes it with :meth:`json.JSONDecoder.raw_decode` over a buffer that holds
one chunk of the file and at most one row beyond it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, TextIO

CHUNK_CHARS = 1 << 20
MAX_ROW_CHARS = 16 << 20  # a row this long is not a summary row: the file is broken
WHITESPACE = re.compile(r"[ \t\n\r]*")
NUMBER_CHARS = re.compile(r"[0-9eE.+-]*")


class FixtureError(ValueError):
    """The file is missing, unreadable, not JSON or not a fixture; the message says which."""


class Row(NamedTuple):
    """One fixture row; ``number`` counts rows from 1 in file order."""

    model: str
    pk: Any
    fields: dict[str, Any]
    number: int


def read_rows(path: Path, chunk_chars: int = CHUNK_CHARS) -> Iterator[Row]:
    """Every row of the fixture at ``path``, in file order; raises FixtureError on a bad file."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except FileNotFoundError:
        raise FixtureError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FixtureError(f"{path}: is a directory, not a fixture file") from None
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        reader = ArrayReader(handle, str(path), chunk_chars)
        for number, value in enumerate(reader.items(), 1):
            yield as_row(value, number, path)


def as_row(value: Any, number: int, path: Path) -> Row:
    """``value`` as a Row, or FixtureError when it does not have a row's shape."""
    if (
        type(value) is not dict
        or type(value.get("model")) is not str
        or (type(value.get("fields")) is not dict)
    ):
        raise FixtureError(
            f"{path}: row {number} is not a fixture row (an object with model, pk and fields);"
            " is this the output of manage.py dumpdata?"
        )
    return Row(value["model"], value.get("pk"), value["fields"], number)


class ArrayReader:
    """The items of one top-level JSON list, decoded one by one from a text stream."""

    def __init__(self, handle: TextIO, name: str, chunk_chars: int = CHUNK_CHARS) -> None:
        self.handle = handle
        self.name = name
        self.chunk_chars = chunk_chars
        self.decoder = json.JSONDecoder()
        self.buf = ""
        self.pos = 0  # next character of buf to read
        self.offset = 0  # characters of the file before buf
        self.eof = False

    def items(self) -> Iterator[Any]:
        first = self.peek()
        if first == "":
            raise FixtureError(f"{self.name}: the file is empty")
        if first != "[":
            raise FixtureError(
                f"{self.name}: not a Django fixture (a JSON list of rows): it starts with {first!r}"
            )
        self.pos += 1
        if self.peek() == "]":
            self.pos += 1
        else:
            yield from self.until_closed()
        if self.peek() != "":
            raise self.error("text after the end of the list")

    def until_closed(self) -> Iterator[Any]:
        """The items of a non-empty list up to and including its closing bracket."""
        while True:
            if self.peek() == "":
                raise FixtureError(f"{self.name}: the file ends inside the list (cut short?)")
            yield self.decode()
            char = self.peek()
            if char == "":
                raise FixtureError(f"{self.name}: the file ends inside the list (cut short?)")
            if char not in (",", "]"):
                raise self.error("expected ',' or ']' after a row")
            self.pos += 1
            if char == "]":
                return

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end of the file)."""
        if self.pos < len(self.buf) and self.buf[self.pos] not in " \t\n\r":
            return self.buf[self.pos]
        while True:
            self.pos = WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or not self.fill():
                return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def decode(self) -> Any:
        """The JSON value starting at ``pos``, reading more of the file until it is whole."""
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof or len(self.buf) - self.pos > MAX_ROW_CHARS:
                    raise self.error(exc.msg, exc.pos) from None
                self.fill()
                continue
            if self.may_go_on(value, end) and self.fill():
                continue
            self.pos = end
            return value

    def may_go_on(self, value: Any, end: int) -> bool:
        """Whether a number ends where the buffer does, so the next chunk may continue it."""
        if self.eof or not isinstance(value, int | float):
            return False
        return NUMBER_CHARS.match(self.buf, end).end() == len(self.buf)  # type: ignore[union-attr]

    def fill(self) -> bool:
        """Append the next chunk, dropping what was read; False at the end of the file."""
        if self.eof:
            return False
        try:
            chunk = self.handle.read(self.chunk_chars)
        except UnicodeDecodeError:
            raise FixtureError(f"{self.name}: not UTF-8 text") from None
        except OSError as exc:
            raise FixtureError(f"{self.name}: cannot read ({exc.strerror})") from None
        if not chunk:
            self.eof = True
            return False
        self.offset += self.pos
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def error(self, message: str, at: int | None = None) -> FixtureError:
        where = self.offset + (self.pos if at is None else at)
        return FixtureError(f"{self.name}: not valid JSON at character {where}: {message}")
