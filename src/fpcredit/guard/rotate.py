"""Data-key rotation (R29): a new active key, every ciphertext re-encrypted, old keys retired.

The service keeps running throughout: the new key is active as soon as the keyring file is
replaced (running vaults follow it within `RECHECK_S`), old keys stay readable until nothing
uses them, and the re-encryption runs in small id-ordered batches, each its own transaction.
A crashed run is finished by running again: the keyring remembers the rotation in progress and
rows already under the new key are skipped. Blind indexes use their own key and do not change.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import CryptoError, StoreError
from fpcredit.guard.crypto import (
    RECHECK_S,
    Keyring,
    Vault,
    header,
    load_vault,
    new_key,
    read_keyring,
    write_keyring,
)
from fpcredit.messages import text
from fpcredit.store.db import Store
from fpcredit.store.schema import metadata

__all__ = [
    "BATCH_ROWS",
    "ENCRYPTED_SUFFIX",
    "EncryptedTable",
    "count_key_usage",
    "encrypted_tables",
    "rotate_keys",
]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]

ENCRYPTED_SUFFIX: Final = "_enc"
# Rows per transaction: small enough that a writer waits at most a moment for SQLite's lock.
BATCH_ROWS: Final = 500
# The keyring member that marks a rotation in progress (its new key and when it began).
_MARKER: Final = "rotation"
# Passes over the store before giving up on retiring a key a straggling writer keeps using.
_PASSES: Final = 3


@dataclass(frozen=True)
class EncryptedTable:
    """A table with ciphertext columns, its single-column primary key and each column's fields.

    `fields` are the associated-data names a column's values may have been sealed with: the
    column's `info["aad"]` when set, else its name less `_enc` and then `<table>_<that>` (the
    quarantine's `row_enc` is sealed as `quarantine_row`).
    """

    table: sa.Table
    key: sa.Column[Any]
    columns: tuple[sa.Column[Any], ...]
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)


def encrypted_tables(meta: sa.MetaData = metadata) -> list[EncryptedTable]:
    """Every table of the schema with `*_enc` columns, found from the metadata."""
    out: list[EncryptedTable] = []
    for table in meta.sorted_tables:
        columns = tuple(c for c in table.columns if c.name.endswith(ENCRYPTED_SUFFIX))
        if not columns:
            continue
        keys = list(table.primary_key.columns)
        if len(keys) != 1:
            raise StoreError(text("keys.composite_key", table=table.name))
        fields: dict[str, tuple[str, ...]] = {}
        for c in columns:
            base = c.name.removesuffix(ENCRYPTED_SUFFIX)
            aad = c.info.get("aad")
            fields[c.name] = (aad,) if aad else (base, f"{table.name}_{base}")
        out.append(EncryptedTable(table, keys[0], columns, fields))
    return out


def _prefix(column: sa.Column[Any], size: int) -> sa.ColumnElement[bytes]:
    # substr() on a BLOB (SQLite) or bytea (PostgreSQL) counts bytes: the ciphertext header.
    return sa.func.substr(column, 1, size, type_=sa.LargeBinary)


def count_key_usage(store: Store, kids: list[str]) -> dict[str, dict[str, int]]:
    """Ciphertexts per key id, by table: `{table: {kid: n, …, "unknown": n}}`.

    A value counts for a key when its header names that key; "unknown" are values under a key
    not in `kids` (nothing can decrypt them once that key is gone).
    """
    out: dict[str, dict[str, int]] = {}
    with store.engine.connect() as conn:
        for et in encrypted_tables():
            counts = dict.fromkeys([*kids, "unknown"], 0)
            for column in et.columns:
                sums = [
                    sa.func.coalesce(
                        sa.func.sum(
                            sa.case((_prefix(column, len(header(k))) == header(k), 1), else_=0)
                        ),
                        0,
                    )
                    for k in kids
                ]
                row = conn.execute(sa.select(sa.func.count(column), *sums)).one()
                for kid, n in zip(kids, row[1:], strict=True):
                    counts[kid] += int(n)
                counts["unknown"] += int(row[0]) - sum(int(n) for n in row[1:])
            out[et.table.name] = counts
    return out


def _stale(column: sa.Column[Any], head: bytes) -> sa.ColumnElement[bool]:
    return sa.and_(column.is_not(None), _prefix(column, len(head)) != head)


def _reseal(vault: Vault, et: EncryptedTable, name: str, blobs: list[bytes]) -> list[bytes]:
    """Decrypt `blobs` of one column and encrypt them again under the active key."""
    fields = et.fields[name]
    for f in fields:
        try:
            plain = vault.decrypt_many(blobs, f)
        except CryptoError:
            continue
        if f != fields[0]:  # remember the field that works for the next batch
            et.fields[name] = (f, *(g for g in fields if g != f))
        return [b for b in vault.encrypt_many(plain, f) if b is not None]
    raise CryptoError(text("keys.cannot_reencrypt", table=et.table.name, column=name))


def _reencrypt(
    store: Store, vault: Vault, et: EncryptedTable, batch_rows: int, progress: Progress
) -> int:
    """Re-encrypt one table's stale values in id order; returns the rows rewritten."""
    head = header(vault.active_kid)
    stale = sa.or_(*(_stale(c, head) for c in et.columns))
    done, last = 0, None
    while True:
        # Each batch is its own short transaction: readers and writers go on meanwhile.
        with store.engine.begin() as conn:
            query = sa.select(et.key, *et.columns).where(stale)
            if last is not None:
                query = query.where(et.key > last)
            rows = conn.execute(query.order_by(et.key).limit(batch_rows)).all()
            if not rows:
                break
            for i, column in enumerate(et.columns, start=1):
                old = [(r[0], bytes(r[i])) for r in rows if r[i] is not None]
                old = [(rid, blob) for rid, blob in old if not blob.startswith(head)]
                if not old:
                    continue
                new = _reseal(vault, et, column.name, [blob for _, blob in old])
                # Only a value still as read is replaced: a concurrent write is never undone
                # (and if it was sealed with an old key, the next pass takes it).
                conn.execute(
                    sa.update(et.table)
                    .where(et.key == sa.bindparam("_id"), column == sa.bindparam("_old"))
                    .values({column.name: sa.bindparam("_new")}),
                    [
                        {"_id": rid, "_old": blob, "_new": sealed}
                        for (rid, blob), sealed in zip(old, new, strict=True)
                    ],
                )
            last = rows[-1][0]
        done += len(rows)
        progress(text("keys.rotate_progress", table=et.table.name, rows=done))
    return done


