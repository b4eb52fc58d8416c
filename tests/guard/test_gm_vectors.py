"""Known answers from the published standards: SM3, SM4, SM4-GCM, HMAC-SM3 and SM2.

Each vector names where it was published. The SM2 examples of GB/T 32918.2 Annex A use the
standard's *example* curve (p = 8542D69E…); GmSSL, which signs for us, implements only the
recommended curve of GB/T 32918.5 and draws the nonce k itself, so the fixed-k example is
checked on the recommended curve by verification: the published (r, s) must verify, every
change to it must not, and Z_A and e are recomputed here from the standard's formula.
"""

from __future__ import annotations

import hashlib

import gmssl_pyx
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from fpcredit.guard.keys.ciphers import HMAC_SHA256, HMAC_SM3, SM4GCM, index_mac
from fpcredit.guard.keys.gm import SM2_USER_ID, SM2NoteSigner, SM2NoteVerifier

# --- GB/T 32905-2016 (SM3), Appendix A ----------------------------------------------------------

SM3_EXAMPLES = [
    # Example 1: "abc".
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    # Example 2: "abcd" sixteen times, 64 bytes (two blocks after padding).
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
]


@pytest.mark.parametrize(("message", "digest"), SM3_EXAMPLES)
def test_sm3_examples_of_gbt_32905(message: bytes, digest: str) -> None:
    h = hashes.Hash(hashes.SM3())
    h.update(message)
    assert h.finalize().hex() == digest  # the HMAC-SM3 of the blind index hashes with this
    assert hashlib.new("sm3", message).hexdigest() == digest  # the independent construction


# --- GB/T 32907-2016 (SM4), Appendix A ----------------------------------------------------------

SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def test_sm4_example_1_of_gbt_32907_one_block() -> None:
    cipher = Cipher(algorithms.SM4(SM4_KEY), modes.ECB())
    block = cipher.encryptor().update(SM4_KEY)  # plaintext = key in the example
    assert block.hex() == "681edf34d206965e86b3e94f536e4246"
    assert cipher.decryptor().update(block) == SM4_KEY


def test_sm4_example_2_of_gbt_32907_a_million_encryptions() -> None:
    encrypt = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    block = SM4_KEY
    for _ in range(1_000_000):
        block = encrypt.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


# --- RFC 8998 Appendix A.1 (SM4-GCM) -------------------------------------------------------------

GCM_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
GCM_NONCE = bytes.fromhex("00001234567800000000ABCD")
GCM_AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
GCM_PLAIN = bytes.fromhex(
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
)
GCM_SEALED = bytes.fromhex(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
    "83DE3541E4C2B58177E065A9BF7B62EC"  # the tag
)


def test_sm4_gcm_example_of_rfc_8998() -> None:
    box = SM4GCM(GCM_KEY)
    assert box.encrypt(GCM_NONCE, GCM_PLAIN, GCM_AAD) == GCM_SEALED
    assert box.decrypt(GCM_NONCE, GCM_SEALED, GCM_AAD) == GCM_PLAIN


@pytest.mark.parametrize("at", [0, 31, 63, 64, 79])
def test_sm4_gcm_refuses_any_changed_byte(at: int) -> None:
    damaged = bytearray(GCM_SEALED)
    damaged[at] ^= 0x01
    with pytest.raises(InvalidTag):
        SM4GCM(GCM_KEY).decrypt(GCM_NONCE, bytes(damaged), GCM_AAD)


def test_sm4_gcm_refuses_other_associated_data_nonce_key_or_a_stub() -> None:
    box = SM4GCM(GCM_KEY)
    for nonce, sealed, aad in [
        (GCM_NONCE, GCM_SEALED, GCM_AAD + b"x"),
        (GCM_NONCE, GCM_SEALED, b""),
        (bytes(12), GCM_SEALED, GCM_AAD),
        (GCM_NONCE, GCM_SEALED[:15], GCM_AAD),
    ]:
        with pytest.raises(InvalidTag):
            box.decrypt(nonce, sealed, aad)
    with pytest.raises(InvalidTag):
        SM4GCM(bytes(16)).decrypt(GCM_NONCE, GCM_SEALED, GCM_AAD)
    with pytest.raises(ValueError, match="128"):
        SM4GCM(bytes(32))


