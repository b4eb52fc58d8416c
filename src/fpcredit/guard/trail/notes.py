"""C2SP signed notes: text signed by one or more keys (Ed25519 note keys here; any key shaped
like `Signer` / `Verifier` takes part, e.g. witness cosignatures in guard/trail/cosignature.py).

Verifiers ignore signatures from keys they do not know, which is how witnesses cosign and keys
rotate; a failing signature of a known key rejects the note; a note needs at least one valid
known signature. Keys are written as Go's ``golang.org/x/mod/sumdb/note`` writes them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fpcredit.errors import TrailError
from fpcredit.messages import text

__all__ = [
    "ED25519",
    "NoteSigner",
    "NoteVerifier",
    "Signer",
    "Verifier",
    "b64decode",
    "key_id",
    "open_note",
    "parse_key_string",
    "parse_signer_string",
    "sign_note",
    "signature_line",
    "signer_string",
    "split_note",
    "valid_name",
]

ED25519: Final = 1  # C2SP signed-note signature type of Ed25519
_DASH: Final = "\u2014 "  # a signature line starts with an em dash and a space
_MAX_SIGNATURES: Final = 100  # as the Go reference: a note with more is rejected
_B64_RE: Final = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def b64decode(value: str) -> bytes | None:
    """Strict standard base64, or None."""
    if not _B64_RE.fullmatch(value):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def valid_name(name: str) -> bool:
    """A key name: non-empty, no spaces, no "+"."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, sig_type: int, public: bytes) -> bytes:
    """C2SP signed-note key ID: SHA-256(name ‖ "\\n" ‖ signature type ‖ public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes((sig_type,)) + public).digest()[:4]


def parse_key_string(vkey: str, sig_type: int, key_size: int) -> tuple[str, bytes, bytes]:
    """Name, key id and public key of a verifier key ``name+hex(key id)+base64(type ‖ key)``
    of the given signature type; the key id must match."""
    parts = vkey.strip().split("+", 2)  # base64 may contain "+": the key is all after
    if len(parts) != 3 or not valid_name(parts[0]) or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise TrailError(text("trail.verifier_key_malformed"))
    name, kid, blob = parts[0], bytes.fromhex(parts[1]), b64decode(parts[2])
    if blob is None or len(blob) != key_size + 1 or blob[0] != sig_type:
        raise TrailError(text("trail.verifier_key_malformed"))
    if key_id(name, sig_type, blob[1:]) != kid:
        raise TrailError(text("trail.verifier_key_malformed"))
    return name, kid, blob[1:]


class Signer(Protocol):
    """A key that signs notes: its name and a signature line for a note text."""

    @property
    def name(self) -> str: ...

    def signature_line(self, note_text: str) -> str: ...


class Verifier(Protocol):
    """A known note key: verifies signatures whose line carries its name and key id."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True, repr=False)
