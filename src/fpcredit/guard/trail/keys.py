"""The trail's keys under FPCREDIT_HOME/keys: checkpoint signer, subject hash and entry MAC.

None of them is ever written to the database or a log. Each is created 0600 on first use
(`fpcredit.files.read_or_create`, so two processes starting together agree on one key).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path
from typing import Final

from fpcredit.errors import TrailError
from fpcredit.files import read_or_create
from fpcredit.guard.trail import tlog
from fpcredit.messages import text

__all__ = [
    "MAC_KEY",
    "SIGNING_KEY",
    "SUBJECT_KEY",
    "EntryMac",
    "SubjectHasher",
    "load_mac",
    "load_signer",
    "load_subject_hasher",
    "secret_key",
]

SIGNING_KEY: Final = "ledger-signing.key"
SUBJECT_KEY: Final = "ledger-subject.key"
MAC_KEY: Final = "trail-mac.key"


def load_signer(keys_dir: Path, origin: str | None) -> tlog.NoteSigner | None:
    """The checkpoint key; created (named `origin`) when asked to and absent."""
    path = keys_dir / SIGNING_KEY
    try:
        if origin is None:
            if not path.exists():
                return None
            raw = path.read_bytes()
        else:
            name = origin
            raw = read_or_create(path, lambda: tlog.NoteSigner.generate(name).key_string().encode())
        return tlog.NoteSigner.from_key_string(raw.decode())
    except (UnicodeDecodeError, TrailError) as e:
        raise TrailError(text("trail.key_damaged", name=path.name)) from e


def secret_key(path: Path) -> bytes:
    """The 32-byte key stored as base64 at `path`, created on first use."""
    return _decoded(path, read_or_create(path, lambda: base64.b64encode(secrets.token_bytes(32))))


def _secret(path: Path, create: bool) -> bytes | None:
    """A 32-byte key stored as base64; None when absent and not to be created."""
    if create:
        return secret_key(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return _decoded(path, raw)


def _decoded(path: Path, raw: bytes) -> bytes:
    """The key the file `path` holds as `raw`; TrailError when it is not a 32-byte key."""
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError as e:
        raise TrailError(text("trail.key_damaged", name=path.name)) from e
    if len(key) != 32:
        raise TrailError(text("trail.key_damaged", name=path.name))
    return key


class _Hmac:
    """HMAC-SHA256 (RFC 2104) under one key.

    The two padded key blocks are hashed once and their states copied per message: 4× faster
    than `hmac.digest`, which re-derives them on every call, and a batch of 200,000 entries
    spends most of its Python time here.
    """

    __slots__ = ("inner", "outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:  # SHA-256's block; RFC 2104 hashes longer keys first
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))


class SubjectHasher(_Hmac):
    """The keyed hash an entry stores instead of its subject (hex)."""

    __slots__ = ()

    def __call__(self, subject: str) -> str:
        inner = self.inner.copy()
        inner.update(subject.encode())
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class EntryMac(_Hmac):
    """An entry's MAC: HMAC-SHA256 of its leaf hash under keys/trail-mac.key."""

    __slots__ = ()

    def __call__(self, leaf_hash: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(leaf_hash)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def load_subject_hasher(keys_dir: Path) -> SubjectHasher:
    key = _secret(keys_dir / SUBJECT_KEY, create=True)
    assert key is not None
    return SubjectHasher(key)


def load_mac(keys_dir: Path, create: bool = True) -> EntryMac | None:
    """The entry MAC; None when its key is absent and `create` is false (a verifier)."""
    key = _secret(keys_dir / MAC_KEY, create)
    return None if key is None else EntryMac(key)
