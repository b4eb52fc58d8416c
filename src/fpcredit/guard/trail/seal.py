"""Keyed digests of the rows of tables whose rows change: users, clients, persons, links.

The trail covers append-only tables (records, facts, …) by hashing id ranges as they are
written. A table whose rows change in normal operation is covered by a *table digest* instead:
the HMAC-SHA256 of each row under a key kept outside the database (`keys/row-seal.key`), summed
modulo 2^256, with the number of rows. Every writer moves the digest in its own transaction —
the touched rows' old HMACs out, their new ones in — and appends the new (count, digest) to the
trail (guard/trail/sealing.py); `audit verify` recomputes it from the table. A row changed, added,
removed or put back to an older version behind the platform's back no longer adds up, and a
digest that would hide it cannot be made without the key. The sum does not depend on row order,
so a write costs the rows it touches, not the table.

A row is hashed in a canonical form that both a few rows in Python and millions in DuckDB
produce byte for byte: the table's name, then each column in schema order, separated by 0x1F —
integers in decimal, text as `<characters>:<text>`, bytes in lowercase hex, floats as the
integer of their IEEE-754 bits, NULL as `\\N`. Timestamps and dates reach it as integers
(microseconds and days since 1970), converted by the database (`canonical_select`), so neither
a driver's nor a library's way of printing a time can change a digest.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

import duckdb
import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from fpcredit.guard.trail.keys import secret_key
from fpcredit.store import schema as s

__all__ = [
    "DIGESTED",
    "EMPTY",
    "SEALED",
    "SEAL_KEY_FILE",
    "Canon",
    "RowSealer",
    "TableDigest",
    "canon",
    "canonical_select",
    "load_seal_key",
]

SEAL_KEY_FILE: Final = "row-seal.key"
# The tables covered by a digest, and those whose rows also carry their own HMAC (`seal`) so
# that a changed row is refused when it is used (a login), not only found by `verify`.
DIGESTED: Final = ("users", "clients", "persons", "links")
SEALED: Final = ("users", "clients", "sessions")
# A session's seal covers what never changes after login: who it is and what it may do.
SESSION_COLUMNS: Final = ("id", "role", "subject", "region", "purposes", "source", "created_at")
_MOD: Final = 1 << 256
_LANES: Final = 8  # 32-bit words of an HMAC, summed per position (exact below 2^32 rows)
_SEP: Final = "\x1f"
Kind = Literal["int", "text", "bytes", "float", "time", "date", "bool"]


@dataclass(frozen=True)
class TableDigest:
    """A set of rows: how many, and the sum of their HMACs modulo 2^256."""

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
        return cls(int(count), int(hexdigest, 16))


EMPTY: Final = TableDigest(0, 0)


@dataclass(frozen=True)
class Canon:
    """How a table's rows are hashed: its columns in order, each column's kind, its key."""

    table: sa.Table
    columns: tuple[str, ...]
    kinds: tuple[Kind, ...]
    key: str

    @property
    def arrow_schema(self) -> pa.Schema:
        types = {"int": pa.int64(), "time": pa.int64(), "date": pa.int64(), "bool": pa.int64()}
        types |= {"text": pa.string(), "bytes": pa.binary(), "float": pa.float64()}
        return pa.schema([(c, types[k]) for c, k in zip(self.columns, self.kinds, strict=True)])


# A column's kind by its SQL type, the first that matches; any other type is text.
_KINDS: Final[tuple[tuple[type[sa.types.TypeEngine[Any]], Kind], ...]] = (
    (sa.DateTime, "time"),
    (sa.Date, "date"),
    (sa.Boolean, "bool"),
    (sa.LargeBinary, "bytes"),
    (sa.Float, "float"),
    (sa.Integer, "int"),
)


def _kind(column: sa.Column[Any]) -> Kind:
    return next((kind for sql, kind in _KINDS if isinstance(column.type, sql)), "text")


@cache
def canon(table_name: str) -> Canon:
    """The canonical form of a covered table's rows (every column but `seal`, or for sessions
    the columns of `SESSION_COLUMNS`)."""
    table = s.metadata.tables[table_name]
    names = SESSION_COLUMNS if table_name == "sessions" else tuple(table.columns.keys())
    columns = tuple(n for n in names if n != "seal")
    kinds = tuple(_kind(table.columns[n]) for n in columns)
    (key,) = [c.name for c in table.primary_key.columns]
    return Canon(table, columns, kinds, key)


def _sqlite_time(name: str) -> str:
    """A stored time ('YYYY-MM-DD HH:MM:SS.ffffff'; Python's adapter drops '.000000') as the
    integer the canonical form has always held for it, whatever SQLite library reads it.

    The canonical form was first computed as `strftime('%s', t)` by the system's SQLite
    (3.40), which rounds the fraction to milliseconds first: a time at .9995 s or later counted
    its seconds one up. The SQLite bundled with the bulk reader (`store/arrow.py`, 3.53)
    truncates instead, so one such time in a table made `audit verify` report a digest that
    the platform itself had moved. The seconds are now taken without the fraction, and the old
    rounding is done here in the same floating-point steps as SQLite 3.40's date parser, so
    every seal and digest already written stays valid and no library upgrade moves them."""
    seconds = f"CAST(substr({name}, 18, 2) AS INTEGER)"
    micro = f"CAST(COALESCE(NULLIF(substr({name}, 21, 6), ''), '0') AS INTEGER)"
    carry = f"CAST(({seconds} + {micro} / 1000000.0) * 1000 + 0.5 AS INTEGER) / 1000 - {seconds}"
    whole = f"CAST(strftime('%s', substr({name}, 1, 19)) AS INTEGER)"
    return f"({whole} + {carry}) * 1000000 + {micro}"


def _expression(name: str, kind: Kind, dialect: str) -> str:
    """A column as its canonical value: times and dates as integers, computed by the database."""
    if kind == "time":
        if dialect == "sqlite":
            return _sqlite_time(name)
        return f"CAST(EXTRACT(EPOCH FROM {name}) * 1000000 AS BIGINT)"
    if kind == "date":
        if dialect == "sqlite":
            return f"CAST(julianday({name}) - 2440587.5 AS INTEGER)"
        return f"({name} - DATE '1970-01-01')"
    if kind == "bool":
        return f"CAST({name} AS INTEGER)"
    return name


def canonical_select(
    table_name: str, dialect: str, where: str = "", extra: Sequence[str] = ()
) -> str:
    """SQL returning a table's rows in canonical form (ints, text, bytes and floats only),
    followed by the `extra` columns as stored."""
    c = canon(table_name)
    parts = [
        f"{_expression(n, k, dialect)} AS {n}" for n, k in zip(c.columns, c.kinds, strict=True)
    ]
    parts += list(extra)
    return f"SELECT {', '.join(parts)} FROM {table_name} {where}".rstrip()


def load_seal_key(keys_dir: Path) -> bytes:
    """The row-seal key, created on first use; it never enters the database."""
    return secret_key(keys_dir / SEAL_KEY_FILE)


def _text_value(value: Any, kind: Kind) -> str:
    if value is None:
        return "\\N"
    if kind == "text":
        return f"{len(value)}:{value}"
    if kind == "bytes":
        return bytes(value).hex()
    if kind == "float":
        return str(struct.unpack("<q", struct.pack("<d", float(value)))[0])
    return str(int(value))


class RowSealer:
    """HMACs of canonical rows under the row-seal key: a few in Python, many in DuckDB."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def of(cls, keys_dir: Path) -> RowSealer:
        return _sealer(keys_dir)

    def __repr__(self) -> str:  # the key must never reach a log through repr()
        return "RowSealer()"

    def seal(self, table_name: str, row: Sequence[Any]) -> bytes:
        """One canonical row's HMAC (the values in `canon(table_name).columns` order)."""
        kinds = canon(table_name).kinds
        fields = [f"{len(table_name)}:{table_name}"]
        fields += [_text_value(v, k) for v, k in zip(row, kinds, strict=True)]
        return hmac.digest(self._key, _SEP.join(fields).encode(), hashlib.sha256)

    def digest(self, table_name: str, rows: Iterable[Sequence[Any]]) -> TableDigest:
        """The digest of a few canonical rows, in Python."""
        count = total = 0
        for row in rows:
            count += 1
            total += int.from_bytes(self.seal(table_name, row), "big")
        return TableDigest(count, total % _MOD)

    def digest_arrow(self, table_name: str, rows: pa.Table) -> TableDigest:
        """The digest of many canonical rows (an Arrow table of `canon(...).arrow_schema`),
        hashed by DuckDB: the same HMACs as `seal`, without a Python loop per row."""
        if rows.num_rows == 0:
            return EMPTY
        hashed = self._hmacs(table_name, rows)
        n = len(hashed)
        words = np.frombuffer(
            hashed.buffers()[1], dtype=">u4", count=n * _LANES, offset=hashed.offset * 32
        )
        sums = words.reshape(n, _LANES).sum(axis=0, dtype=np.uint64)
        total = sum(int(v) << (32 * (_LANES - 1 - i)) for i, v in enumerate(sums))
        return TableDigest(n, total % _MOD)

    def _hmacs(self, table_name: str, rows: pa.Table) -> pa.FixedSizeBinaryArray:
        c = canon(table_name)
        columns, parts = {}, []
        for name, kind in zip(c.columns, c.kinds, strict=True):
            column = rows.column(name).combine_chunks()
            ref = f'"{name}"'
            if kind == "float":
                values = np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
                column = pa.array(values.view(np.int64), mask=np.asarray(column.is_null()))
            if kind == "text":
                expr = f"length({ref}) || ':' || {ref}"
            elif kind == "bytes":
                expr = f"lower(hex({ref}))"
            else:
                expr = f"CAST({ref} AS VARCHAR)"
            columns[name] = column
            parts.append(f"coalesce({expr}, '\\N')")
        block = self._key.ljust(64, b"\0")
        inner, outer = bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)
        message = f"concat_ws(chr(31), ?, {', '.join(parts)})"
        sql = f"SELECT unhex(sha256(?::BLOB || unhex(sha256(?::BLOB || encode({message}))))) FROM t"
        con = duckdb.connect(":memory:")
        try:
            con.register("t", pa.table(columns))
            params = [outer, inner, f"{len(table_name)}:{table_name}"]
            found = con.sql(sql, params=params).to_arrow_table().column(0).combine_chunks()
        finally:
            con.close()
        hashed: pa.FixedSizeBinaryArray = found.cast(pa.binary(32))
        return hashed


@cache
def _sealer(keys_dir: Path) -> RowSealer:
    return RowSealer(load_seal_key(keys_dir))
