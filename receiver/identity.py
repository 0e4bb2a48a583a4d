"""The keyed hash that stands for a system id at rest (SPEC §8).

The receiver never stores a system id: it keeps ``HMAC-SHA256(ID_KEY, canonical UUID text)``,
32 bytes, in its place. One installation gets the same hash every day, so the first report of
a day wins, and first seen and age work as before; without the key nobody can compute the hash
of a given UUID, so a leaked database cannot be joined with what pulpcore logs (its
``systemId``). Changing the key makes every system new (see docs/operations.md).

The key is ``ID_KEY`` (hex) or the content of ``ID_KEY_FILE``: required on prod; on dev, when
neither is given, one is generated once into the instance folder and reused.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import stat
from pathlib import Path

from receiver.config import ENV_PREFIX, ConfigError, Settings

KEY_BYTES = 32  # at least this many random bytes
KEY_FILE_NAME = "id_key"  # the generated dev key, in the instance folder
MAX_KEY_FILE = 4096  # a key file is a line of hex; anything longer is not one
HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
HOW_TO_MAKE = "python3 -c 'import secrets; print(secrets.token_hex(32))'"


class IdKey:
    """The secret of the keyed hash; ``hash`` is the only thing done with it."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < KEY_BYTES:
            raise ValueError(f"an ID key needs at least {KEY_BYTES} bytes")
        self._secret = secret

    def hash(self, system_id: str) -> bytes:
        """HMAC-SHA256 of the canonical UUID text: what is stored instead of the id."""
        return hmac.digest(self._secret, system_id.encode("ascii"), "sha256")

    def __repr__(self) -> str:
        return "IdKey(<secret>)"


def load_id_key(settings: Settings, instance_path: Path) -> IdKey:
    """The key the settings name, or on dev the generated one; ConfigError in one line."""
    if settings.id_key and settings.id_key_file:
        raise ConfigError(f"give {ENV_PREFIX}ID_KEY or {ENV_PREFIX}ID_KEY_FILE, not both")
    if settings.id_key:
        return IdKey(parse_key(settings.id_key, f"{ENV_PREFIX}ID_KEY"))
    if settings.id_key_file:
        return IdKey(read_key_file(settings.id_key_file, f"{ENV_PREFIX}ID_KEY_FILE"))
    if settings.deployment == "prod":
        raise ConfigError(
            f"{ENV_PREFIX}ID_KEY (or {ENV_PREFIX}ID_KEY_FILE) is required on prod: the secret"
            f" for hashing system ids, 64 hex digits from {HOW_TO_MAKE}"
        )
    return IdKey(generated_key(instance_path / KEY_FILE_NAME))


def parse_key(text: str, what: str) -> bytes:
    """The key bytes of hex ``text``; the error names ``what`` but never shows the text."""
    text = text.strip()
    if not HEX.fullmatch(text):
        raise ConfigError(f"{what} must be hex digits (make one with {HOW_TO_MAKE})")
    secret = bytes.fromhex(text)
    if len(secret) < KEY_BYTES:
        raise ConfigError(
            f"{what} is {len(secret)} bytes; at least {KEY_BYTES} random bytes"
            f" ({2 * KEY_BYTES} hex digits) are needed: {HOW_TO_MAKE}"
        )
    return secret


def read_key_file(path: Path, what: str) -> bytes:
    """The key in ``path``, which only its owner may read or write (like an ssh key)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{what}: {path} is not a file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"{what}: {path} can be read or written by others (mode {mode:04o});"
                f" make it private: chmod 600 {path}"
            )
        content = os.read(fd, MAX_KEY_FILE + 1)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(content) > MAX_KEY_FILE or not content.isascii():
        raise ConfigError(f"{what} ({path}) must hold hex digits (make one with {HOW_TO_MAKE})")
    return parse_key(content.decode("ascii"), f"{what} ({path})")


def generated_key(path: Path) -> bytes:
    """The dev key in ``path``, made on first use (mode 0600) and read ever after.

    Several processes may start at once: each writes a whole key to a file of its own and
    links it into place; the first link wins and every process reads the winner.
    """
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _link_new_key(path)
        except OSError as exc:
            raise ConfigError(
                f"cannot write a generated ID key to {path} ({exc.strerror}); set"
                f" {ENV_PREFIX}ID_KEY or {ENV_PREFIX}ID_KEY_FILE"
            ) from None
    return read_key_file(path, "the generated ID key")


def _link_new_key(path: Path) -> None:
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_hex(KEY_BYTES) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process was first: its key is the one
    finally:
        draft.unlink()
