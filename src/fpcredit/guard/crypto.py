"""Field encryption at rest (AES-256-GCM, rotating keyring) and HMAC blind indexes.

This is the one seam through which identifiers (ID number, name, phone, address) enter and
leave the store. Ciphertext layout: ``0x01 | len(kid) | kid | nonce(12) | ciphertext+tag``.
The field name is the associated data, so a ciphertext copied into another column fails.

The keyring file (``data-keys.json``) holds every data key still in use and names the active
one; ``guard/rotate.py`` adds keys and retires them. A vault loaded from a keys folder notices a
rotated keyring on its own (see `RECHECK_S`), so a running service needs no restart.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fpcredit.errors import ConfigError, CryptoError
from fpcredit.messages import text

__all__ = [
    "BLIND_INDEX_BYTES",
    "DATA_KEYS_FILE",
    "INDEX_KEY_FILE",
    "RECHECK_S",
    "Keyring",
    "Vault",
    "create_keys",
    "header",
    "load_vault",
    "new_key",
    "read_keyring",
    "write_keyring",
]

_FORMAT: Final = 1
DATA_KEYS_FILE: Final = "data-keys.json"
INDEX_KEY_FILE: Final = "blind-index.key"
BLIND_INDEX_BYTES: Final = 16
# How often (seconds) a vault loaded from a folder looks whether the keyring file changed: one
# stat() per second at most, and a rotated key reaches every running process within a second.
RECHECK_S: Final = 1.0


def _write_secret(path: Path, content: bytes) -> None:
    # Create with 0600 from the start so the key is never world-readable, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def _new_kid(taken: Iterable[str] = ()) -> str:
    used = set(taken)
    while (kid := "k" + secrets.token_hex(4)) in used:
        pass
    return kid


def header(kid: str) -> bytes:
    """The first bytes of every ciphertext written under key `kid` (counted by key rotation)."""
    raw = kid.encode()
    return bytes((_FORMAT, len(raw))) + raw


@dataclass(frozen=True)
class Keyring:
    """The content of the keyring file: the data keys by id, the active id, other members.

    `extra` keeps members this module does not interpret (key rotation's progress marker).
    """

    active: str
    # Never in a repr, hence never in a log line.
    keys: Mapping[str, bytes] = dataclasses.field(repr=False)
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def with_key(self, kid: str, key: bytes) -> Keyring:
        """This ring plus `kid` (not yet active)."""
        return replace(self, keys={**self.keys, kid: key})

    def without(self, kids: Iterable[str]) -> Keyring:
        """This ring less `kids` (the active key cannot be dropped)."""
        drop = set(kids) - {self.active}
        return replace(self, keys={k: v for k, v in self.keys.items() if k not in drop})

    def to_json(self) -> bytes:
        keys = {kid: base64.b64encode(key).decode() for kid, key in self.keys.items()}
        return json.dumps({**self.extra, "active": self.active, "keys": keys}, indent=2).encode()


def _parse_ring(raw: bytes, keys_dir: Path) -> Keyring:
    try:
        data = json.loads(raw)
        keys = {kid: base64.b64decode(b64, validate=True) for kid, b64 in data["keys"].items()}
        active = data["active"]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConfigError(text("keys_damaged", folder=keys_dir)) from e
    if active not in keys or any(len(k) != 32 for k in keys.values()):
        raise ConfigError(text("keys_damaged", folder=keys_dir))
    extra = {k: v for k, v in data.items() if k not in ("active", "keys")}
    return Keyring(active, keys, extra)


def read_keyring(keys_dir: Path) -> Keyring:
    """Read the keyring file; missing or damaged is a ConfigError naming the file or folder."""
    try:
        raw = (keys_dir / DATA_KEYS_FILE).read_bytes()
    except FileNotFoundError as e:
        raise ConfigError(text("key_missing", name=e.filename)) from e
    return _parse_ring(raw, keys_dir)


def write_keyring(keys_dir: Path, ring: Keyring) -> None:
    """Replace the keyring file atomically: a 0600 temporary file, fsync, rename, fsync folder.

    A reader (another process's vault) sees the old ring or the new one, never a mixture, and
    a crash at any point leaves one of the two on disk.
    """
    target = keys_dir / DATA_KEYS_FILE
    tmp = keys_dir / f".{DATA_KEYS_FILE}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(ring.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    dir_fd = os.open(keys_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself must survive a power cut
    finally:
        os.close(dir_fd)


def new_key(ring: Keyring) -> tuple[str, bytes]:
    """A fresh 256-bit data key and an id not yet in `ring`."""
    return _new_kid(ring.keys), AESGCM.generate_key(256)


def create_keys(keys_dir: Path) -> bool:
    """Create the keyring and blind-index key if absent; True when anything was created."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = False
    if not (keys_dir / DATA_KEYS_FILE).exists():
        kid = _new_kid()
        ring = Keyring(kid, {kid: AESGCM.generate_key(256)})
        _write_secret(keys_dir / DATA_KEYS_FILE, ring.to_json())
        created = True
    if not (keys_dir / INDEX_KEY_FILE).exists():
        _write_secret(keys_dir / INDEX_KEY_FILE, base64.b64encode(secrets.token_bytes(32)))
        created = True
    return created


@dataclass(frozen=True)
class _Ring:
    active: str
    keys: dict[str, bytes] = dataclasses.field(repr=False)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class Vault:
    """Encrypts, decrypts and blind-indexes identifier fields with keys held in memory only.

    A vault from `load_vault` re-reads the keyring when its file changes (looked at no more
    than every `RECHECK_S`, and at once when a ciphertext names an unknown key): new writes use
    a newly activated key and values re-encrypted under it stay readable, without a restart.
    A vault built directly from keys (tests) never changes.
    """

    __slots__ = ("_checked", "_ring", "_stamp", "index_key", "keys_dir")

    def __init__(
        self,
        active_kid: str,
        keys: Mapping[str, bytes],
        index_key: bytes,
        keys_dir: Path | None = None,
    ) -> None:
        self._ring = _Ring(active_kid, dict(keys))
        self.index_key = index_key
        self.keys_dir = keys_dir
        self._stamp: tuple[int, int, int] | None = None
        self._checked = time.monotonic()

    def __repr__(self) -> str:  # keys must never reach a log through repr()
        return f"Vault(active_kid={self.active_kid!r}, keys={sorted(self.keys)})"

    @property
    def active_kid(self) -> str:
        """The id of the key new values are encrypted with."""
        return self._current().active

    @property
    def keys(self) -> Mapping[str, bytes]:
        """Every data key this vault can decrypt with, by id (read-only)."""
        return MappingProxyType(self._current().keys)

    def _current(self, force: bool = False) -> _Ring:
        if self.keys_dir is None:
            return self._ring
        now = time.monotonic()
        if not force and now - self._checked < RECHECK_S:
            return self._ring
        self._checked = now
        path = self.keys_dir / DATA_KEYS_FILE
        stamp = _stamp(path)
        if stamp is not None and stamp != self._stamp:
            try:
                ring = _parse_ring(path.read_bytes(), self.keys_dir)
            except (OSError, ConfigError):
                return self._ring  # a file being repaired by hand: keep the keys we have
            self._ring = _Ring(ring.active, dict(ring.keys))
            self._stamp = stamp
        return self._ring

    def _ring_with(self, kids: Iterable[str]) -> _Ring:
        """The current ring, re-read at once if it lacks one of `kids` (rotated meanwhile)."""
        ring = self._current()
        if any(kid not in ring.keys for kid in kids):
            ring = self._current(force=True)
        return ring

    def encrypt(self, value: str | None, field: str) -> bytes | None:
        """Encrypt one value under the active key; None stays None."""
        if value is None:
            return None
        ring = self._current()
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(ring.keys[ring.active]).encrypt(nonce, value.encode(), field.encode())
        return header(ring.active) + nonce + sealed

    def encrypt_many(self, values: Iterable[str | None], field: str) -> list[bytes | None]:
        """Encrypt a column; one AESGCM object for the batch keeps this fast."""
        ring = self._current()
        head = header(ring.active)
        aead, aad = AESGCM(ring.keys[ring.active]), field.encode()
        out: list[bytes | None] = []
        for value in values:
            if value is None:
                out.append(None)
                continue
            nonce = secrets.token_bytes(12)
            out.append(head + nonce + aead.encrypt(nonce, value.encode(), aad))
        return out

    def decrypt(self, blob: bytes | None, field: str) -> str | None:
        """Decrypt a value written by `encrypt` under any key still in the keyring."""
        if blob is None:
            return None
        kid, nonce, sealed = self._split(bytes(blob))
        ring = self._ring_with([kid])
        try:
            return AESGCM(ring.keys[kid]).decrypt(nonce, sealed, field.encode()).decode()
        except (KeyError, InvalidTag) as e:
            raise CryptoError(text("cannot_decrypt", field=field, kid=kid)) from e

    def decrypt_many(self, blobs: Iterable[bytes | None], field: str) -> list[str | None]:
        """Decrypt a column (batch linkage reads); one AESGCM object per key."""
        ring = self._current()
        aeads: dict[str, AESGCM] = {}
        aad, out = field.encode(), list[str | None]()
        for blob in blobs:
            if blob is None:
                out.append(None)
                continue
            kid, nonce, sealed = self._split(bytes(blob))
            try:
                if kid not in aeads:
                    ring = self._ring_with([kid]) if kid not in ring.keys else ring
                    aeads[kid] = AESGCM(ring.keys[kid])
                out.append(aeads[kid].decrypt(nonce, sealed, aad).decode())
            except (KeyError, InvalidTag) as e:
                raise CryptoError(text("cannot_decrypt", field=field, kid=kid)) from e
        return out

    def key_id(self, blob: bytes) -> str:
        """The id of the key a ciphertext was written with (used by key rotation)."""
        return self._split(bytes(blob))[0]

    def blind_index(self, value: str | None, field: str) -> bytes | None:
        """Keyed HMAC-SHA256 (truncated) of a normalised value, for exact-match lookups."""
        if value is None:
            return None
        msg = field.encode() + b"\x00" + value.encode()
        return hmac.digest(self.index_key, msg, hashlib.sha256)[:BLIND_INDEX_BYTES]

    def blind_index_many(self, values: Iterable[str | None], field: str) -> list[bytes | None]:
        """Blind-index a column."""
        prefix, key = field.encode() + b"\x00", self.index_key
        out: list[bytes | None] = []
        for value in values:
            if value is None:
                out.append(None)
            else:
                out.append(hmac.digest(key, prefix + value.encode(), "sha256")[:BLIND_INDEX_BYTES])
        return out

    @staticmethod
    def _split(blob: bytes) -> tuple[str, bytes, bytes]:
        if len(blob) < 2 or blob[0] != _FORMAT:
            raise CryptoError(text("not_ciphertext"))
        end = 2 + blob[1]
        return blob[2:end].decode(), blob[end : end + 12], blob[end + 12 :]


def load_vault(keys_dir: Path) -> Vault:
    """Read the keys; a missing or damaged key file is a ConfigError naming the file.

    The vault follows later changes of the keyring file (key rotation) by itself.
    """
    # The stamp is taken before the read: a change in between is then picked up later.
    stamp = _stamp(keys_dir / DATA_KEYS_FILE)
    ring = read_keyring(keys_dir)
    try:
        raw = (keys_dir / INDEX_KEY_FILE).read_bytes().strip()
        index_key = base64.b64decode(raw, validate=True)
    except FileNotFoundError as e:
        raise ConfigError(text("key_missing", name=e.filename)) from e
    except ValueError as e:
        raise ConfigError(text("keys_damaged", folder=keys_dir)) from e
    vault = Vault(ring.active, ring.keys, index_key, keys_dir)
    vault._stamp = stamp
    return vault
