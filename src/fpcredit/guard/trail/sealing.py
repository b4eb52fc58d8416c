"""The trail's side of the table digests (guard/trail/seal.py): moving them, adopting and checking.

`sealing(conn, table, where)` wraps a write of a digested table in its transaction: it takes
the digest of the rows `where` selects before and after the write and appends the table's new
digest to the trail (a change entry with `state = 'digest'`, `row_count` and `rows_sha256`
holding the count and the digest), after setting the rows' own `seal` where the table has one.
`where` must select the same rows before and after (by key, never by a column the write
changes). Bulk writers (a link run) compute their part themselves and call `record_digest`.

`adopt` gives a store from before this coverage its first digests and seals, once per table
(an `adopt` entry marks it: without the key nobody can forge one to adopt a changed table
again). `verify_digests` holds every digested table against its last digest entry and every
sealed row against its seal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import sqlalchemy as sa

from fpcredit.errors import TrailError
from fpcredit.guard.trail.entries import append_rows, check_code, lock
from fpcredit.guard.trail.keys import load_mac
from fpcredit.guard.trail.seal import (
    DIGESTED,
    EMPTY,
    SEALED,
    RowSealer,
    TableDigest,
    canon,
    canonical_select,
)
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.arrow import read_arrow
from fpcredit.store.db import Store, utc_now

__all__ = [
    "DIGEST_STATE",
    "Drift",
    "adopt",
    "digest_rows",
    "keys_of",
    "last_digest",
    "lock_tables",
    "record_digest",
    "row_intact",
    "seal_rows",
    "sealing",
    "verify_digests",
    "verify_results",
]

DIGEST_STATE: Final = "digest"
_E = s.ledger_entries
_BATCH: Final = 50_000  # rows fetched at a time through a connection


def keys_of(store: Store) -> Path:
    """The keys folder a store's covered tables are sealed with."""
    if store.keys_dir is None:
        raise TrailError(text("trail.mac_key_missing"))
    return store.keys_dir


def row_intact(conn: sa.Connection, table: str, key: object, keys_dir: Path) -> bool:
    """Whether a row of a sealed table still matches its seal (False for a row without one:
    every row gets its seal when written, or when its store adopted seals)."""
    c = canon(table)
    where = f"WHERE {c.key} = :k"
    # The row and its seal in one statement: read in two, a writer's commit in between (a
    # login stamping its account) looked like tampering — a refusal and a CRITICAL alarm.
    sql = canonical_select(table, conn.dialect.name, where, extra=["seal"])
    found = conn.execute(sa.text(sql), {"k": key}).first()
    if found is None or found[-1] is None:
        return False
    return bytes(found[-1]) == RowSealer.of(keys_dir).seal(table, found[:-1])


_TABLE_LOCK: Final = 7_413_100  # PostgreSQL advisory locks: one per digested table, from here