def _begin(settings: Settings, progress: Progress) -> tuple[Keyring, bool]:
    """The keyring with the rotation's key active: a new key, or the unfinished run's."""
    ring = read_keyring(settings.keys_dir)
    if _MARKER in ring.extra:
        progress(text("keys.rotate_resumed", kid=ring.active))
        return ring, True
    kid, key = new_key(ring)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    ring = Keyring(kid, {**ring.keys, kid: key}, {**ring.extra, _MARKER: {"started": started}})
    write_keyring(settings.keys_dir, ring)
    log.info("data key %s is active; re-encrypting", kid)
    progress(text("keys.rotate_started", kid=kid))
    return ring, False


def _in_use(usage: dict[str, dict[str, int]], kid: str) -> int:
    return sum(counts.get(kid, 0) for counts in usage.values())


def rotate_keys(
    settings: Settings,
    store: Store,
    progress: Progress | None = None,
    *,
    batch_rows: int = BATCH_ROWS,
    settle_s: float = 2 * RECHECK_S,
) -> dict[str, Any]:
    """Rotate the data key (`fpcredit keys rotate`); run again to finish an interrupted run.

    Returns `key_id` (the active key), `resumed`, `tables` (rows re-encrypted per table),
    `retired` (key ids removed from the keyring) and `kept` (old key ids still used by some
    ciphertext, with counts: a writer that loaded its keys before the rotation; run again).
    `settle_s` is how long after activation the final count waits, so that every running
    process has read the new keyring before old keys are judged unused.
    """
    note = progress or (lambda _m: None)
    started = time.monotonic()
    ring, resumed = _begin(settings, note)
    vault = load_vault(settings.keys_dir)
    tables = {et.table.name: 0 for et in encrypted_tables()}
    old = [k for k in ring.keys if k != ring.active]
    usage: dict[str, dict[str, int]] = {}
    for attempt in range(_PASSES):
        for et in encrypted_tables():
            tables[et.table.name] += _reencrypt(store, vault, et, batch_rows, note)
        if attempt == 0:
            time.sleep(max(0.0, settle_s - (time.monotonic() - started)))
        note(text("keys.rotate_counting"))
        usage = count_key_usage(store, [ring.active, *old])
        if not any(_in_use(usage, k) for k in old):
            break
    unused = [k for k in old if not _in_use(usage, k)]
    kept = {k: _in_use(usage, k) for k in old if k not in unused}
    final = read_keyring(settings.keys_dir).without(unused)
    extra = {k: v for k, v in final.extra.items() if k != _MARKER or kept}
    write_keyring(settings.keys_dir, Keyring(final.active, final.keys, extra))
    # A writer that sealed with an old key just before the keyring changed: give the key back.
    late = count_key_usage(store, unused) if unused else {}
    back = [k for k in unused if _in_use(late, k)]
    if back:
        restored = read_keyring(settings.keys_dir)
        for kid in back:
            restored = restored.with_key(kid, ring.keys[kid])
            kept[kid] = _in_use(late, kid)
        marked = {**restored.extra, _MARKER: ring.extra.get(_MARKER, {})}
        write_keyring(settings.keys_dir, Keyring(restored.active, restored.keys, marked))
        unused = [k for k in unused if k not in back]
    for kid, n in kept.items():
        log.warning("data key %s still seals %d values; run the rotation again", kid, n)
        note(text("keys.rotate_kept", kid=kid, count=n))
    log.info("rotation to %s: %s rows re-encrypted, retired %s", ring.active, tables, unused)
    return {
        "key_id": ring.active,
        "resumed": resumed,
        "tables": tables,
        "retired": unused,
        "kept": kept,
    }
