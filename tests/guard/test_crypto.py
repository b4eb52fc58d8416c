"""Field encryption and blind indexes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpcredit.errors import ConfigError, CryptoError
from fpcredit.guard.crypto import Vault, create_keys, load_vault


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