def lock_tables(conn: sa.Connection, tables: Iterable[str]) -> None:
    """Take the write locks of digested tables for the rest of the transaction, always in the
    order of `DIGESTED` (two writers locking two tables never wait for each other in a ring).

    A writer reads the rows it touches before it writes them, to move the digest: without the
    lock another writer could commit a change to those rows in between, and the digest would
    drift. SQLite has one write lock for the whole file, taken here before anything is read;
    PostgreSQL an advisory lock per table (a link run and a login do not wait for each other)."""
    wanted = sorted({t for t in tables if t in DIGESTED}, key=DIGESTED.index)
    if not wanted:
        return
    if conn.dialect.name != "postgresql":
        lock(conn)
        return
    for table in wanted:
        key = _TABLE_LOCK + DIGESTED.index(table)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def last_digest(conn: sa.Connection, table: str) -> tuple[int, TableDigest] | None:
    """The newest digest entry of `table`: its index and the digest it holds."""
    row = conn.execute(
        sa.select(_E.c.idx, _E.c.row_count, _E.c.rows_sha256)
        .where(_E.c.table_name == table, _E.c.state == DIGEST_STATE)
        .order_by(_E.c.idx.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return int(row.idx), TableDigest.parse(row.row_count, row.rows_sha256)


def record_digest(
    conn: sa.Connection,
    table: str,
    delta: TableDigest,
    keys_dir: Path,
    actor: str = "fpcredit",
    action: str = "rows_changed",
    *,
    absolute: bool = False,
) -> int:
    """Append `table`'s digest moved by `delta` (or set to it, `absolute`) in `conn`'s
    transaction. The trail's lock is taken first, so concurrent writers queue on it and each
    moves the digest the one before it left."""
    check_code("actor", actor)
    check_code("action", action)
    lock(conn)
    last = last_digest(conn, table)
    new = delta if absolute else (EMPTY if last is None else last[1]) + delta
    if new.count < 0:
        raise TrailError(text("seal.count_negative", table=table))
    mac = load_mac(keys_dir)
    assert mac is not None
    row = (actor, action, "ok", None, None, table, None, None, new.count, new.hex, DIGEST_STATE)
    return append_rows(conn, [row], utc_now(), mac)[0].start


def _fetch(
    conn: sa.Connection, sql: str, schema: pa.Schema, params: dict[str, Any]
) -> Iterator[pa.Table]:
    """Rows of a canonical select through `conn` (its transaction sees its own writes), in
    Arrow batches."""
    result = conn.execute(sa.text(sql), params)
    while rows := result.fetchmany(_BATCH):
        columns = list(zip(*rows, strict=True))
        arrays = []
        for values, field in zip(columns, schema, strict=True):
            if pa.types.is_binary(field.type):
                values = tuple(None if v is None else bytes(v) for v in values)
            arrays.append(pa.array(list(values), type=field.type))
        yield pa.Table.from_arrays(arrays, schema=schema)


def digest_rows(
    conn: sa.Connection, table: str, where: str, params: dict[str, Any], sealer: RowSealer
) -> TableDigest:
    """The digest of the rows of `table` that `where` (SQL, with `params`) selects, read
    through `conn`."""
    sql = canonical_select(table, conn.dialect.name, where)
    total = EMPTY
    for batch in _fetch(conn, sql, canon(table).arrow_schema, params):
        total += sealer.digest_arrow(table, batch)
    return total


def seal_rows(
    conn: sa.Connection, table: str, where: str, params: dict[str, Any], sealer: RowSealer
) -> None:
    """Write each selected row's own HMAC into its `seal` column (tables of `SEALED`)."""
    c = canon(table)
    sql = canonical_select(table, conn.dialect.name, where)
    key_at = c.columns.index(c.key)
    updates = [
        {"k": row[key_at], "seal": sealer.seal(table, row)}
        for row in conn.execute(sa.text(sql), params)
    ]
    if updates:
        key = c.table.columns[c.key]
        statement = c.table.update().where(key == sa.bindparam("k"))
        conn.execute(statement.values(seal=sa.bindparam("seal")), updates)


@contextmanager
def sealing(
    conn: sa.Connection,
    table: str,
    where: str,
    params: dict[str, Any],
    keys_dir: Path,
    actor: str = "fpcredit",
    action: str = "rows_changed",
) -> Iterator[None]:
    """Wrap a write of `table` (a digested or sealed table) in `conn`'s transaction: the
    selected rows' seals and the table's digest follow it (see the module docstring)."""
    sealer = RowSealer.of(keys_dir)
    digested = table in DIGESTED
    lock_tables(conn, [table])
    before = digest_rows(conn, table, where, params, sealer) if digested else EMPTY
    yield
    if table in SEALED:
        seal_rows(conn, table, where, params, sealer)
    if digested:
        after = digest_rows(conn, table, where, params, sealer)
        if after != before:
            record_digest(conn, table, after - before, keys_dir, actor, action)


def _adopted(conn: sa.Connection, table: str) -> bool:
    return (
        conn.scalar(
            sa.select(_E.c.idx).where(_E.c.table_name == table, _E.c.state == DIGEST_STATE).limit(1)
        )
        is not None
    )


def adopt_ranges(store: Store, keys_dir: Path, tables: Iterable[str]) -> list[str]:
    """First change entries for append-only covered tables that hold rows but have none: for
    a store written before they were covered. Once per table (any change entry of a table
    means it is covered). Returns the tables adopted."""
    from fpcredit.guard.trail.log import record_rows

    done = []
    for table in tables:
        t = s.metadata.tables[table]
        with store.engine.begin() as conn:
            lock(conn)
            if conn.scalar(sa.select(_E.c.idx).where(_E.c.table_name == table).limit(1)):
                continue
            first, last = conn.execute(sa.select(sa.func.min(t.c.id), sa.func.max(t.c.id))).one()
            if first is None:
                continue
            record_rows(conn, table, int(first), int(last), "fpcredit", "adopt", keys_dir=keys_dir)
            done.append(table)
    return done


def adopt(store: Store, keys_dir: Path) -> list[str]:
    """First digests (and seals) for the digested tables of a store that has none yet: for a
    store written before this coverage existed. Returns the tables adopted."""
    done = []
    sealer = RowSealer.of(keys_dir)
    for table in DIGESTED:
        with store.engine.begin() as conn:
            lock(conn)
            if _adopted(conn, table):
                continue
            if table in SEALED:
                seal_rows(conn, table, "", {}, sealer)
            digest = digest_rows(conn, table, "", {}, sealer)
            if digest.count:  # an empty table's first write starts from nothing anyway
                record_digest(conn, table, digest, keys_dir, action="adopt", absolute=True)
                done.append(table)
    return done


@dataclass(frozen=True)
class Drift:
    """A digested table that no longer matches its last digest entry, or a row its seal."""

    entry: int  # the index of the digest entry it fails (the trail's size for a missing one)
    table: str
    reason: str


def _table_digest(store: Store, table: str, sealer: RowSealer) -> TableDigest:
    sql = canonical_select(table, store.dialect)
    return sealer.digest_arrow(table, read_arrow(store.engine.url, sql, canon(table).arrow_schema))


def _latest(store: Store, table: str) -> tuple[int, TableDigest] | None:
    with store.engine.connect() as conn:
        return last_digest(conn, table)


def verify_digests(store: Store, keys_dir: Path, size: int) -> list[Drift]:
    """Each digested table against its last digest entry, and each sealed row against its
    seal. A table is read outside the verifier's snapshot (in bulk); a writer that commits
    meanwhile moves the last digest entry too, and the table is then read again."""
    key_path = keys_dir / "row-seal.key"
    if not key_path.exists():
        return [Drift(size, t, text("seal.key_missing")) for t in DIGESTED if _has_rows(store, t)]
    sealer = RowSealer.of(keys_dir)
    drifts = [d for t in SEALED if (d := _check_seals(store, t, sealer, size)) is not None]
    for table in DIGESTED:
        drift = _check_digest(store, table, sealer, size)
        if drift is not None:
            drifts.append(drift)
    return drifts


def verify_results(store: Store, home: Path, size: int) -> list[Drift]:
    """Each evaluation's results file against the SHA-256 its (covered) row records."""
    e = s.evaluations
    drifts = []
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(e.c.id, e.c.path, e.c.results_sha256).order_by(e.c.id))
        for row_id, relative, digest in rows.all():
            path = home / relative
            if not path.exists():
                continue  # a file removed (retention) is no changed file; its row stays
            with path.open("rb") as handle:
                found = hashlib.file_digest(handle, "sha256").hexdigest()
            if found != digest:
                reason = text("evaluation.file_altered", id=row_id)
                drifts.append(Drift(size, "evaluations", reason))
    return drifts


def _has_rows(store: Store, table: str) -> bool:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(s.metadata.tables[table]).limit(1)).first() is not None


