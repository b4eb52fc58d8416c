"""SM2 lines for C2SP signed notes: key strings, key IDs, unknown-key handling, OpenSSL parity."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from fpcredit.errors import TrailError
from fpcredit.guard.keys.crypto import create_keys
from fpcredit.guard.keys.gm import (
    CHECKPOINT_KEY_FILE,
    SIGNATURE_TYPE,
    SM2NoteSigner,
    SM2NoteVerifier,
    checkpoint_signers,
    checkpoint_verifiers,
)
from fpcredit.guard.trail import tlog

NAME = "fpcredit.example/province-33"
BODY = tlog.Checkpoint(NAME, 42, hashlib.sha256(b"root").digest()).body()
# SubjectPublicKeyInfo header of an SM2 key: id-ecPublicKey with the SM2 curve OID
# 1.2.156.10197.1.301, then the 65-byte uncompressed point as a BIT STRING.
SPKI_SM2 = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


@pytest.fixture(scope="module")
def signer() -> SM2NoteSigner:
    return SM2NoteSigner.generate(NAME)


def _signatures(note: str) -> dict[bytes, bytes]:
    """Key ID → signature of every signature line of a signed note."""
    lines = note[note.rfind("\n\n") + 2 : -1].split("\n")
    blobs = [base64.b64decode(line.split(" ")[2]) for line in lines]
    return {b[:4]: b[4:] for b in blobs}


def test_key_strings_round_trip_and_hide_the_private_key(signer: SM2NoteSigner) -> None:
    again = SM2NoteSigner.from_key_string(signer.key_string())
    assert again.verifier == signer.verifier
    assert SM2NoteVerifier.from_key_string(signer.verifier.key_string()) == signer.verifier
    private = signer.key_string().split("+", 4)[4]
    assert private not in repr(signer) and signer.key_string() not in repr(signer)
    assert signer.key_string().startswith(f"PRIVATE+KEY+{NAME}+{signer.key_id.hex()}+")


def test_the_key_id_is_the_signed_note_hash_over_the_reserved_type(
    signer: SM2NoteSigner,
) -> None:
    public = signer.verifier.public_key
    assert SIGNATURE_TYPE[0] == 0xFF and len(SIGNATURE_TYPE) > 8  # 0xff + a long identifier
    expected = hashlib.sha256(NAME.encode() + b"\n" + SIGNATURE_TYPE + public).digest()[:4]
    assert signer.key_id == expected
    blob = base64.b64decode(signer.verifier.key_string().split("+", 2)[2])
    assert blob == SIGNATURE_TYPE + public and public[0] == 4 and len(public) == 65


def test_an_sm2_line_beside_the_ed25519_line(signer: SM2NoteSigner) -> None:
    ed25519 = tlog.NoteSigner.generate(NAME)
    note = tlog.sign_note(BODY, ed25519) + signer.signature_line(BODY)
    # A verifier that knows only the Ed25519 key ignores the SM2 line (same name, other key ID).
    assert tlog.open_note(note, [ed25519.verifier]) == BODY
    assert tlog.open_note(note, [signer.verifier]) == BODY
    assert tlog.open_note(note, [ed25519.verifier, signer.verifier]) == BODY
    sig = _signatures(note)[signer.key_id]
    assert len(sig) == 64 and signer.verifier.verify(BODY.encode(), sig)


def test_a_bad_sm2_line_rejects_the_note_only_for_who_knows_the_key(
    signer: SM2NoteSigner,
) -> None:
    ed25519 = tlog.NoteSigner.generate(NAME)
    line = signer.signature_line(BODY)
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[10] ^= 0x01  # inside r
    forged = f"\u2014 {NAME} {base64.b64encode(bytes(blob)).decode()}\n"
    note = tlog.sign_note(BODY, ed25519) + forged
    assert tlog.open_note(note, [ed25519.verifier]) == BODY
    with pytest.raises(TrailError):
        tlog.open_note(note, [ed25519.verifier, signer.verifier])
    other_text = BODY.replace("42", "43")
    assert not signer.verifier.verify(other_text.encode(), _signatures(note)[signer.key_id])


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k.replace("PRIVATE+KEY", "PUBLIC+KEY"),
        lambda k: k[:-8] + "AAAAAAA=",  # the public point damaged
        lambda k: k.replace(f"+{NAME}+", "+other.example/log+"),  # key ID no longer matches
        lambda k: k.rsplit("+", 1)[0] + "+" + base64.b64encode(b"\x01" + bytes(97)).decode(),
        lambda k: "",
    ],
)
def test_malformed_signer_keys_are_refused(signer: SM2NoteSigner, mangle: object) -> None:
    assert callable(mangle)
    with pytest.raises(TrailError):
        SM2NoteSigner.from_key_string(mangle(signer.key_string()))


def test_malformed_verifier_keys_and_mismatched_pairs_are_refused(signer: SM2NoteSigner) -> None:
    vkey = signer.verifier.key_string()
    for bad in (vkey.replace(NAME, "x y"), vkey[:-4] + "AAA=", "name+0000+AAAA", vkey + "AA"):
        with pytest.raises(TrailError):
            SM2NoteVerifier.from_key_string(bad)
    other = SM2NoteSigner.generate(NAME)
    private = base64.b64decode(signer.key_string().split("+", 4)[4])[len(SIGNATURE_TYPE) :][:32]
    with pytest.raises(TrailError):  # GmSSL cannot tell; the self-test signature can
        SM2NoteSigner(NAME, private, other.verifier.public_key)
    with pytest.raises(TrailError):
        SM2NoteSigner("bad name", private, signer.verifier.public_key)


def _openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], capture_output=True, check=False)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not here")
def test_openssl_verifies_our_sm2_lines_and_we_verify_its(
    signer: SM2NoteSigner, tmp_path: Path
) -> None:
    """OpenSSL's SM2 (an implementation independent of GmSSL) agrees both ways, with SM3 and
    the user ID 1234567812345678."""
    message, sig_file = tmp_path / "note", tmp_path / "sig.der"
    message.write_bytes(BODY.encode())
    spki = SPKI_SM2 + signer.verifier.public_key
    pem = tmp_path / "ours.pem"
    body = base64.encodebytes(spki).decode()
    pem.write_text(f"-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n")
    sig = _signatures(tlog.sign_note(BODY, signer))[signer.key_id]
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    sig_file.write_bytes(encode_dss_signature(r, s))
    common = ["-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"]
    verify = ["pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-in", str(message)]
    done = _openssl(*verify, *common, "-sigfile", str(sig_file))
    assert done.returncode == 0 and b"Verified Successfully" in done.stdout, done.stderr
    # And the other way: a key and a signature made by OpenSSL.
    key = tmp_path / "theirs.pem"
    assert _openssl("genpkey", "-algorithm", "SM2", "-out", str(key)).returncode == 0
    public = _openssl("pkey", "-in", str(key), "-pubout", "-outform", "DER").stdout[-65:]
    sign = ["pkeyutl", "-sign", "-inkey", str(key), "-in", str(message), "-out", str(sig_file)]
    assert _openssl(*sign, *common).returncode == 0
    r, s = decode_dss_signature(sig_file.read_bytes())
    theirs = SM2NoteVerifier(NAME, b"\x00" * 4, public)
    assert theirs.verify(BODY.encode(), r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    assert not theirs.verify(b"another note\n", r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def test_checkpoint_signers_follow_the_keyring_profile(tmp_path: Path) -> None:
    default, gm = tmp_path / "default", tmp_path / "gm"
    create_keys(default)
    create_keys(gm, "gm")
    assert checkpoint_signers(default, NAME) == [] and checkpoint_verifiers(default) == []
    assert checkpoint_signers(tmp_path / "none", NAME) == []
    [first] = checkpoint_signers(gm, NAME)
    [again] = checkpoint_signers(gm, NAME)
    assert again.verifier == first.verifier and first.name == NAME
    assert (gm / CHECKPOINT_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert checkpoint_verifiers(gm) == [first.verifier]
    # The lead's line: the SM2 signers go beside the Ed25519 one (none outside `gm`).
    note = tlog.sign_note(BODY, tlog.NoteSigner.generate(NAME), *checkpoint_signers(gm, NAME))
    assert tlog.open_note(note, checkpoint_verifiers(gm)) == BODY
    (gm / CHECKPOINT_KEY_FILE).write_text("PRIVATE+KEY+broken")
    with pytest.raises(TrailError, match=CHECKPOINT_KEY_FILE):
        checkpoint_verifiers(gm)
