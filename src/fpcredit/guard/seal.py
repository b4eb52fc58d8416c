"""Keyed digests of the rows of mutable tables the trail covers (users, clients, persons, links).

The trail's change entries cover append-only tables by hashing row ranges. Tables whose rows
change in normal operation are covered by a *table digest* instead: every row's HMAC-SHA256
under a key kept outside the database (`keys/row-seal.key`), over a canonical form of all its
columns, summed modulo 2^256, with the number of rows. Each writer updates the digest in its
own transaction — the old rows' HMACs out, the new rows' in — and appends the new (count,
digest) to the trail; `verify` recomputes it from the table. A row changed, added, removed or
put back to an older version behind the platform's back no longer adds up, and forging the
digest needs the key. The sum is order-free, so an update costs the rows it touches, not the
table.

Rows are hashed by DuckDB over Arrow, in bulk: the canonical form is computed from typed
columns (integers as decimal text, text length-prefixed, bytes in hex, timestamps and dates as
integers, floats by their IEEE-754 bits), so it does not depend on a driver's or a DuckDB
version's way of printing a value.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fpcredit.errors import LedgerError
from fpcredit.files import read_or_create
from fpcredit.messages import text

__all__ = ["SEAL_KEY_FILE", "TableDigest", "digest_rows", "load_seal_key", "row_seals"]

SEAL_KEY_FILE: Final = "row-seal.key"
_MOD: Final = 1 << 256
_LANES: Final = 8  # 32-bit lanes a 256-bit HMAC is summed in (exact for < 2^32 rows)


@dataclass(frozen=True)
class TableDigest:
    """A table's (or a set of rows') row count and the sum of its rows' HMACs mod 2^256."""

    count: int
    total: int

    def __add__(self, other: TableDigest) -> TableDigest:
        return TableDigest(self.count + other.count, (self.total + other.total) % _MOD)

    def __sub__(self, other: TableDigest) -> TableDigest:
        return TableDigest(self.count - other.count, (self.total - other.total) % _MOD)

    @property
    def hex(self) -> str:
        return self.total.to_bytes(32, "big").hex()

    @classmethod
    def parse(cls, count: int, hexdigest: str) -> TableDigest:
        return cls(count, int(hexdigest, 16))


EMPTY: Final = TableDigest(0, 0)


def load_seal_key(keys_dir: Path) -> bytes:
    """The row-seal key, created on first use; it never enters the database."""
    path = keys_dir / SEAL_KEY_FILE
    raw = read_or_create(path, lambda: base64.b64encode(secrets.token_bytes(32)))
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError as e:
        raise LedgerError(text("ledger.key_damaged", name=path.name)) from e
    if len(key) != 32:
        raise LedgerError(text("ledger.key_damaged", name=path.name))
    return key


def _canonical_columns(table: pa.Table) -> pa.Table:
    """Every column as text DuckDB concatenates the same way whatever its type was."""
    out = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks() if table.num_rows else table.column(name)
        kind = column.type
        if pa.types.is_floating(kind):
            bits = np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
            ints = pa.array(bits.view(np.int64), mask=np.asarray(column.is_null()))
            out[name] = ints.cast(pa.string())
        elif pa.types.is_timestamp(kind):
            out[name] = column.cast(pa.timestamp("us")).cast(pa.int64()).cast(pa.string())
        elif pa.types.is_date(kind):
            out[name] = column.cast(pa.date32()).cast(pa.int32()).cast(pa.string())
        elif pa.types.is_boolean(kind):
            out[name] = column.cast(pa.int8()).cast(pa.string())
        elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            out[name] = column  # hex()ed by DuckDB
        elif pa.types.is_integer(kind):
            out[name] = column.cast(pa.string())
        else:
            strings = column.cast(pa.string())
            lengths = pc.utf8_length(strings).cast(pa.string())
            out[name] = pc.binary_join_element_wise(lengths, strings, ":")
    return pa.table(out)


def _hmacs(table: pa.Table, key: bytes, table_name: str) -> pa.FixedSizeBinaryArray:
    """Each input row's HMAC-SHA256 (32 bytes), in row order, computed by DuckDB."""
    block = key.ljust(64, b"\0")
    inner = bytes(b ^ 0x36 for b in block)
    outer = bytes(b ^ 0x5C for b in block)
    canonical = _canonical_columns(table)
    parts = []
    for field in canonical.schema:
        ref = f'"{field.name}"'
        value = f"hex({ref})" if pa.types.is_binary(field.type) else ref
        parts.append(f"coalesce({value}, '\\N')")
    row = f"concat_ws(chr(31), ?, {', '.join(parts)})"
    sql = (
        f"SELECT unhex(sha256(?::BLOB || unhex(sha256(?::BLOB || encode({row}))))) AS h FROM _rows"
    )
    con = duckdb.connect(":memory:")
    try:
        con.register("_rows", canonical)
        params = [outer, inner, f"{len(table_name)}:{table_name}"]
        found = con.sql(sql, params=params).to_arrow_table().column("h").combine_chunks()
    finally:
        con.close()
    hashed: pa.FixedSizeBinaryArray = found.cast(pa.binary(32))
    return hashed


def row_seals(table: pa.Table, key: bytes, table_name: str) -> list[bytes]:
    """Each row's HMAC (32 bytes), in row order: the per-row seal of small tables."""
    if table.num_rows == 0:
        return []
    return [bytes(h) for h in _hmacs(table, key, table_name).to_pylist()]


def digest_rows(table: pa.Table, key: bytes, table_name: str) -> TableDigest:
    """The count and HMAC sum of `table`'s rows (every column, in the table's column order)."""
    if table.num_rows == 0:
        return EMPTY
    hashed = _hmacs(table, key, table_name)
    n = len(hashed)
    # Each HMAC as eight big-endian 32-bit words, summed per word position in 64 bits (exact
    # below 2^32 rows), then carried into one 256-bit number.
    words = np.frombuffer(
        hashed.buffers()[1], dtype=">u4", count=n * _LANES, offset=hashed.offset * 32
    )
    sums = words.reshape(n, _LANES).sum(axis=0, dtype=np.uint64)
    total = sum(int(v) << (32 * (_LANES - 1 - i)) for i, v in enumerate(sums))
    return TableDigest(n, total % _MOD)
