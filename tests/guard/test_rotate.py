"""Data-key rotation (R29): re-encryption in batches, resumption, retirement, no key leaks."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import logging
import os
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

import fpcredit.guard.keys.crypto as crypto
from fpcredit.collect.ingest import ingest_file
from fpcredit.config import Settings
from fpcredit.errors import CryptoError
from fpcredit.evaluate.policy import load_policy
from fpcredit.evaluate.run import evaluate
from fpcredit.guard.auth.identity import Authenticator
from fpcredit.guard.keys.ciphers import HMAC_SHA256, HMAC_SM3, SM4_GCM
from fpcredit.guard.keys.crypto import (
    DATA_KEYS_FILE,
    Keyring,
    Vault,
    load_vault,
    read_index_key,
    read_keyring,
    write_keyring,
)
from fpcredit.guard.keys.rotate import encrypted_tables, rotate_keys
from fpcredit.link.config import load_config
from fpcredit.link.file import find_persons
from fpcredit.link.index import link
from fpcredit.link.match import match_list
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now
from tests.collect.feeds import health_row, make_id, write_csv
from tests.collect.test_ingest import _dump

SURNAMES = "王李张刘陈杨赵黄周吴"
GIVEN = "芳娜敏静丽艳娟霞秀英"


class CrashError(Exception):
    """Stands for the process dying in the middle of a rotation."""


def _mother(i: int) -> tuple[str, str, str]:
    """A distinct mother: ID number (female), name, phone."""
    born = f"1990{1 + i % 12:02d}{1 + i % 28:02d}"
    name = SURNAMES[i % 10] + GIVEN[i // 10 % 10]
    return make_id("330106", born, f"{2 * i:03d}"), name, f"138{i:08d}"


def _fill(store: Store, vault: Vault, tmp_path: Path, n: int = 30, tag: str = "a") -> None:
    """n health records (mother, father, child mentions), 2 quarantined rows, n persons."""
    prefix = "330106" if tag == "a" else "330107"  # record keys of another file
    rows = []
    for i in range(n):
        id_number, name, phone = _mother(i)
        rows.append(
            health_row(f"{prefix}{i:06d}", 母亲身份证号=id_number, 母亲姓名=name, 联系电话=phone)
        )
    rows.append(health_row(f"{prefix}999998", 出生日期="2021-02-30"))
    rows.append(health_row(f"{prefix}999999", 新生儿性别="X"))
    report = ingest_file(store, vault, "health", write_csv(tmp_path / f"{tag}.csv", rows))
    assert report.quarantined == 2
    if tag != "a":
        return
    ids = [_mother(i)[0] for i in range(n)]
    names = [_mother(i)[1] for i in range(n)]
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(s.persons),
            [
                {
                    "created_at": utc_now(),
                    "mentions": 1,
                    "name_enc": vault.encrypt(name, "name"),
                    "name_bidx": vault.blind_index(name, "name"),
                    "id_number_enc": vault.encrypt(id_number, "id_number"),
                    "id_number_bidx": vault.blind_index(id_number, "id_number"),
                }
                for id_number, name in zip(ids, names, strict=True)
            ],
        )


def _look_up_everyone(store: Store, vault: Vault, n: int = 30) -> None:
    """Every mother is found by blind index in mentions and persons and decrypts right."""
    m, p = s.mentions, s.persons
    with store.engine.connect() as conn:
        for i in range(n):
            id_number, name, phone = _mother(i)
            bidx = vault.blind_index(id_number, "id_number")
            found = conn.execute(
                sa.select(m.c.id_number_enc, m.c.name_enc, m.c.phone_enc).where(
                    m.c.id_number_bidx == bidx
                )
            ).all()
            assert found
            for men in found:
                assert vault.decrypt(men.id_number_enc, "id_number") == id_number
                assert vault.decrypt(men.name_enc, "name") == name
                assert vault.decrypt(men.phone_enc, "phone") == phone
            person = conn.execute(sa.select(p.c.name_enc).where(p.c.id_number_bidx == bidx)).one()
            assert vault.decrypt(person.name_enc, "name") == name


def _decrypt_everything(store: Store, vault: Vault) -> int:
    """Decrypt every ciphertext of every table; returns how many there were."""
    total = 0
    with store.engine.connect() as conn:
        for et in encrypted_tables():
            for column in et.columns:
                blobs = [b for (b,) in conn.execute(sa.select(column)) if b is not None]
                field = et.fields[column.name][0 if column.name != "row_enc" else 1]
                assert all(v is not None for v in vault.decrypt_many(blobs, field))
                total += len(blobs)
    return total


def _key_ids(store: Store) -> Counter[str]:
    seen: Counter[str] = Counter()
    probe = Vault("x", {}, b"")
    with store.engine.connect() as conn:
        for et in encrypted_tables():
            for column in et.columns:
                for (blob,) in conn.execute(sa.select(column).where(column.is_not(None))):
                    seen[probe.key_id(blob)] += 1
    return seen


def test_every_encrypted_column_is_found_from_the_schema() -> None:
    found = {(et.table.name, c.name) for et in encrypted_tables() for c in et.columns}
    declared = {
        (t.name, c.name) for t in s.metadata.sorted_tables for c in t.c if c.name.endswith("_enc")
    }
    assert found == declared
    assert {"persons", "mentions", "quarantine"} <= {t for t, _ in found}
    fields = {et.table.name: et.fields for et in encrypted_tables()}
    assert "quarantine_row" in fields["quarantine"]["row_enc"]
    assert fields["mentions"]["phone_enc"][0] == "phone"


def test_rotation_reencrypts_everything_and_retires_the_old_key(
    store: Store, vault: Vault, settings: Settings, tmp_path: Path
) -> None:
    old = vault.active_kid
    _fill(store, vault, tmp_path)
    total = _decrypt_everything(store, vault)
    messages: list[str] = []
    result = rotate_keys(settings, store, messages.append, batch_rows=7, settle_s=0)
    new = result["key_id"]
    assert new != old and result["retired"] == [old] and result["kept"] == {}
    assert not result["resumed"]
    with store.engine.connect() as conn:
        rows = {
            t: conn.scalar(sa.select(sa.func.count()).select_from(s.metadata.tables[t]))
            for t in ("persons", "mentions", "quarantine")
        }
    assert {t: result["tables"][t] for t in rows} == rows
    assert _key_ids(store) == {new: total}
    ring = read_keyring(settings.keys_dir)
    assert (ring.active, list(ring.keys), dict(ring.extra)) == (new, [new], {})
    assert (settings.keys_dir / DATA_KEYS_FILE).stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in settings.keys_dir.iterdir()) == [
        "blind-index.key",
        DATA_KEYS_FILE,
        "row-seal.key",  # the covered tables' digests (a key rotation re-seals persons)
        "trail-mac.key",  # the trail's entry MACs (ingestion appended entries)
    ]
    assert text("keys.rotate_started", kid=new) in messages
    # Blind indexes are untouched: lookups work with a fresh vault and with the one loaded
    # before the rotation (it re-reads the keyring when it meets the unknown key).
    _look_up_everyone(store, load_vault(settings.keys_dir))
    _look_up_everyone(store, vault)
    assert _decrypt_everything(store, load_vault(settings.keys_dir)) == total
    again = rotate_keys(settings, store, settle_s=0)
    assert again["retired"] == [new] and _key_ids(store) == {again["key_id"]: total}


def test_an_interrupted_rotation_stays_readable_and_finishes_when_run_again(
    store: Store,
    vault: Vault,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = vault.active_kid
    _fill(store, vault, tmp_path)
    total = _decrypt_everything(store, vault)
    batches = 0

    def crash_after_two_batches(message: str) -> None:
        nonlocal batches
        if "rows" in message or "行" in message:
            batches += 1
            if batches == 2:
                raise CrashError

    with pytest.raises(CrashError):
        rotate_keys(settings, store, crash_after_two_batches, batch_rows=10, settle_s=0)
    ring = read_keyring(settings.keys_dir)
    new = ring.active
    assert new != old and set(ring.keys) == {old, new} and "rotation" in ring.extra
    kids = _key_ids(store)
    assert set(kids) == {old, new} and sum(kids.values()) == total
    # During: lookups and every value still work, for a fresh process and a running one.
    _look_up_everyone(store, load_vault(settings.keys_dir))
    _look_up_everyone(store, vault)
    assert _decrypt_everything(store, load_vault(settings.keys_dir)) == total
    # New writes use the new key at once: a running vault picks it up at its next look.
    monkeypatch.setattr(crypto, "RECHECK_S", 0.0)
    before = _key_ids(store)
    _fill(store, vault, tmp_path, n=5, tag="b")
    written = _key_ids(store) - before
    assert set(written) == {new}
    result = rotate_keys(settings, store, batch_rows=10, settle_s=0)
    assert result["resumed"] and result["key_id"] == new and result["retired"] == [old]
    assert _key_ids(store) == {new: sum(kids.values()) + sum(written.values())}
    assert list(read_keyring(settings.keys_dir).keys) == [new]
    _look_up_everyone(store, load_vault(settings.keys_dir))


def test_a_writer_with_the_old_key_keeps_that_key_until_a_later_run(
    store: Store, vault: Vault, settings: Settings, tmp_path: Path
) -> None:
    old = vault.active_kid
    _fill(store, vault, tmp_path, n=3)
    stale = Vault(old, {old: vault.keys[old]}, vault.index_key)  # loaded before the rotation

    def straggler(message: str) -> None:
        if message == text("keys.rotate_counting"):
            with store.engine.begin() as conn:
                conn.execute(
                    sa.insert(s.persons).values(
                        created_at=utc_now(), name_enc=stale.encrypt("赵敏", "name")
                    )
                )

    result = rotate_keys(settings, store, straggler, settle_s=0)
    assert result["retired"] == [] and result["kept"] == {old: 1}
    ring = read_keyring(settings.keys_dir)
    assert set(ring.keys) == {old, result["key_id"]} and "rotation" in ring.extra
    finish = rotate_keys(settings, store, settle_s=0)
    assert finish["resumed"] and finish["key_id"] == result["key_id"]
    assert finish["retired"] == [old] and finish["kept"] == {}
    assert set(_key_ids(store)) == {result["key_id"]}


def test_keys_never_reach_logs_or_the_database(
    store: Store,
    vault: Vault,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _fill(store, vault, tmp_path, n=5)
    before = read_keyring(settings.keys_dir)
    result = rotate_keys(settings, store, settle_s=0)
    after = read_keyring(settings.keys_dir)
    secrets = [*before.keys.values(), *after.keys.values(), vault.index_key]
    dump = _dump(settings, store)
    shown = caplog.text + repr(result) + repr(after) + repr(load_vault(settings.keys_dir))
    assert result["key_id"] in caplog.text  # the log says which key; never the key itself
    for key in secrets:
        for raw in (key, base64.b64encode(key), key.hex().encode()):
            assert raw not in dump
        for text_form in (base64.b64encode(key).decode(), key.hex(), repr(key)):
            assert text_form not in shown


def test_the_keyring_is_replaced_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crypto.create_keys(tmp_path)
    ring = read_keyring(tmp_path)
    kid, key = crypto.new_key(ring)
    grown = Keyring(kid, {**ring.keys, kid: key})

    def power_cut(_src: object, _dst: object) -> None:
        raise OSError("power cut")

    with monkeypatch.context() as m:
        m.setattr(os, "replace", power_cut)
        with pytest.raises(OSError, match="power cut"):
            write_keyring(tmp_path, grown)
    assert read_keyring(tmp_path) == ring  # the old ring, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blind-index.key", DATA_KEYS_FILE]
    write_keyring(tmp_path, grown)
    assert read_keyring(tmp_path).active == kid
    assert (tmp_path / DATA_KEYS_FILE).stat().st_mode & 0o777 == 0o600


# --- moves between crypto profiles ---------------------------------------------------------------


def _indexes_are(store: Store, settings: Settings, algorithm: str) -> None:
    """Every blind index is the HMAC (hashlib's, not the vault's) of its row's value."""
    key = read_index_key(settings.keys_dir, algorithm)
    digest = "sm3" if algorithm == HMAC_SM3 else "sha256"
    vault = load_vault(settings.keys_dir)
    with store.engine.connect() as conn:
        for table in (s.persons, s.mentions):
            for field in ("id_number", "name"):
                enc, bidx = table.c[f"{field}_enc"], table.c[f"{field}_bidx"]
                rows = conn.execute(sa.select(enc, bidx).where(bidx.is_not(None))).all()
                assert rows
                for blob, index in rows:
                    value = vault.decrypt(blob, field) or ""
                    message = field.encode() + b"\x00" + value.encode()
                    assert bytes(index) == hmac.digest(key, message, digest)[:16]


