"""The algorithms of the two crypto profiles: AES-256-GCM or SM4-GCM, HMAC-SHA256 or HMAC-SM3.

`default` seals identifiers with AES-256-GCM and keys the blind index with HMAC-SHA256; `gm`
(GB/T 39786-2021, commercial cryptography) uses SM4-GCM (GB/T 32907 in the GCM mode of NIST
SP 800-38D, as RFC 8998) and HMAC-SM3 (RFC 2104 over GB/T 32905). All four come from
`cryptography`. The keyring names the algorithm of every key, so nothing here is chosen by a
setting: the algorithm travels with the key.
"""

from __future__ import annotations

import hmac as std_hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "AES_256_GCM",
    "DATA_ALGORITHMS",
    "HMAC_SHA256",
    "HMAC_SM3",
    "INDEX_ALGORITHMS",
    "PROFILES",
    "SM4GCM",
    "SM4_GCM",
    "Aead",
    "Profile",
    "ProfileName",
    "aead",
    "index_mac",
    "new_data_key",
    "new_index_key",
    "profile_of",
]

AES_256_GCM: Final = "aes-256-gcm"
SM4_GCM: Final = "sm4-gcm"
HMAC_SHA256: Final = "hmac-sha256"
HMAC_SM3: Final = "hmac-sm3"
# Key length in bytes per data algorithm: SM4 is a 128-bit cipher (GB/T 32907 §5).
DATA_ALGORITHMS: Final = {AES_256_GCM: 32, SM4_GCM: 16}
INDEX_ALGORITHMS: Final = (HMAC_SHA256, HMAC_SM3)
_TAG: Final = 16

ProfileName = Literal["default", "gm"]


@dataclass(frozen=True)
class Profile:
    """A crypto profile: the data-key algorithm and the blind-index algorithm."""

    name: ProfileName
    data: str
    index: str


PROFILES: Final[dict[str, Profile]] = {
    "default": Profile("default", AES_256_GCM, HMAC_SHA256),
    "gm": Profile("gm", SM4_GCM, HMAC_SM3),
}


def profile_of(data: str, index: str) -> ProfileName | None:
    """The profile that pairs these two algorithms, or None for a mixture."""
    for profile in PROFILES.values():
        if (profile.data, profile.index) == (data, index):
            return profile.name
    return None


class Aead(Protocol):
    """What the vault needs of an AEAD: AESGCM's two methods."""

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


class SM4GCM:
    """SM4 in GCM mode, shaped like `AESGCM`: ciphertext ‖ 16-byte tag; InvalidTag on failure.

    `cryptography` has no SM4 AEAD class, only the cipher and the mode; this joins them.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) != DATA_ALGORITHMS[SM4_GCM]:
            raise ValueError("an SM4 key is 128 bits")
        self._key = key

    def __repr__(self) -> str:  # the key must never reach a log through repr()
        return "SM4GCM(<key>)"

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        enc = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        if associated_data:
            enc.authenticate_additional_data(associated_data)
        sealed = enc.update(data) + enc.finalize()
        return sealed + enc.tag

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        if len(data) < _TAG:
            raise InvalidTag
        dec = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, data[-_TAG:])).decryptor()
        if associated_data:
            dec.authenticate_additional_data(associated_data)
        return dec.update(data[:-_TAG]) + dec.finalize()


def aead(algorithm: str, key: bytes) -> Aead:
    """The AEAD object for a data key of `algorithm`."""
    if algorithm == AES_256_GCM:
        return AESGCM(key)
    if algorithm == SM4_GCM:
        return SM4GCM(key)
    raise ValueError(f"unknown data algorithm {algorithm!r}")


def new_data_key(algorithm: str) -> bytes:
    """A fresh random key for `algorithm`."""
    return secrets.token_bytes(DATA_ALGORITHMS[algorithm])


def new_index_key() -> bytes:
    """A fresh 256-bit blind-index key (either HMAC)."""
    return secrets.token_bytes(32)


def index_mac(algorithm: str, key: bytes) -> Callable[[bytes], bytes]:
    """The keyed MAC of a blind index: message → full HMAC digest."""
    if algorithm == HMAC_SHA256:
        return lambda message: std_hmac.digest(key, message, "sha256")
    if algorithm == HMAC_SM3:
        keyed = hmac.HMAC(key, hashes.SM3())

        def sm3(message: bytes) -> bytes:
            # A copy of the keyed state skips re-deriving the padded key for every value.
            h = keyed.copy()
            h.update(message)
            return h.finalize()

        return sm3
    raise ValueError(f"unknown index algorithm {algorithm!r}")
