"""SM2 signatures (GB/T 32918.2, with SM3 and the GB/T 35276 user ID) for C2SP signed notes.

A store in the `gm` crypto profile adds an SM2 line to every checkpoint beside the Ed25519 one.
The C2SP signed-note spec assigns no type byte to SM2, so, as it asks of such types, the key ID
hashes the reserved byte 0xff followed by a long identifier (`SIGNATURE_TYPE`): an
Ed25519-only verifier sees an unknown key (same name, another key ID) and ignores the line.

Signing and verification are GmSSL's (the `gmssl-pyx` binding, which builds GmSSL 3.2 into its
wheel): the nonce k is drawn inside GmSSL and never passes through Python. A signature line
carries r ‖ s, 32 bytes each (GB/T 32918.2 §6.1 outputs the pair (r, s)); GmSSL speaks DER.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import gmssl_pyx
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from fpcredit.errors import ConfigError, TrailError
from fpcredit.files import read_or_create
from fpcredit.guard.keys.crypto import read_keyring
from fpcredit.messages import text

__all__ = [
    "CHECKPOINT_KEY_FILE",
    "SIGNATURE_TYPE",
    "SM2_USER_ID",
    "SM2NoteSigner",
    "SM2NoteVerifier",
    "checkpoint_signers",
    "checkpoint_verifiers",
]

# GB/T 35276-2017 (and GM/T 0009): the user ID when none is agreed between the parties.
SM2_USER_ID: Final = b"1234567812345678"
# C2SP signed-note: 0xff, "reserved for signature types without an identifier byte assigned
# by this specification", followed by a longer identifier unlikely to collide.
SIGNATURE_TYPE: Final = b"\xff" + b"sm2-with-sm3;id=" + SM2_USER_ID
CHECKPOINT_KEY_FILE: Final = "checkpoint-sm2.key"
_DASH: Final = "\u2014 "
_POINT: Final = 65  # uncompressed point: 0x04 ‖ x ‖ y (GB/T 32918.1 §4.2.9)
_SCALAR: Final = 32
_HEX_ID: Final = re.compile(r"[0-9a-f]{8}")
_SELF_TEST: Final = b"fpcredit SM2 key self-test\n"


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _key_id(name: str, public: bytes) -> bytes:
    """SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4], as the signed-note spec recommends."""
    return hashlib.sha256(name.encode() + b"\n" + SIGNATURE_TYPE + public).digest()[:4]


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _to_der(signature: bytes) -> bytes:
    r, s = int.from_bytes(signature[:_SCALAR], "big"), int.from_bytes(signature[_SCALAR:], "big")
    return encode_dss_signature(r, s)


def _from_der(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(_SCALAR, "big") + s.to_bytes(_SCALAR, "big")


@dataclass(frozen=True, repr=False)
class SM2NoteVerifier:
    """A known SM2 note key: its name, key ID and public key (0x04 ‖ x ‖ y)."""

    name: str
    key_id: bytes
    public_key: bytes

    def __repr__(self) -> str:
        return f"SM2NoteVerifier({self.key_string()!r})"

    @classmethod
    def from_key_string(cls, vkey: str) -> SM2NoteVerifier:
        """Parse ``name+hex(key id)+base64(type ‖ public key)``; the key ID must match."""
        parts = vkey.strip().split("+", 2)  # base64 may contain "+": the key is all after
        if len(parts) != 3 or not _valid_name(parts[0]) or not _HEX_ID.fullmatch(parts[1]):
            raise TrailError(text("gm.verifier_key_malformed"))
        blob = _b64(parts[2])
        if blob is None or not blob.startswith(SIGNATURE_TYPE):
            raise TrailError(text("gm.verifier_key_malformed"))
        public = blob[len(SIGNATURE_TYPE) :]
        if len(public) != _POINT or public[0] != 4 or _key_id(parts[0], public).hex() != parts[1]:
            raise TrailError(text("gm.verifier_key_malformed"))
        return cls(parts[0], bytes.fromhex(parts[1]), public)

    def key_string(self) -> str:
        blob = base64.b64encode(SIGNATURE_TYPE + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` (r ‖ s) is this key's SM2 signature of `message`."""
        if len(signature) != 2 * _SCALAR:
            return False
        try:
            ok = gmssl_pyx.sm2_verify(
                self.public_key[1:], message, _to_der(signature), signer_id=SM2_USER_ID
            )
        except (gmssl_pyx.GmsslInnerError, ValueError):  # a point off the curve, r or s = 0
            return False
        return bool(ok)