def _check_digest(store: Store, table: str, sealer: RowSealer, size: int) -> Drift | None:
    for _attempt in range(5):
        before = _latest(store, table)
        found = _table_digest(store, table, sealer)
        after = _latest(store, table)
        if before != after:
            continue  # a write committed while the table was read: read it again
        if before is None:
            if found.count:
                return Drift(size, table, text("seal.table_uncovered", table=table))
            return None
        idx, expected = before
        if found != expected:
            return Drift(
                idx,
                table,
                text("seal.table_changed", table=table, rows=found.count, expected=expected.count),
            )
        return None
    raise TrailError(text("seal.too_busy", table=table))


def _check_seals(store: Store, table: str, sealer: RowSealer, size: int) -> Drift | None:
    c = canon(table)
    seal_column = c.table.columns["seal"]
    sql = canonical_select(table, store.dialect)
    with store.engine.connect() as conn:
        seals = {
            row[0]: None if row[1] is None else bytes(row[1])
            for row in conn.execute(sa.select(c.table.columns[c.key], seal_column))
        }
        key_at = c.columns.index(c.key)
        for row in conn.execute(sa.text(sql)):
            key = row[key_at]
            # A session from before seals is checked when it is used (refused), not here.
            if table == "sessions" and seals.get(key) is None:
                continue
            if key in seals and seals[key] != sealer.seal(table, row):
                last = last_digest(conn, table) if table in DIGESTED else None
                return Drift(
                    size if last is None else last[0],
                    table,
                    text("seal.row_changed", table=table, row=key),
                )
    return None
