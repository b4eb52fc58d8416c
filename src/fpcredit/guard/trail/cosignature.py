"""C2SP tlog-cosignature/v1: a witness's timestamped Ed25519 signature on a checkpoint.

A cosignature is a signed-note signature line, ``— <witness name> base64(key id ‖ timestamp ‖
signature)``, whose key id is SHA-256(name ‖ "\\n" ‖ 0x04 ‖ public key)[:4], whose timestamp is
a big-endian u64 of POSIX seconds, and whose Ed25519 signature covers ``cosignature/v1\\n``,
``time <timestamp>\\n`` and the checkpoint's note text. A `CosignatureVerifier` takes part in
`notes.open_note` like any note key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fpcredit.errors import TrailError
from fpcredit.guard.trail.notes import (
    key_id,
    parse_key_string,
    parse_signer_string,
    signature_line,
    signer_string,
    valid_name,
)
from fpcredit.messages import text

__all__ = [
    "COSIGNATURE_V1",
    "CosignatureSigner",
    "CosignatureVerifier",
    "cosigned_message",
    "timestamp_of",
]

COSIGNATURE_V1: Final = 4  # the signed-note signature type of cosignature/v1 (Ed25519)
_MAX_TIME: Final = 2**63 - 1
_SIGNATURE: Final = 8 + 64  # timestamp and Ed25519 signature, after the key id


def cosigned_message(note_text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header line, the time line and the note text."""
    if not 0 <= timestamp <= _MAX_TIME:
        raise TrailError(text("trail.note_malformed"))
    return f"cosignature/v1\ntime {timestamp}\n{note_text}".encode()


def timestamp_of(signature: bytes) -> int:
    """The timestamp of a cosignature (the bytes after the key id)."""
    return int.from_bytes(signature[:8], "big")


@dataclass(frozen=True, repr=False)
class CosignatureVerifier:
    """A witness's public key: checks its cosignatures (a `notes.Verifier`)."""

    name: str
    key_id: bytes
    public_key: bytes

    def __repr__(self) -> str:
        return f"CosignatureVerifier({self.key_string()!r})"

    @classmethod
    def from_key_string(cls, vkey: str) -> CosignatureVerifier:
        """Parse ``name+hex(key id)+base64(0x04 ‖ public key)``; the key id must match."""
        return cls(*parse_key_string(vkey, COSIGNATURE_V1, 32))

    def key_string(self) -> str:
        blob = base64.b64encode(bytes((COSIGNATURE_V1,)) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` (timestamp ‖ Ed25519 signature) cosigns the note text `message`."""
        if len(signature) != _SIGNATURE or timestamp_of(signature) > _MAX_TIME:
            return False
        signed = cosigned_message(message.decode(), timestamp_of(signature))
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature[8:], signed)
        except (InvalidSignature, ValueError):
            return False
        return True


class CosignatureSigner:
    """A witness's private key. Its private half never appears in repr() or logs."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not valid_name(name):
            raise TrailError(text("trail.key_name_invalid", name=name))
        self.name = name
        self._key = private_key
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = CosignatureVerifier(name, key_id(name, COSIGNATURE_V1, public), public)

    def __repr__(self) -> str:
        return f"CosignatureSigner({self.verifier.key_string()!r})"

    @classmethod
    def generate(cls, name: str) -> CosignatureSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_key_string(cls, skey: str) -> CosignatureSigner:
        """Parse ``PRIVATE+KEY+name+hex(key id)+base64(0x04 ‖ seed)``."""
        name, kid, key = parse_signer_string(skey, COSIGNATURE_V1)
        signer = cls(name, key)
        if signer.verifier.key_id != kid:
            raise TrailError(text("trail.signer_key_malformed"))
        return signer

    def key_string(self) -> str:
        """The private key (write it only to a 0600 file)."""
        return signer_string(self.name, self.verifier.key_id, COSIGNATURE_V1, self._key)

    def cosignature_line(self, note_text: str, timestamp: int) -> str:
        """The cosignature line of a checkpoint's note text at `timestamp` (POSIX seconds)."""
        signature = self._key.sign(cosigned_message(note_text, timestamp))
        stamp = timestamp.to_bytes(8, "big")
        return signature_line(self.name, self.verifier.key_id + stamp + signature)
