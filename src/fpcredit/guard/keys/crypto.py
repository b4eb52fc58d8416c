"""Field encryption at rest (AES-256-GCM or SM4-GCM, rotating keyring) and HMAC blind indexes.

This is the one seam through which identifiers (ID number, name, phone, address) enter and
leave the store. Ciphertext layout: ``0x01 | len(kid) | kid | nonce(12) | ciphertext+tag``.
The field name is the associated data, so a ciphertext copied into another column fails.

The keyring file (``data-keys.json``) holds every data key still in use, the algorithm of
each (`guard.keys.ciphers`), the active one, and the blind-index algorithm;
``guard/keys/rotate.py`` adds
keys, retires them and moves a store between profiles. The keyring, not a setting, decides how
a store is read: a ciphertext names its key, and the key its algorithm. A vault loaded from a
keys folder notices a rotated keyring on its own (see `RECHECK_S`), so a running service needs
no restart. While a move changes the blind-index algorithm, new values are indexed with the new
one and lookups ask for both (`Vault.blind_indexes`).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from cryptography.exceptions import InvalidTag

from fpcredit.errors import ConfigError, CryptoError
from fpcredit.files import private_dir, read_or_create, write_private
from fpcredit.guard.keys.ciphers import (
    AES_256_GCM,
    DATA_ALGORITHMS,
    HMAC_SHA256,
    HMAC_SM3,
    INDEX_ALGORITHMS,
    PROFILES,
    Aead,
    ProfileName,
    aead,
    index_mac,
    new_data_key,
    new_index_key,
    profile_of,
)
from fpcredit.messages import text

__all__ = [
    "BLIND_INDEX_BYTES",
    "DATA_KEYS_FILE",
    "INDEX_KEY_FILE",
    "INDEX_KEY_FILES",
    "RECHECK_S",
    "Keyring",
    "Vault",
    "create_keys",
    "header",
    "load_vault",
    "moving_to",
    "new_key",
    "read_index_key",
    "read_keyring",
    "refuse_during_move",
    "write_index_key",
    "write_keyring",
]

_FORMAT: Final = 1
DATA_KEYS_FILE: Final = "data-keys.json"
INDEX_KEY_FILE: Final = "blind-index.key"
# One key file per index algorithm: a key is never used with two algorithms.
INDEX_KEY_FILES: Final = {HMAC_SHA256: INDEX_KEY_FILE, HMAC_SM3: "blind-index-sm3.key"}
BLIND_INDEX_BYTES: Final = 16
# How often (seconds) a vault loaded from a folder looks whether the keyring file changed: one
# stat() per second at most, and a rotated key reaches every running process within a second.
RECHECK_S: Final = 1.0
# Keyring members this module interprets; any other member is kept as is (`Keyring.extra`).
_MEMBERS: Final = ("active", "keys", "algorithms", "index", "index_next")


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
    """The content of the keyring file: the data keys by id and their algorithms, the active
    id, the blind-index algorithm (and, while a move recomputes the indexes, the next one).

    Keys without an entry in `algorithms` are AES-256-GCM and a ring without `index` uses
    HMAC-SHA256: keyrings written before the profiles existed read unchanged. `extra` keeps
    members this module does not interpret (key rotation's progress marker).
    """

    active: str
    # Never in a repr, hence never in a log line.
    keys: Mapping[str, bytes] = dataclasses.field(repr=False)
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    algorithms: Mapping[str, str] = dataclasses.field(default_factory=dict)
    index: str = HMAC_SHA256
    index_next: str | None = None

    def algorithm(self, kid: str) -> str:
        """The algorithm of data key `kid`."""
        return self.algorithms.get(kid, AES_256_GCM)

    @property
    def writing_index(self) -> str:
        """The index algorithm new values are indexed with."""
        return self.index_next or self.index

    @property
    def profile(self) -> ProfileName | None:
        """The profile new values are written in; None for a ring that mixes profiles."""
        return profile_of(self.algorithm(self.active), self.writing_index)

    def with_key(self, kid: str, key: bytes, algorithm: str = AES_256_GCM) -> Keyring:
        """This ring plus `kid` (not yet active)."""
        algorithms = {**self.algorithms, kid: algorithm}
        return replace(self, keys={**self.keys, kid: key}, algorithms=algorithms)

    def without(self, kids: Iterable[str]) -> Keyring:
        """This ring less `kids` (the active key cannot be dropped)."""
        drop = set(kids) - {self.active}
        keys = {k: v for k, v in self.keys.items() if k not in drop}
        algorithms = {k: v for k, v in self.algorithms.items() if k in keys}
        return replace(self, keys=keys, algorithms=algorithms)

    def to_json(self) -> bytes:
        keys = {kid: base64.b64encode(key).decode() for kid, key in self.keys.items()}
        algorithms = {kid: self.algorithm(kid) for kid in self.keys}
        data = {**self.extra, "active": self.active, "keys": keys, "algorithms": algorithms}
        data["index"] = self.index
        if self.index_next:
            data["index_next"] = self.index_next
        return json.dumps(data, indent=2).encode()


def _parse_ring(raw: bytes, keys_dir: Path) -> Keyring:
    damaged = ConfigError(text("keys.damaged", folder=keys_dir))
    try:
        data = json.loads(raw)
        keys = {kid: base64.b64decode(b64, validate=True) for kid, b64 in data["keys"].items()}
        ring = Keyring(
            data["active"],
            keys,
            {k: v for k, v in data.items() if k not in _MEMBERS},
            {kid: str(alg) for kid, alg in data.get("algorithms", {}).items()},
            str(data.get("index", HMAC_SHA256)),
            data.get("index_next"),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise damaged from e
    indexes = {ring.index, ring.index_next or ring.index}
    if ring.active not in keys or not indexes <= set(INDEX_ALGORITHMS):
        raise damaged
    for kid, key in keys.items():
        if DATA_ALGORITHMS.get(ring.algorithm(kid)) != len(key):
            raise damaged
    return ring


def read_keyring(keys_dir: Path) -> Keyring:
    """Read the keyring file; missing or damaged is a ConfigError naming the file or folder."""
    try:
        raw = (keys_dir / DATA_KEYS_FILE).read_bytes()
    except FileNotFoundError as e:
        raise ConfigError(text("keys.missing", name=e.filename)) from e
    return _parse_ring(raw, keys_dir)


def write_keyring(keys_dir: Path, ring: Keyring) -> None:
    """Replace the keyring file atomically (`fpcredit.files.write_private`): a reader (another
    process's vault) sees the old ring or the new one, and a crash leaves one of the two."""
    write_private(keys_dir / DATA_KEYS_FILE, ring.to_json())


def new_key(ring: Keyring, algorithm: str = AES_256_GCM) -> tuple[str, bytes]:
    """A fresh data key for `algorithm` and an id not yet in `ring`."""
    return _new_kid(ring.keys), new_data_key(algorithm)


def read_index_key(keys_dir: Path, algorithm: str) -> bytes:
    """The blind-index key of `algorithm`; missing or damaged is a ConfigError."""
    path = keys_dir / INDEX_KEY_FILES[algorithm]
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except FileNotFoundError as e:
        raise ConfigError(text("keys.missing", name=e.filename)) from e
    except ValueError as e:
        raise ConfigError(text("keys.damaged", folder=keys_dir)) from e
    if len(key) != 32:
        raise ConfigError(text("keys.damaged", folder=keys_dir))
    return key


def write_index_key(keys_dir: Path, algorithm: str) -> None:
    """A fresh blind-index key for `algorithm`, replacing any file of that name (a move)."""
    write_private(keys_dir / INDEX_KEY_FILES[algorithm], base64.b64encode(new_index_key()))


def create_keys(keys_dir: Path, profile: ProfileName = "default") -> bool:
    """Create the keyring (in `profile`) and its blind-index key if absent; True when anything
    was created. An existing keyring keeps its own profile: `keys rotate --profile` moves it."""
    private_dir(keys_dir)
    created = False
    chosen = PROFILES[profile]
    if not (keys_dir / DATA_KEYS_FILE).exists():
        kid = _new_kid()
        ring = Keyring(kid, {kid: new_data_key(chosen.data)}, {}, {kid: chosen.data})
        ring = replace(ring, index=chosen.index)
        read_or_create(keys_dir / DATA_KEYS_FILE, ring.to_json)  # two first runs agree
        created = True
    index = read_keyring(keys_dir).index
    if not (keys_dir / INDEX_KEY_FILES[index]).exists():
        read_or_create(keys_dir / INDEX_KEY_FILES[index], lambda: base64.b64encode(new_index_key()))
        created = True
    return created


def moving_to(keys_dir: Path) -> ProfileName | None:
    """The profile a store's blind indexes are being moved to, or None (also without keys)."""
    if not (keys_dir / DATA_KEYS_FILE).exists():
        return None
    ring = read_keyring(keys_dir)
    return ring.profile if ring.index_next else None


def refuse_during_move(keys_dir: Path) -> None:
    """Batch jobs that compare blind indexes across rows (linkage, matching, evaluation) would
    see two indexes of one value during a move: they wait until it is finished."""
    target = moving_to(keys_dir)
    if target is not None:
        raise CryptoError(text("keys.move_blocks", profile=target))


@dataclass(frozen=True)
class _Index:
    algorithm: str
    key: bytes = dataclasses.field(repr=False)
    mac: Callable[[bytes], bytes] = dataclasses.field(repr=False, compare=False)


def _index(algorithm: str, key: bytes) -> _Index:
    return _Index(algorithm, key, index_mac(algorithm, key))


@dataclass(frozen=True)
class _Ring:
    active: str
    keys: dict[str, bytes] = dataclasses.field(repr=False)
    algorithms: dict[str, str]
    index: _Index
    next: _Index | None = None

    def aead(self, kid: str) -> Aead:
        return aead(self.algorithms.get(kid, AES_256_GCM), self.keys[kid])

    @property
    def writing(self) -> _Index:
        return self.next or self.index


def _load_ring(keys_dir: Path, raw: bytes | None = None) -> _Ring:
    ring = read_keyring(keys_dir) if raw is None else _parse_ring(raw, keys_dir)
    index = _index(ring.index, read_index_key(keys_dir, ring.index))
    nxt = ring.index_next
    following = _index(nxt, read_index_key(keys_dir, nxt)) if nxt else None
    algorithms = {kid: ring.algorithm(kid) for kid in ring.keys}
    return _Ring(ring.active, dict(ring.keys), algorithms, index, following)


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

    __slots__ = ("_checked", "_ring", "_stamp", "keys_dir")

    def __init__(
        self,
        active_kid: str,
        keys: Mapping[str, bytes],
        index_key: bytes,
        keys_dir: Path | None = None,
        *,
        algorithms: Mapping[str, str] | None = None,
        index_algorithm: str = HMAC_SHA256,
    ) -> None:
        algs = {kid: (algorithms or {}).get(kid, AES_256_GCM) for kid in keys}
        self._ring = _Ring(active_kid, dict(keys), algs, _index(index_algorithm, index_key))
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

    @property
    def index_key(self) -> bytes:
        """The key of the settled blind index (the old one while a move runs)."""
        return self._current().index.key

    @property
    def profile(self) -> ProfileName | None:
        """The profile new values are written in."""
        ring = self._current()
        return profile_of(ring.algorithms[ring.active], ring.writing.algorithm)

    @property
    def moving(self) -> bool:
        """Whether a move is recomputing the blind indexes (lookups then ask for two)."""
        return self._current().next is not None

    def refuse_during_move(self) -> None:
        """Raise CryptoError while a move recomputes the blind indexes (batch jobs wait)."""
        ring = self._current(force=True)
        if ring.next is not None:
            target = profile_of(ring.algorithms[ring.active], ring.next.algorithm)
            raise CryptoError(text("keys.move_blocks", profile=target))

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
                self._ring = _load_ring(self.keys_dir, path.read_bytes())
            except (OSError, ConfigError):
                return self._ring  # a file being repaired by hand: keep the keys we have
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
        sealed = ring.aead(ring.active).encrypt(nonce, value.encode(), field.encode())
        return header(ring.active) + nonce + sealed

    def encrypt_many(self, values: Iterable[str | None], field: str) -> list[bytes | None]:
        """Encrypt a column; one AEAD object for the batch keeps this fast."""
        ring = self._current()
        head, box, aad = header(ring.active), ring.aead(ring.active), field.encode()
        out: list[bytes | None] = []
        for value in values:
            if value is None:
                out.append(None)
                continue
            nonce = secrets.token_bytes(12)
            out.append(head + nonce + box.encrypt(nonce, value.encode(), aad))
        return out

    def decrypt(self, blob: bytes | None, field: str) -> str | None:
        """Decrypt a value written by `encrypt` under any key still in the keyring."""
        if blob is None:
            return None
        kid, nonce, sealed = self._split(bytes(blob))
        ring = self._ring_with([kid])
        try:
            return ring.aead(kid).decrypt(nonce, sealed, field.encode()).decode()
        except (KeyError, InvalidTag) as e:
            raise CryptoError(text("keys.cannot_decrypt", field=field, kid=kid)) from e

    def decrypt_many(self, blobs: Iterable[bytes | None], field: str) -> list[str | None]:
        """Decrypt a column (batch linkage reads); one AEAD object per key."""
        ring = self._current()
        boxes: dict[str, Aead] = {}
        aad, out = field.encode(), list[str | None]()
        for blob in blobs:
            if blob is None:
                out.append(None)
                continue
            kid, nonce, sealed = self._split(bytes(blob))
            try:
                if kid not in boxes:
                    ring = self._ring_with([kid]) if kid not in ring.keys else ring
                    boxes[kid] = ring.aead(kid)
                out.append(boxes[kid].decrypt(nonce, sealed, aad).decode())
            except (KeyError, InvalidTag) as e:
                raise CryptoError(text("keys.cannot_decrypt", field=field, kid=kid)) from e
        return out

    def key_id(self, blob: bytes) -> str:
        """The id of the key a ciphertext was written with (used by key rotation)."""
        return self._split(bytes(blob))[0]

    def blind_index(self, value: str | None, field: str) -> bytes | None:
        """Keyed HMAC (truncated) of a normalised value, for exact-match lookups; during a move
        the new index. To look a value up use `blind_indexes`."""
        if value is None:
            return None
        mac = self._current().writing.mac
        return mac(field.encode() + b"\x00" + value.encode())[:BLIND_INDEX_BYTES]

    def blind_indexes(self, value: str, field: str) -> list[bytes]:
        """Every index a stored row may hold for `value`: one, or during a move the new and the
        old (query with ``column.in_(...)``)."""
        ring, msg = self._current(), field.encode() + b"\x00" + value.encode()
        indexes = [ring.writing] + ([ring.index] if ring.next is not None else [])
        return [i.mac(msg)[:BLIND_INDEX_BYTES] for i in indexes]

    def blind_index_many(self, values: Iterable[str | None], field: str) -> list[bytes | None]:
        """Blind-index a column (the new index during a move)."""
        prefix, mac = field.encode() + b"\x00", self._current().writing.mac
        return [None if v is None else mac(prefix + v.encode())[:BLIND_INDEX_BYTES] for v in values]

    @staticmethod
    def _split(blob: bytes) -> tuple[str, bytes, bytes]:
        if len(blob) < 2 or blob[0] != _FORMAT:
            raise CryptoError(text("keys.not_ciphertext"))
        end = 2 + blob[1]
        return blob[2:end].decode(), blob[end : end + 12], blob[end + 12 :]


def load_vault(keys_dir: Path) -> Vault:
    """Read the keys; a missing or damaged key file is a ConfigError naming the file.

    The vault follows later changes of the keyring file (key rotation, moves) by itself.
    """
    # The stamp is taken before the read: a change in between is then picked up later.
    stamp = _stamp(keys_dir / DATA_KEYS_FILE)
    ring = _load_ring(keys_dir)
    vault = Vault(ring.active, ring.keys, ring.index.key, keys_dir)
    vault._ring = ring
    vault._stamp = stamp
    return vault
