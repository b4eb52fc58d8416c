"""Field encryption at rest (AES-256-GCM, rotating keyring) and HMAC blind indexes.

This is the one seam through which identifiers (ID number, name, phone, address) enter and
leave the store. Ciphertext layout: ``0x01 | len(kid) | kid | nonce(12) | ciphertext+tag``.
The field name is the associated data, so a ciphertext copied into another column fails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fpcredit.errors import ConfigError, CryptoError
from fpcredit.messages import text

__all__ = ["Vault", "create_keys", "load_vault"]

_FORMAT: Final = 1
_DATA_KEYS: Final = "data-keys.json"
_INDEX_KEY: Final = "blind-index.key"
BLIND_INDEX_BYTES: Final = 16


def _write_secret(path: Path, content: bytes) -> None:
    # Create with 0600 from the start so the key is never world-readable, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def create_keys(keys_dir: Path) -> bool:
    """Create the keyring and blind-index key if absent; True when anything was created."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = False
    if not (keys_dir / _DATA_KEYS).exists():
        kid = "k" + secrets.token_hex(4)
        ring = {"active": kid, "keys": {kid: base64.b64encode(AESGCM.generate_key(256)).decode()}}
        _write_secret(keys_dir / _DATA_KEYS, json.dumps(ring, indent=2).encode())
        created = True
    if not (keys_dir / _INDEX_KEY).exists():
        _write_secret(keys_dir / _INDEX_KEY, base64.b64encode(secrets.token_bytes(32)))
        created = True
    return created


@dataclass(frozen=True)
class Vault:
    """Encrypts, decrypts and blind-indexes identifier fields with keys held in memory only."""

    active_kid: str
    keys: dict[str, bytes]
    index_key: bytes

    def __repr__(self) -> str:  # keys must never reach a log through repr()
        return f"Vault(active_kid={self.active_kid!r}, keys={sorted(self.keys)})"

    def encrypt(self, value: str | None, field: str) -> bytes | None:
        """Encrypt one value under the active key; None stays None."""
        if value is None:
            return None
        kid = self.active_kid.encode()
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.keys[self.active_kid]).encrypt(nonce, value.encode(), field.encode())
        return bytes((_FORMAT, len(kid))) + kid + nonce + sealed

    def encrypt_many(self, values: Iterable[str | None], field: str) -> list[bytes | None]:
        """Encrypt a column; one AESGCM object for the batch keeps this fast."""
        kid = self.active_kid.encode()
        head = bytes((_FORMAT, len(kid))) + kid
        aead, aad = AESGCM(self.keys[self.active_kid]), field.encode()
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
        try:
            return AESGCM(self.keys[kid]).decrypt(nonce, sealed, field.encode()).decode()
        except (KeyError, InvalidTag) as e:
            raise CryptoError(text("cannot_decrypt", field=field, kid=kid)) from e

    def decrypt_many(self, blobs: Iterable[bytes | None], field: str) -> list[str | None]:
        """Decrypt a column (batch linkage reads); one AESGCM object per key."""
        aeads = {kid: AESGCM(key) for kid, key in self.keys.items()}
        aad, out = field.encode(), list[str | None]()
        for blob in blobs:
            if blob is None:
                out.append(None)
                continue
            kid, nonce, sealed = self._split(bytes(blob))
            try:
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
    """Read the keyring; a missing or damaged key file is a ConfigError naming the file."""
    try:
        ring = json.loads((keys_dir / _DATA_KEYS).read_text())
        keys = {kid: base64.b64decode(b64) for kid, b64 in ring["keys"].items()}
        index_key = base64.b64decode((keys_dir / _INDEX_KEY).read_bytes())
    except FileNotFoundError as e:
        raise ConfigError(text("key_missing", name=e.filename)) from e
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(text("keys_damaged", folder=keys_dir)) from e
    if ring.get("active") not in keys or any(len(k) != 32 for k in keys.values()):
        raise ConfigError(text("keys_damaged", folder=keys_dir))
    return Vault(ring["active"], keys, index_key)
