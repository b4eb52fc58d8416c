"""Field encryption and blind indexes."""

from __future__ import annotations

import hmac
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpcredit.errors import ConfigError, CryptoError
from fpcredit.guard.keys.ciphers import HMAC_SM3, SM4_GCM
from fpcredit.guard.keys.crypto import DATA_KEYS_FILE, Vault, create_keys, load_vault, read_keyring


@pytest.fixture
def keyed(tmp_path: Path) -> Vault:
    create_keys(tmp_path / "keys")
    return load_vault(tmp_path / "keys")


@given(st.text(max_size=200))
def test_round_trip(value: str) -> None:
    vault = Vault("k1", {"k1": b"\x01" * 32}, b"\x02" * 32)
    blob = vault.encrypt(value, "name")
    assert blob is not None
    if len(value.encode()) >= 8:  # shorter byte strings can occur in random bytes by chance
        assert value.encode() not in blob
    assert vault.decrypt(blob, "name") == value
    assert vault.encrypt_many([value, None], "name")[1] is None


def test_ciphertext_is_bound_to_its_field(keyed: Vault) -> None:
    blob = keyed.encrypt("11010519491231002X", "id_number")
    with pytest.raises(CryptoError):
        keyed.decrypt(blob, "name")


def test_same_value_encrypts_differently_but_indexes_the_same(keyed: Vault) -> None:
    a, b = keyed.encrypt_many(["王芳", "王芳"], "name")
    assert a != b
    assert keyed.blind_index("王芳", "name") == keyed.blind_index_many(["王芳"], "name")[0]
    assert keyed.blind_index("王芳", "name") != keyed.blind_index("王芳", "address")


def test_old_keys_still_decrypt_after_a_new_key_becomes_active(keyed: Vault) -> None:
    blob = keyed.encrypt("张伟", "name")
    rotated = Vault("k2", {**keyed.keys, "k2": b"\x03" * 32}, keyed.index_key)
    assert rotated.decrypt(blob, "name") == "张伟"
    assert rotated.key_id(rotated.encrypt("x", "name") or b"") == "k2"


def test_keys_are_private_and_not_in_repr(tmp_path: Path, keyed: Vault) -> None:
    for path in (tmp_path / "keys").iterdir():
        assert path.stat().st_mode & 0o077 == 0
    assert "keys=['" in repr(keyed)
    key_b64 = json.loads((tmp_path / "keys" / "data-keys.json").read_text())["keys"]
    assert not any(v in repr(keyed) for v in key_b64.values())
    assert create_keys(tmp_path / "keys") is False  # idempotent: never overwrites keys


def test_missing_or_damaged_keys_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fpcredit init"):
        load_vault(tmp_path / "nothing")
    create_keys(tmp_path / "k")
    (tmp_path / "k" / "data-keys.json").write_text("{broken")
    with pytest.raises(ConfigError, match=r"已损坏|damaged"):
        load_vault(tmp_path / "k")


# --- crypto profiles -------------------------------------------------------------------------


@given(st.text(max_size=200))
def test_an_sm4_vault_round_trips_and_indexes_with_hmac_sm3(value: str) -> None:
    vault = Vault(
        "k1",
        {"k1": b"\x01" * 16},
        b"\x02" * 32,
        algorithms={"k1": SM4_GCM},
        index_algorithm=HMAC_SM3,
    )
    blob = vault.encrypt(value, "name")
    assert blob is not None and vault.decrypt(blob, "name") == value
    assert vault.decrypt_many(vault.encrypt_many([value, None], "name"), "name") == [value, None]
    message = b"name\x00" + value.encode()
    assert vault.blind_index(value, "name") == hmac.digest(b"\x02" * 32, message, "sm3")[:16]
    assert vault.blind_indexes(value, "name") == [vault.blind_index(value, "name")]
    assert vault.profile == "gm" and not vault.moving


def test_a_gm_store_records_its_algorithms_in_the_keyring(tmp_path: Path) -> None:
    create_keys(tmp_path, "gm")
    ring = read_keyring(tmp_path)
    assert (ring.profile, ring.index, ring.algorithm(ring.active)) == ("gm", HMAC_SM3, SM4_GCM)
    assert len(ring.keys[ring.active]) == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blind-index-sm3.key", DATA_KEYS_FILE]
    stored = json.loads((tmp_path / DATA_KEYS_FILE).read_text())
    assert stored["algorithms"] == {ring.active: "sm4-gcm"} and stored["index"] == "hmac-sm3"
    # An existing store keeps its profile whatever is asked of create_keys (the setting).
    assert create_keys(tmp_path, "default") is False
    assert read_keyring(tmp_path).profile == "gm"


def test_the_keyring_decides_the_algorithm_not_the_setting(tmp_path: Path) -> None:
    create_keys(tmp_path / "gm", "gm")
    create_keys(tmp_path / "aes")
    gm, aes = load_vault(tmp_path / "gm"), load_vault(tmp_path / "aes")
    blob = gm.encrypt("11010519491231002X", "id_number")
    assert blob is not None and gm.decrypt(blob, "id_number") == "11010519491231002X"
    # A ciphertext names its key; the key's algorithm is in the ring. SM4 output is not AES's.
    with pytest.raises(CryptoError):
        aes.decrypt(blob, "id_number")
    assert gm.blind_index("x", "name") != aes.blind_index("x", "name")


def test_a_keyring_written_before_the_profiles_reads_as_aes_and_hmac_sha256(
    tmp_path: Path,
) -> None:
    create_keys(tmp_path)
    vault = load_vault(tmp_path)
    blob = vault.encrypt("王芳", "name")
    index = vault.blind_index("王芳", "name")
    stored = json.loads((tmp_path / DATA_KEYS_FILE).read_text())
    old = {"active": stored["active"], "keys": stored["keys"]}  # as the earlier code wrote it
    (tmp_path / DATA_KEYS_FILE).write_text(json.dumps(old))
    again = load_vault(tmp_path)
    assert again.decrypt(blob, "name") == "王芳" and again.blind_index("王芳", "name") == index
    assert again.profile == "default"


@pytest.mark.parametrize(
    "change",
    [
        {"algorithms": "sm4-gcm"},  # not a mapping
        {"index": "hmac-md5"},
        {"index_next": "hmac-sm2"},
    ],
)
def test_a_keyring_with_unknown_algorithms_is_damaged(
    tmp_path: Path, change: dict[str, str]
) -> None:
    create_keys(tmp_path)
    stored = json.loads((tmp_path / DATA_KEYS_FILE).read_text())
    (tmp_path / DATA_KEYS_FILE).write_text(json.dumps({**stored, **change}))
    with pytest.raises(ConfigError, match=r"已损坏|damaged"):
        load_vault(tmp_path)


def test_a_key_of_the_wrong_length_for_its_algorithm_is_damaged(tmp_path: Path) -> None:
    create_keys(tmp_path)
    stored = json.loads((tmp_path / DATA_KEYS_FILE).read_text())
    stored["algorithms"] = {stored["active"]: "sm4-gcm"}  # a 256-bit key called SM4
    (tmp_path / DATA_KEYS_FILE).write_text(json.dumps(stored))
    with pytest.raises(ConfigError, match=r"已损坏|damaged"):
        load_vault(tmp_path)
