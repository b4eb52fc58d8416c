"""Data-key rotation (R29) and moves between crypto profiles: a new active key, every
ciphertext re-encrypted, old keys retired; a move also recomputes every blind index.

The service keeps running throughout: the new key is active as soon as the keyring file is
replaced (running vaults follow it within `RECHECK_S`), old keys stay readable until nothing
uses them, and the re-encryption runs in small id-ordered batches, each its own transaction.
A crashed run is finished by running again: the keyring remembers the rotation in progress and
rows already under the new key are skipped. A plain rotation leaves the blind indexes alone
(their key is separate); a move to another profile (`keys rotate --profile gm`) gives them a
new key and algorithm, recomputed from the decrypted values in the same batches, while lookups
ask for the old and the new index (`Vault.blind_indexes`) until the move is finished.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import CryptoError, StoreError
from fpcredit.guard.keys.ciphers import PROFILES, ProfileName
from fpcredit.guard.keys.crypto import (
    INDEX_KEY_FILES,
    RECHECK_S,
    Keyring,
    Vault,
    header,
    load_vault,
    new_key,
    read_keyring,
    write_index_key,
    write_keyring,
)
from fpcredit.guard.trail.seal import DIGESTED, SEALED
from fpcredit.guard.trail.sealing import keys_of, sealing
from fpcredit.messages import text
from fpcredit.store.db import Store
from fpcredit.store.schema import metadata

__all__ = [
    "BATCH_ROWS",
    "ENCRYPTED_SUFFIX",
    "INDEX_SUFFIX",
    "EncryptedTable",
    "count_key_usage",
    "encrypted_tables",
    "rotate_keys",
]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]

ENCRYPTED_SUFFIX: Final = "_enc"
# A blind index `<x>_bidx` is the index of the value sealed in `<x>_enc` of the same row.
INDEX_SUFFIX: Final = "_bidx"
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
    # Ciphertext column name -> the blind index computed from its value (`<x>_bidx`).
    indexes: dict[str, sa.Column[Any]] = field(default_factory=dict)


def _indexes(table: sa.Table) -> dict[str, sa.Column[Any]]:
    """The table's `*_bidx` columns by the ciphertext column each is computed from."""
    out: dict[str, sa.Column[Any]] = {}
    for c in table.columns:
        if c.name.endswith(INDEX_SUFFIX):
            source = c.name.removesuffix(INDEX_SUFFIX) + ENCRYPTED_SUFFIX
            if source not in table.c:
                raise StoreError(
                    text("keys.index_unpaired", table=table.name, column=c.name, source=source)
                )
            out[source] = c
    return out


def encrypted_tables(meta: sa.MetaData = metadata) -> list[EncryptedTable]:
    """Every table of the schema with `*_enc` columns (and their `*_bidx`), from the metadata."""
    out: list[EncryptedTable] = []
    for table in meta.sorted_tables:
        columns = tuple(c for c in table.columns if c.name.endswith(ENCRYPTED_SUFFIX))
        indexes = _indexes(table)
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
        out.append(EncryptedTable(table, keys[0], columns, fields, indexes))
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


def _decrypt(vault: Vault, et: EncryptedTable, name: str, blobs: list[bytes]) -> list[str]:
    """Decrypt `blobs` of one column, trying the column's possible fields."""
    fields = et.fields[name]
    for f in fields:
        try:
            plain = vault.decrypt_many(blobs, f)
        except CryptoError:
            continue
        if f != fields[0]:  # remember the field that works for the next batch
            et.fields[name] = (f, *(g for g in fields if g != f))
        return [p or "" for p in plain]
    raise CryptoError(text("keys.cannot_reencrypt", table=et.table.name, column=name))