class SM2NoteSigner:
    """An SM2 note key. Its private half never appears in repr() or logs."""

    def __init__(self, name: str, private_key: bytes, public_key: bytes) -> None:
        if not _valid_name(name):
            raise TrailError(text("gm.key_name_invalid", name=name))
        if len(private_key) != _SCALAR or len(public_key) != _POINT or public_key[0] != 4:
            raise TrailError(text("gm.signer_key_malformed"))
        self.name = name
        self._private = private_key
        self.verifier = SM2NoteVerifier(name, _key_id(name, public_key), public_key)
        # GmSSL takes both halves and cannot derive one from the other: a mismatched pair would
        # sign lines nobody can verify, so it is caught here, once, instead.
        if not self.verifier.verify(_SELF_TEST, self._sign(_SELF_TEST)):
            raise TrailError(text("gm.key_pair_mismatch"))

    def __repr__(self) -> str:
        return f"SM2NoteSigner({self.verifier.key_string()!r})"

    @classmethod
    def generate(cls, name: str) -> SM2NoteSigner:
        public, private = gmssl_pyx.sm2_key_generate()
        return cls(name, bytes(private), b"\x04" + bytes(public))

    @classmethod
    def from_key_string(cls, skey: str) -> SM2NoteSigner:
        """Parse ``PRIVATE+KEY+name+hex(id)+base64(type ‖ private key ‖ public key)``."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise TrailError(text("gm.signer_key_malformed"))
        blob = _b64(parts[4])
        if blob is None or not blob.startswith(SIGNATURE_TYPE):
            raise TrailError(text("gm.signer_key_malformed"))
        keys = blob[len(SIGNATURE_TYPE) :]
        if len(keys) != _SCALAR + _POINT:
            raise TrailError(text("gm.signer_key_malformed"))
        signer = cls(parts[2], keys[:_SCALAR], keys[_SCALAR:])
        if signer.verifier.key_id.hex() != parts[3]:
            raise TrailError(text("gm.signer_key_malformed"))
        return signer

    @property
    def key_id(self) -> bytes:
        return self.verifier.key_id

    def key_string(self) -> str:
        """The private key in the Go note signer layout (write it only to a 0600 file)."""
        blob = base64.b64encode(SIGNATURE_TYPE + self._private + self.verifier.public_key)
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{blob.decode()}"

    def _sign(self, message: bytes) -> bytes:
        public = self.verifier.public_key[1:]
        der = gmssl_pyx.sm2_sign(self._private, public, message, signer_id=SM2_USER_ID)
        return _from_der(bytes(der))

    def sign(self, message: bytes) -> bytes:
        """The SM2 signature (r ‖ s) of `message` with SM3 and the GB/T 35276 user ID."""
        return self._sign(message)

    def signature_line(self, note_text: str) -> str:
        """The signed-note line: em dash, name, base64(key ID ‖ r ‖ s), newline."""
        sig = self._sign(note_text.encode())
        return f"{_DASH}{self.name} {base64.b64encode(self.key_id + sig).decode()}\n"


# Loaded keys by file, with the file's stamp: a checkpoint is signed every second, and loading
# a key runs a self-test signature.
_LOADED: dict[Path, tuple[tuple[int, int], SM2NoteSigner]] = {}


def _load(path: Path, raw: bytes) -> SM2NoteSigner:
    st = path.stat()
    stamp = (st.st_ino, st.st_mtime_ns)
    cached = _LOADED.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        signer = SM2NoteSigner.from_key_string(raw.decode())
    except (UnicodeDecodeError, TrailError) as e:
        raise TrailError(text("gm.key_damaged", name=path.name)) from e
    _LOADED[path] = (stamp, signer)
    return signer


def checkpoint_signers(keys_dir: Path, name: str) -> list[SM2NoteSigner]:
    """The SM2 checkpoint key (made on first use, named `name`) when the store's keyring is in
    the `gm` profile, else nothing: ``sign_note(body, ed25519, *checkpoint_signers(...))``."""
    try:
        if read_keyring(keys_dir).profile != "gm":
            return []
    except ConfigError:
        return []
    path = keys_dir / CHECKPOINT_KEY_FILE
    raw = read_or_create(path, lambda: SM2NoteSigner.generate(name).key_string().encode())
    return [_load(path, raw)]


def checkpoint_verifiers(keys_dir: Path) -> list[SM2NoteVerifier]:
    """The SM2 checkpoint key's verifier if the store ever had one (a store moved back to
    `default` keeps verifying the lines it signed in `gm`)."""
    path = keys_dir / CHECKPOINT_KEY_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    return [_load(path, raw).verifier]