class NoteVerifier:
    """A known Ed25519 note key: its name, key id and public key."""

    name: str
    key_id: bytes
    public_key: bytes

    def __repr__(self) -> str:
        return f"NoteVerifier({self.key_string()!r})"

    @classmethod
    def from_key_string(cls, vkey: str) -> NoteVerifier:
        """Parse ``name+hex(key id)+base64(0x01 ‖ public key)``; the key id must match."""
        return cls(*parse_key_string(vkey, ED25519, 32))

    def key_string(self) -> str:
        blob = base64.b64encode(bytes((ED25519,)) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class NoteSigner:
    """An Ed25519 note key. Its private half never appears in repr() or logs."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not valid_name(name):
            raise TrailError(text("trail.key_name_invalid", name=name))
        self.name = name
        self._key = private_key
        public = _raw_public(private_key.public_key())
        self.verifier = NoteVerifier(name, key_id(name, ED25519, public), public)

    def __repr__(self) -> str:
        return f"NoteSigner({self.verifier.key_string()!r})"

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_key_string(cls, skey: str) -> NoteSigner:
        """Parse the Go note signer format ``PRIVATE+KEY+name+hex(id)+base64(0x01 ‖ seed)``."""
        name, kid, seed = parse_signer_string(skey, ED25519)
        signer = cls(name, seed)
        if signer.verifier.key_id != kid:
            raise TrailError(text("trail.signer_key_malformed"))
        return signer

    def key_string(self) -> str:
        """The private key in the Go note signer format (write it only to a 0600 file)."""
        return signer_string(self.name, self.verifier.key_id, ED25519, self._key)

    def signature_line(self, note_text: str) -> str:
        return signature_line(self.name, self.verifier.key_id + self._key.sign(note_text.encode()))


def parse_signer_string(skey: str, sig_type: int) -> tuple[str, bytes, Ed25519PrivateKey]:
    """Name, key id and key of ``PRIVATE+KEY+name+hex(key id)+base64(type ‖ 32-byte seed)``."""
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not valid_name(parts[2]):
        raise TrailError(text("trail.signer_key_malformed"))
    blob = b64decode(parts[4])
    if blob is None or len(blob) != 33 or blob[0] != sig_type:
        raise TrailError(text("trail.signer_key_malformed"))
    if not re.fullmatch(r"[0-9a-f]{8}", parts[3]):
        raise TrailError(text("trail.signer_key_malformed"))
    return parts[2], bytes.fromhex(parts[3]), Ed25519PrivateKey.from_private_bytes(blob[1:])


def signer_string(name: str, kid: bytes, sig_type: int, key: Ed25519PrivateKey) -> str:
    """An Ed25519 private key in the signer format `parse_signer_string` reads."""
    blob = base64.b64encode(bytes((sig_type,)) + key.private_bytes_raw()).decode()
    return f"PRIVATE+KEY+{name}+{kid.hex()}+{blob}"


def signature_line(name: str, blob: bytes) -> str:
    """``— <name> base64(key id ‖ signature)`` and a newline."""
    return f"{_DASH}{name} {base64.b64encode(blob).decode()}\n"


def _check_text(note_text: str) -> None:
    if not note_text.endswith("\n") or "\n\n" in note_text or note_text.startswith("\n"):
        raise TrailError(text("trail.note_malformed"))
    if any(ord(c) < 0x20 and c != "\n" for c in note_text):
        raise TrailError(text("trail.note_malformed"))


def sign_note(note_text: str, *signers: Signer) -> str:
    """A signed note: the text, a blank line, one signature line per signer."""
    _check_text(note_text)
    return note_text + "\n" + "".join(s.signature_line(note_text) for s in signers)


def split_note(note: str) -> tuple[str, list[tuple[str, bytes, str]]]:
    """The text of a signed note and its signature lines as (key name, signature bytes, line),
    checked for form only (TrailError "malformed"); nothing is verified."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise TrailError(text("trail.note_malformed"))
    body, sig_lines = note[: cut + 1], note[cut + 2 : -1].split("\n")
    _check_text(body)
    if len(sig_lines) > _MAX_SIGNATURES:
        raise TrailError(text("trail.note_malformed"))
    signatures = []
    for line in sig_lines:
        name, _, b64 = line.removeprefix(_DASH).partition(" ")
        blob = b64decode(b64)
        if not line.startswith(_DASH) or not valid_name(name) or blob is None or len(blob) < 5:
            raise TrailError(text("trail.note_malformed"))
        signatures.append((name, blob, line + "\n"))
    return body, signatures


def open_note(note: str, verifiers: Iterable[Verifier]) -> str:
    """The text of a signed note, checked: signatures from unknown keys are ignored, a failing
    signature from a known key rejects the note, and at least one known signature must verify."""
    body, signatures = split_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = False
    for name, blob, _line in signatures:
        verifier = known.get((name, blob[:4]))
        if verifier is None:
            continue
        if not verifier.verify(body.encode(), blob[4:]):
            raise TrailError(text("trail.note_bad_signature", name=name))
        verified = True
    if not verified:
        raise TrailError(text("trail.note_unverified"))
    return body