def _rewrite(
    conn: sa.Connection,
    vault: Vault,
    et: EncryptedTable,
    column: sa.Column[Any],
    rows: list[sa.Row[Any]],
    reindex: bool,
) -> None:
    """Seal one column's values of `rows` again under the active key (and, in a move, set the
    blind index computed from each, where the row has one)."""
    head = header(vault.active_kid)
    old = [(r[0], bytes(b), r) for r in rows if (b := r._mapping[column]) is not None]
    old = [(rid, blob, r) for rid, blob, r in old if not blob.startswith(head)]
    if not old:
        return
    plain = _decrypt(vault, et, column.name, [blob for _, blob, _ in old])
    sealed = vault.encrypt_many(plain, et.fields[column.name][0])
    params = [
        {"_id": rid, "_old": blob, "_new": new}
        for (rid, blob, _), new in zip(old, sealed, strict=True)
    ]
    values: dict[str, Any] = {column.name: sa.bindparam("_new")}
    index = et.indexes.get(column.name) if reindex else None
    if index is not None:
        digests = vault.blind_index_many(plain, index.name.removesuffix(INDEX_SUFFIX))
        for p, (_, _, r), digest in zip(params, old, digests, strict=True):
            p["_idx"] = None if r._mapping[index] is None else digest
        values[index.name] = sa.bindparam("_idx")
    # Only a value still as read is replaced: a concurrent write is never undone (and if it
    # was sealed with an old key, the next pass takes it).
    conn.execute(
        sa.update(et.table)
        .where(et.key == sa.bindparam("_id"), column == sa.bindparam("_old"))
        .values(values),
        params,
    )


def _covered(
    conn: sa.Connection, store: Store, et: EncryptedTable, rows: list[sa.Row[Any]]
) -> AbstractContextManager[None]:
    """A batch of a table the trail covers by digest (persons, users) keeps its digest and
    seals on the trail: new ciphertexts of the same values are still new bytes."""
    name = et.table.name
    if name not in DIGESTED and name not in SEALED:
        return nullcontext()
    ids = ", ".join(str(int(r[0])) for r in rows)
    where = f"WHERE {et.key.name} IN ({ids})"
    return sealing(conn, name, where, {}, keys_of(store), "fpcredit", "keys_rotated")


def _reencrypt(
    store: Store,
    vault: Vault,
    et: EncryptedTable,
    batch_rows: int,
    progress: Progress,
    reindex: bool = False,
) -> int:
    """Re-encrypt one table's stale values in id order (re-indexing them in a move); returns
    the rows rewritten."""
    head = header(vault.active_kid)
    stale = sa.or_(*(_stale(c, head) for c in et.columns))
    indexes = list(et.indexes.values()) if reindex else []
    said = "keys.move_progress" if reindex and indexes else "keys.rotate_progress"
    done, last = 0, None
    while True:
        # Each batch is its own short transaction: readers and writers go on meanwhile.
        with store.engine.begin() as conn:
            query = sa.select(et.key, *et.columns, *indexes).where(stale)
            if last is not None:
                query = query.where(et.key > last)
            rows = list(conn.execute(query.order_by(et.key).limit(batch_rows)).all())
            if not rows:
                break
            with _covered(conn, store, et, rows):
                for column in et.columns:
                    _rewrite(conn, vault, et, column, rows, reindex)
            last = rows[-1][0]
        done += len(rows)
        progress(text(said, table=et.table.name, rows=done))
    return done


def _reindex_batch(
    conn: sa.Connection, vault: Vault, et: EncryptedTable, rows: list[sa.Row[Any]]
) -> int:
    """Set every blind index of `rows` that differs from the one computed from its value."""
    fixed = 0
    for source, index in et.indexes.items():
        column = et.table.c[source]
        pairs = [(r[0], r._mapping[column], r._mapping[index]) for r in rows]
        held = [(rid, bytes(b), bytes(i)) for rid, b, i in pairs if b is not None and i is not None]
        if not held:
            continue
        plain = _decrypt(vault, et, source, [blob for _, blob, _ in held])
        digests = vault.blind_index_many(plain, index.name.removesuffix(INDEX_SUFFIX))
        params = [
            {"_id": rid, "_enc": blob, "_idx": digest}
            for (rid, blob, was), digest in zip(held, digests, strict=True)
            if digest != was
        ]
        if params:
            conn.execute(
                sa.update(et.table)
                .where(et.key == sa.bindparam("_id"), column == sa.bindparam("_enc"))
                .values({index.name: sa.bindparam("_idx")}),
                params,
            )
        fixed += len(params)
    return fixed


