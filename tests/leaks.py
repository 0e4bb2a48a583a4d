"""Searching files for system ids and their keyed hashes, in every form they could take."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable
from pathlib import Path


def id_forms(system_id: str) -> list[bytes]:
    """A UUID as text with and without dashes, lower and upper case, and its 16 raw bytes."""
    value = uuid.UUID(system_id)
    texts = (str(value), str(value).upper(), value.hex, value.hex.upper())
    return [text.encode() for text in texts] + [value.bytes]


def keyed_hash(key_hex: str, system_id: str) -> bytes:
    """What the receiver stores for ``system_id`` (computed here independently of it)."""
    return hmac.new(bytes.fromhex(key_hex), system_id.encode(), hashlib.sha256).digest()


def hash_forms(digest: bytes) -> list[bytes]:
    """A keyed hash as raw bytes and as hex in either case."""
    return [digest, digest.hex().encode(), digest.hex().upper().encode()]


def found(paths: Iterable[Path], needles: dict[str, list[bytes]]) -> list[str]:
    """``name in file`` for every needle form found in every existing file."""
    hits = []
    for path in paths:
        if not path.is_file():
            continue
        content = path.read_bytes()
        for name, forms in needles.items():
            if any(form in content for form in forms):
                hits.append(f"{name} in {path}")
    return hits