def _find_everyone(store: Store, vault: Vault, settings: Settings, n: int = 30) -> None:
    """Every mother is found as the web service finds her: person search by ID number and by
    name, and the citizen-code login's person lookup."""
    identity = Authenticator(store, settings, vault=vault)
    for i in range(n):
        id_number, name, _ = _mother(i)
        [by_id] = find_persons(store, vault, id_number=id_number)
        assert find_persons(store, vault, name=name)[:1] and by_id in find_persons(
            store, vault, name=name
        )
        found = identity.citizens.person(id_number)
        assert found is not None and found[0] == by_id


def test_a_move_to_gm_reseals_and_reindexes_everything_and_back(
    store: Store,
    vault: Vault,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = vault.active_kid
    _fill(store, vault, tmp_path)
    total = _decrypt_everything(store, vault)
    messages: list[str] = []
    result = rotate_keys(settings, store, messages.append, profile="gm", batch_rows=7, settle_s=0)
    new = result["key_id"]
    assert (result["profile"], result["retired"], result["kept"]) == ("gm", [old], {})
    ring = read_keyring(settings.keys_dir)
    assert (ring.algorithm(new), ring.index, ring.index_next) == (SM4_GCM, HMAC_SM3, None)
    assert "rotation" not in ring.extra
    assert sorted(p.name for p in settings.keys_dir.iterdir()) == [
        "blind-index-sm3.key",
        DATA_KEYS_FILE,
        "row-seal.key",  # the covered tables' digests (a key rotation re-seals persons)
        "trail-mac.key",  # the trail's entry MACs (ingestion appended entries)
    ]
    assert any(m == text("keys.index_moved", index=HMAC_SM3) for m in messages)
    assert _key_ids(store) == {new: total}
    _indexes_are(store, settings, HMAC_SM3)
    _look_up_everyone(store, load_vault(settings.keys_dir))
    _find_everyone(store, load_vault(settings.keys_dir), settings)
    monkeypatch.setattr(crypto, "RECHECK_S", 0.0)  # the vault of a process that ran throughout
    _find_everyone(store, vault, settings)
    assert vault.profile == "gm"
    back = rotate_keys(settings, store, profile="default", batch_rows=7, settle_s=0)
    assert back["profile"] == "default" and back["retired"] == [new]
    assert read_keyring(settings.keys_dir).algorithm(back["key_id"]) == "aes-256-gcm"
    assert _key_ids(store) == {back["key_id"]: total}
    _indexes_are(store, settings, HMAC_SHA256)
    _find_everyone(store, vault, settings)
    assert not (settings.keys_dir / "blind-index-sm3.key").exists()


def test_an_interrupted_move_keeps_every_row_findable_and_batch_jobs_wait(
    store: Store,
    vault: Vault,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fill(store, vault, tmp_path)
    before = read_index_key(settings.keys_dir, HMAC_SHA256)
    batches = 0

    def crash_after_two_batches(message: str) -> None:
        nonlocal batches
        if "rows" in message or "行" in message:
            batches += 1
            if batches == 2:
                raise CrashError

    with pytest.raises(CrashError):
        rotate_keys(
            settings, store, crash_after_two_batches, profile="gm", batch_rows=10, settle_s=0
        )
    ring = read_keyring(settings.keys_dir)
    assert (ring.index, ring.index_next, ring.profile) == (HMAC_SHA256, HMAC_SM3, "gm")
    with store.engine.connect() as conn:
        held = {bytes(b) for (b,) in conn.execute(sa.select(s.persons.c.id_number_bidx))}
    first, last = _mother(0)[0], _mother(29)[0]  # mixed: the first rows moved already
    assert load_vault(settings.keys_dir).blind_index(first, "id_number") in held
    assert Vault("x", {}, before).blind_index(last, "id_number") in held
    # During the move: a fresh process and a running one find everyone, with both indexes.
    monkeypatch.setattr(crypto, "RECHECK_S", 0.0)
    _find_everyone(store, load_vault(settings.keys_dir), settings)
    _find_everyone(store, vault, settings)
    assert vault.moving and len(vault.blind_indexes("x", "name")) == 2
    # Batch jobs that compare indexes across rows wait, with a message that says how to go on.
    with pytest.raises(CryptoError, match="--profile gm"):
        link(store, vault, load_config())
    with pytest.raises(CryptoError, match="--profile gm"):
        evaluate(store, settings.home, load_policy(), dt.date(2026, 6, 30))
    with pytest.raises(CryptoError, match="--profile gm"):
        match_list(store, vault, tmp_path / "list.csv", tmp_path / "map.yaml")
    with pytest.raises(CryptoError, match="--profile gm"):
        rotate_keys(settings, store, profile="default", settle_s=0)
    _fill(store, vault, tmp_path, n=5, tag="b")  # an ingestion meanwhile indexes the new way
    result = rotate_keys(settings, store, batch_rows=10, settle_s=0)  # finish: no --profile
    assert result["resumed"] and result["profile"] == "gm" and result["kept"] == {}
    _indexes_are(store, settings, HMAC_SM3)
    _find_everyone(store, vault, settings)
    assert not vault.moving


def test_the_last_check_of_a_move_fixes_an_index_made_with_the_old_key(
    store: Store, vault: Vault, settings: Settings, tmp_path: Path
) -> None:
    _fill(store, vault, tmp_path, n=3)
    old_key = read_index_key(settings.keys_dir, HMAC_SHA256)

    def straggler(message: str) -> None:
        # A writer that sealed with the new key but indexed before it saw the new ring.
        if message == text("keys.rotate_counting"):
            fresh = load_vault(settings.keys_dir)
            with store.engine.begin() as conn:
                conn.execute(
                    sa.insert(s.persons).values(
                        created_at=utc_now(),
                        mentions=1,
                        name_enc=fresh.encrypt("赵敏", "name"),
                        name_bidx=Vault("x", {}, old_key).blind_index("赵敏", "name"),
                    )
                )

    result = rotate_keys(settings, store, straggler, profile="gm", settle_s=0)
    assert result["reindexed"] == 1 and result["profile"] == "gm"
    _indexes_are(store, settings, HMAC_SM3)
    assert find_persons(store, load_vault(settings.keys_dir), name="赵敏")


def test_no_key_of_a_move_reaches_logs_or_the_database(
    store: Store,
    vault: Vault,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _fill(store, vault, tmp_path, n=5)
    before = read_keyring(settings.keys_dir)
    index_before = read_index_key(settings.keys_dir, HMAC_SHA256)
    result = rotate_keys(settings, store, profile="gm", settle_s=0)
    after = read_keyring(settings.keys_dir)
    index_after = read_index_key(settings.keys_dir, HMAC_SM3)
    secrets = [*before.keys.values(), *after.keys.values(), index_before, index_after]
    dump = _dump(settings, store)
    shown = caplog.text + repr(result) + repr(after) + repr(load_vault(settings.keys_dir))
    for key in secrets:
        for raw in (key, base64.b64encode(key), key.hex().encode()):
            assert raw not in dump
        for text_form in (base64.b64encode(key).decode(), key.hex(), repr(key)):
            assert text_form not in shown