def _reindex_check(store: Store, vault: Vault, et: EncryptedTable, batch_rows: int) -> int:
    """Recompute every blind index of the table from its value and fix those that differ.

    The batches above index what they re-seal; this last look over every row (after every
    process has read the new keyring) catches an index a writer computed with the old key while
    sealing with the new one. Returns the indexes fixed.
    """
    if not et.indexes:
        return 0
    sources = [et.table.c[s] for s in et.indexes]
    wanted = sa.or_(*(i.is_not(None) for i in et.indexes.values()))
    fixed, last = 0, None
    while True:
        with store.engine.begin() as conn:
            query = sa.select(et.key, *sources, *et.indexes.values()).where(wanted)
            if last is not None:
                query = query.where(et.key > last)
            rows = list(conn.execute(query.order_by(et.key).limit(batch_rows)).all())
            if not rows:
                return fixed
            with _covered(conn, store, et, rows):
                fixed += _reindex_batch(conn, vault, et, rows)
            last = rows[-1][0]


def _begin(
    settings: Settings, progress: Progress, profile: ProfileName | None
) -> tuple[Keyring, bool]:
    """The keyring with the rotation's key active: a new key, or the unfinished run's."""
    ring = read_keyring(settings.keys_dir)
    if _MARKER in ring.extra or ring.index_next:
        if profile is not None and profile != ring.profile:
            raise CryptoError(text("keys.move_unfinished", profile=ring.profile))
        progress(text("keys.rotate_resumed", kid=ring.active))
        return ring, True
    target = PROFILES[profile or ring.profile or "default"]
    kid, key = new_key(ring, target.data)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    ring = ring.with_key(kid, key, target.data)
    ring = replace(ring, active=kid, extra={**ring.extra, _MARKER: {"started": started}})
    said = text("keys.rotate_started", kid=kid)
    if target.index != ring.index:
        # A fresh key for the new index algorithm, on disk before the keyring names it.
        write_index_key(settings.keys_dir, target.index)
        ring = replace(ring, index_next=target.index)
        said = text("keys.move_started", profile=target.name, kid=kid, data=target.data,
                    index=target.index)  # fmt: skip
    write_keyring(settings.keys_dir, ring)
    log.info("data key %s (%s) is active; re-encrypting", kid, target.data)
    progress(said)
    return ring, False


def _finish_move(settings: Settings, progress: Progress) -> None:
    """Every index is under the new algorithm: make it the settled one, delete the old key."""
    ring = read_keyring(settings.keys_dir)
    if ring.index_next is None:
        return
    extra = {k: v for k, v in ring.extra.items() if k != _MARKER}
    done = replace(ring, index=ring.index_next, index_next=None, extra=extra)
    write_keyring(settings.keys_dir, done)
    if ring.index != done.index:
        (settings.keys_dir / INDEX_KEY_FILES[ring.index]).unlink(missing_ok=True)
    log.info("blind indexes moved from %s to %s", ring.index, done.index)
    progress(text("keys.index_moved", index=done.index))


def _in_use(usage: dict[str, dict[str, int]], kid: str) -> int:
    return sum(counts.get(kid, 0) for counts in usage.values())