# --- HMAC-SM3 against RFC 2104 built from hashlib's SM3 -------------------------------------------


def _rfc2104_sm3(key: bytes, message: bytes) -> bytes:
    """HMAC (RFC 2104) by hand: SM3's block is 64 bytes; longer keys are hashed first."""
    if len(key) > 64:
        key = hashlib.new("sm3", key).digest()
    key = key.ljust(64, b"\x00")
    inner = hashlib.new("sm3", bytes(k ^ 0x36 for k in key) + message).digest()
    return hashlib.new("sm3", bytes(k ^ 0x5C for k in key) + inner).digest()


@given(key=st.binary(min_size=1, max_size=100), message=st.binary(max_size=300))
def test_hmac_sm3_is_rfc_2104_over_sm3(key: bytes, message: bytes) -> None:
    assert index_mac(HMAC_SM3, key)(message) == _rfc2104_sm3(key, message)


def test_hmac_sm3_differs_from_hmac_sha256_under_the_same_key() -> None:
    key = bytes(range(32))
    assert index_mac(HMAC_SM3, key)(b"x") != index_mac(HMAC_SHA256, key)(b"x")


# --- GB/T 32918 (SM2) ----------------------------------------------------------------------------

# The recommended curve of GB/T 32918.5-2017 (the same as GM/T 0003.5-2012).
CURVE_A = "fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc"
CURVE_B = "28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93"
CURVE_GX = "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
CURVE_GY = "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0"
# The digital-signature example on that curve, GM/T 0003.5-2012 Annex A (republished in
# GB/T 32918.5): private key d, k = 59276E27…, user ID 1234567812345678, M = "message digest".
# As used by OpenSSL's test/sm2_internal_test.c (sm2_sig_test, "From Annex A in both
# GM/T0003.5-2012 and GB/T 32918.5-2016"); Z_A and e are the example's intermediate values.
ANNEX_D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
ANNEX_PUBLIC = bytes.fromhex(
    "0409F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
ANNEX_R = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
ANNEX_S = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
ANNEX_Z = "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3"
ANNEX_E = "f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640"
MESSAGE = b"message digest"


def _z(user_id: bytes, public: bytes) -> bytes:
    """Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A), GB/T 32918.2 §5.5."""
    fields = b"".join(bytes.fromhex(h) for h in (CURVE_A, CURVE_B, CURVE_GX, CURVE_GY))
    entl = (8 * len(user_id)).to_bytes(2, "big")
    return hashlib.new("sm3", entl + user_id + fields + public[1:]).digest()


def _annex_verifier() -> SM2NoteVerifier:
    return SM2NoteVerifier("annex", b"\x00" * 4, ANNEX_PUBLIC)


def test_sm2_annex_a_example_intermediate_values() -> None:
    z = _z(SM2_USER_ID, ANNEX_PUBLIC)
    assert z.hex() == ANNEX_Z
    assert hashlib.new("sm3", z + MESSAGE).hexdigest() == ANNEX_E


def test_sm2_annex_a_example_signature_verifies() -> None:
    signature = bytes.fromhex(ANNEX_R + ANNEX_S)
    assert _annex_verifier().verify(MESSAGE, signature)
    der = encode_dss_signature(int(ANNEX_R, 16), int(ANNEX_S, 16))
    assert gmssl_pyx.sm2_verify_sm3_digest(ANNEX_PUBLIC[1:], bytes.fromhex(ANNEX_E), der)


@pytest.mark.parametrize("at", [0, 31, 32, 63])
def test_sm2_annex_a_example_with_any_byte_changed_does_not_verify(at: int) -> None:
    signature = bytearray(bytes.fromhex(ANNEX_R + ANNEX_S))
    signature[at] ^= 0x01
    assert not _annex_verifier().verify(MESSAGE, bytes(signature))


def test_sm2_annex_a_example_needs_its_message_user_id_and_key() -> None:
    signature = bytes.fromhex(ANNEX_R + ANNEX_S)
    assert not _annex_verifier().verify(b"message digesT", signature)
    der = encode_dss_signature(int(ANNEX_R, 16), int(ANNEX_S, 16))
    for user_id in (b"ALICE123@YAHOO.COM", None):
        assert not gmssl_pyx.sm2_verify(ANNEX_PUBLIC[1:], MESSAGE, der, signer_id=user_id)
    other = SM2NoteSigner.generate("other").verifier.public_key
    assert not SM2NoteVerifier("annex", b"\x00" * 4, other).verify(MESSAGE, signature)
    assert not _annex_verifier().verify(MESSAGE, signature[:63])
    assert not _annex_verifier().verify(MESSAGE, bytes(64))  # r = s = 0


def test_sm2_signing_with_the_annex_key_gives_signatures_of_the_standard_digest() -> None:
    # k is GmSSL's own, so r and s differ each time; what must hold is that each signature is of
    # e = SM3(Z_A ‖ M) with the default user ID, checked against the recomputed digest.
    signer = SM2NoteSigner("annex", ANNEX_D, ANNEX_PUBLIC)
    for _ in range(3):
        signature = signer.sign(MESSAGE)
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        der = encode_dss_signature(r, s)
        assert gmssl_pyx.sm2_verify_sm3_digest(ANNEX_PUBLIC[1:], bytes.fromhex(ANNEX_E), der)


# Known signatures over precomputed SM3 digests with OpenSSL's test key SM2_key1, from
# OpenSSL's test/recipes/30-test_evp_data/evppkey_sm2.txt ("Verify = SM2_key1", digest:SM3).
# The public key is the last 65 bytes of that PKCS#8 key (its ECPrivateKey's publicKey).
OPENSSL_KEY1_PUBLIC = bytes.fromhex(
    "04393a2ad9e27e43acaaab85a19d3b85591e14406157175addd37bf77ff0caf9ed"
    "37fcf3a8b4f55c038523261fca6636afe6a7afa2a1482a606f5cb3a18b2e2a1e"
)
OPENSSL_VERIFY = [
    (
        "D7AD397F6FFA5D4F7F11E7217F241607DC30618C236D2C09C1B9EA8FDADEE2E8",
        "3046022100AB1DB64DE7C40EDBDE6651C9B8EBDB804673DB836E5D5C7FE15DCF9ED2725037022100EBA714"
        "451FF69B0BB930B379E192E7CD5FA6E3C41C7FBD8303B799AB54A54621",
    ),
    (
        "B1139602C6ECC9E15E2F3F9C635A1AFE737058BC15387479C1EA0D0B3D90E9E5",
        "3045022100E6E0414EBD3A656C35602AF14AB20287DBF30D57AF75C49A188ED4B42391F22402202F54F277C6"
        "06F4605E1CE9514947FFDDF94C67A539804A4ED17F852288BDBE2E",
    ),
]


@pytest.mark.parametrize(("digest", "der"), OPENSSL_VERIFY)
def test_sm2_known_signatures_of_openssl_verify(digest: str, der: str) -> None:
    public = OPENSSL_KEY1_PUBLIC[1:]
    assert gmssl_pyx.sm2_verify_sm3_digest(public, bytes.fromhex(digest), bytes.fromhex(der))
    wrong = bytes.fromhex(digest)[::-1]
    assert not gmssl_pyx.sm2_verify_sm3_digest(public, wrong, bytes.fromhex(der))