def _passes(
    store: Store,
    vault: Vault,
    ring: Keyring,
    batch_rows: int,
    settle_wait: Callable[[], None],
    note: Progress,
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Re-encrypt until no old key seals anything (at most `_PASSES` times); rows rewritten per
    table and the last count of values per key."""
    tables = {et.table.name: 0 for et in encrypted_tables()}
    old = [k for k in ring.keys if k != ring.active]
    usage: dict[str, dict[str, int]] = {}
    for attempt in range(_PASSES):
        for et in encrypted_tables():
            n = _reencrypt(store, vault, et, batch_rows, note, ring.index_next is not None)
            tables[et.table.name] += n
        if attempt == 0:
            settle_wait()
        note(text("keys.rotate_counting"))
        usage = count_key_usage(store, [ring.active, *old])
        if not any(_in_use(usage, k) for k in old):
            break
    return tables, usage


def _retire(
    settings: Settings, store: Store, ring: Keyring, usage: dict[str, dict[str, int]]
) -> tuple[list[str], dict[str, int]]:
    """Remove the old keys nothing uses from the keyring; returns (retired, kept with counts).

    The rotation marker stays while a key is kept or the blind indexes are still moving."""
    old = [k for k in ring.keys if k != ring.active]
    unused = [k for k in old if not _in_use(usage, k)]
    kept = {k: _in_use(usage, k) for k in old if k not in unused}
    final = read_keyring(settings.keys_dir).without(unused)
    keep_marker = bool(kept) or final.index_next is not None
    extra = {k: v for k, v in final.extra.items() if k != _MARKER or keep_marker}
    write_keyring(settings.keys_dir, replace(final, extra=extra))
    # A writer that sealed with an old key just before the keyring changed: give the key back.
    late = count_key_usage(store, unused) if unused else {}
    back = [k for k in unused if _in_use(late, k)]
    if back:
        restored = read_keyring(settings.keys_dir)
        for kid in back:
            restored = restored.with_key(kid, ring.keys[kid], ring.algorithm(kid))
            kept[kid] = _in_use(late, kid)
        marked = {**restored.extra, _MARKER: ring.extra.get(_MARKER, {})}
        write_keyring(settings.keys_dir, replace(restored, extra=marked))
        unused = [k for k in unused if k not in back]
    return unused, kept


def rotate_keys(
    settings: Settings,
    store: Store,
    progress: Progress | None = None,
    *,
    profile: ProfileName | None = None,
    batch_rows: int = BATCH_ROWS,
    settle_s: float = 2 * RECHECK_S,
) -> dict[str, Any]:
    """Rotate the data key (`fpcredit keys rotate`), or with `profile` move the store to that
    crypto profile (`--profile gm`); run again to finish an interrupted run.

    Returns `key_id` (the active key), `profile` (the store's profile after the run),
    `resumed`, `tables` (rows re-encrypted per table), `reindexed` (blind indexes the final
    check of a move fixed), `retired` (key ids removed from the keyring) and `kept` (old key ids
    still used by some ciphertext, with counts: a writer that loaded its keys before the
    rotation; run again). `settle_s` is how long after activation the final count waits, so
    that every running process has read the new keyring before old keys are judged unused.
    """
    note = progress or (lambda _m: None)
    started = time.monotonic()
    ring, resumed = _begin(settings, note, profile)
    vault = load_vault(settings.keys_dir)

    def settle() -> None:
        time.sleep(max(0.0, settle_s - (time.monotonic() - started)))

    if ring.index_next is not None:
        # Before the first row gets the new index, every running process must look up both.
        settle()
    tables, usage = _passes(store, vault, ring, batch_rows, settle, note)
    unused, kept = _retire(settings, store, ring, usage)
    for kid, n in kept.items():
        log.warning("data key %s still seals %d values; run the rotation again", kid, n)
        note(text("keys.rotate_kept", kid=kid, count=n))
    reindexed = 0
    if ring.index_next is not None and not kept:
        reindexed = sum(_reindex_check(store, vault, et, batch_rows) for et in encrypted_tables())
        _finish_move(settings, note)
    log.info("rotation to %s: %s rows re-encrypted, retired %s", ring.active, tables, unused)
    return {
        "key_id": ring.active,
        "profile": read_keyring(settings.keys_dir).profile,
        "resumed": resumed,
        "tables": tables,
        "reindexed": reindexed,
        "retired": unused,
        "kept": kept,
    }
