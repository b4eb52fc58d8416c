"""Trail entries: their fields, their leaf format, their MAC, and how they are stored.

An entry is one leaf of the trail's RFC 9162 tree. Its leaf data is compact JSON with sorted keys
(format 1; format 2 adds the caller's `address`), its leaf hash SHA-256(0x00 ‖ data), and its
MAC the HMAC-SHA256 of the leaf hash under a key outside the database. `append_rows` writes
entries and the tree nodes they complete in the caller's transaction. docs/trail.md describes
the formats an auditor needs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.errors import TrailError
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.keys import EntryMac
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.bulk import bulk_insert
from fpcredit.store.db import Store

__all__ = [
    "ENTRY_COLUMNS",
    "ENTRY_SELECT",
    "LEAF_FORMAT",
    "Entry",
    "Event",
    "ProvenEntry",
    "SubjectTrail",
    "Tip",
    "TreeHead",
    "append_rows",
    "appended_here",
    "check_code",
    "entry_leaf",
    "fetcher",
    "forget_appended",
    "leaf_data",
    "lock",
    "size_of",
    "snapshot",
    "stream",
    "subject_tag",
    "to_entry",
]

LEAF_FORMAT: Final = 2  # the leaf format new entries are written in (hashed into every leaf)
_LOCK: Final = 7_413_030  # PostgreSQL advisory lock: one appender at a time keeps idx dense
_STREAM: Final = 20_000  # rows per fetch when streaming
# Codes only: an account, action or purpose name. A run of 11+ digits would be an ID or phone.
_CODE: Final = re.compile(r"[A-Za-z0-9_.:/@+-]{1,64}")
_DIGITS: Final = re.compile(r"[0-9]{11}")
# A JSON string as json.dumps(..., ensure_ascii=False) writes it, in C.
_quote: Final[Callable[[str], str]] = json.encoder.encode_basestring
STORED: Final = 4  # tree levels kept in ledger_nodes: 4 and up (lower ones are a few hashes)
_E = s.ledger_entries
_N = s.ledger_nodes
ENTRY_COLUMNS: Final = tuple(c.name for c in _E.columns if c.name != "subject_tag")
ENTRY_SELECT: Final = tuple(_E.c[name] for name in ENTRY_COLUMNS)


class _Process:
    """Whether this process appended to a trail (the CLI signs a checkpoint when it did)."""

    appended = False


def appended_here() -> bool:
    """Whether this process has appended entries (committed or not) to a trail since it
    started or last called `forget_appended`."""
    return _Process.appended


def forget_appended() -> None:
    _Process.appended = False


def subject_tag(subject_hash: str) -> int:
    """The indexed tag of a subject hash: its first 15 hex digits as an integer (60 bits, so
    it fits a signed 64-bit column)."""
    return int(subject_hash[:15], 16)


@dataclass(frozen=True, slots=True)
class Event:
    """Something to log. `subject` (e.g. a person id) is hashed and never stored; `address` is
    the caller's network address (a code such as ``10.1.2.3`` or ``::1``)."""

    actor: str
    action: str
    outcome: str = "ok"
    subject: str | None = None
    purpose: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Entry:
    """A stored entry: one leaf of the tree."""

    idx: int
    at: dt.datetime
    actor: str
    action: str
    outcome: str
    subject_hash: str | None
    purpose: str | None
    table_name: str | None
    first_id: int | None
    last_id: int | None
    row_count: int | None
    rows_sha256: str | None
    state: str | None
    leaf_hash: bytes
    v: int = 1
    address: str | None = None
    mac: bytes | None = None

    def as_json(self) -> dict[str, Any]:
        out = {c: getattr(self, c) for c in ENTRY_COLUMNS}
        out["at"] = stamp_of(self.at)
        out["leaf_hash"] = self.leaf_hash.hex()
        out["mac"] = None if self.mac is None else self.mac.hex()
        return out


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


@dataclass(frozen=True)
class ProvenEntry:
    entry: Entry
    proof: list[bytes]  # RFC 9162 inclusion proof of entry.idx in the trail's tree of `size`


@dataclass(frozen=True)
class SubjectTrail:
    """A subject's entries, each with its inclusion proof in the tree of `size` with `root`."""

    size: int
    root: bytes
    entries: list[ProvenEntry]


@functools.lru_cache(maxsize=256)
def stamp_of(at: dt.datetime) -> str:
    return at.isoformat(timespec="microseconds") + "Z"


def leaf_data(
    idx: int,
    at: dt.datetime,
    actor: str,
    action: str,
    outcome: str,
    subject_hash: str | None,
    purpose: str | None,
    table_name: str | None,
    first_id: int | None,
    last_id: int | None,
    row_count: int | None,
    rows_sha256: str | None,
    state: str | None,
    *,
    address: str | None = None,
    v: int = 1,
) -> bytes:
    """The bytes an entry's leaf hash is taken of: compact JSON with sorted keys, UTF-8 (what
    ``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes).
    Format 1 has no `address` key; format 2 has it (null when there is none)."""
    if v not in (1, 2) or (v == 1 and address is not None):
        raise TrailError(text("trail.format_unknown", v=v))
    # Formatted by hand: a dict through the json module costs more than the SQLite insert.
    q, null = _quote, "null"
    where = "" if v == 1 else f'"address":{null if address is None else q(address)},'
    return (
        f'{{"action":{q(action)},"actor":{q(actor)},{where}"at":"{stamp_of(at)}",'
        f'"first_id":{null if first_id is None else int(first_id)},"idx":{int(idx)},'
        f'"last_id":{null if last_id is None else int(last_id)},"outcome":{q(outcome)},'
        f'"purpose":{null if purpose is None else q(purpose)},'
        f'"row_count":{null if row_count is None else int(row_count)},'
        f'"rows_sha256":{null if rows_sha256 is None else q(rows_sha256)},'
        f'"state":{null if state is None else q(state)},'
        f'"subject_hash":{null if subject_hash is None else q(subject_hash)},'
        f'"table_name":{null if table_name is None else q(table_name)},"v":{int(v)}}}'
    ).encode()


def entry_leaf(row: Sequence[Any]) -> bytes:
    """The leaf hash recomputed from an entry's columns, in the order of ENTRY_SELECT."""
    return tlog.leaf_hash(leaf_data(*row[:13], address=row[15], v=int(row[14])))


_NO_CHANGE: Final = (None,) * 6  # table_name .. state of an entry that is not a change


def _access_template(
    at: dt.datetime, actor: str, action: str, outcome: str, purpose: str | None
) -> tuple[str, str, str, str]:
    """leaf_data of an access entry cut around its three varying fields, address, idx and
    subject_hash: a batch fills these in instead of formatting every entry from scratch."""
    marked = leaf_data(
        0, at, actor, action, outcome, "\x00", purpose, *_NO_CHANGE, address="\x01", v=LEAF_FORMAT
    )
    head, rest = marked.decode().split('"\\u0001"')  # the marker address, as JSON escapes it
    middle, rest = rest.split('"idx":0,')
    after, tail = rest.split('"\\u0000"')  # the marker subject
    return "\x00" + head, middle + '"idx":', "," + after, tail  # 0x00: RFC 9162's leaf prefix


@functools.lru_cache(maxsize=4096)
def _is_code(value: str) -> bool:
    return bool(_CODE.fullmatch(value)) and not _DIGITS.search(value)


def check_code(field: str, value: str | None, required: bool = True) -> None:
    if value is None and not required:
        return
    if value is None or not _is_code(value):
        raise TrailError(text("trail.code_invalid", field=field))


# --- storage -------------------------------------------------------------------------------------


# On SQLite, _lock and _last run these through the driver itself: a batch of one entry (a
# single read of the service) spent a third of its time in SQLAlchemy's execution of them.
# Any write takes SQLite's RESERVED lock before the size is read; a no-op is cheapest.
_SQLITE_LOCK: Final = "UPDATE ledger_entries SET idx = idx WHERE 0"
_SQLITE_LAST: Final = "SELECT idx, leaf_hash FROM ledger_entries ORDER BY idx DESC LIMIT 1"


def lock(conn: sa.Connection) -> None:
    """Take the trail's write lock for the rest of the transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    else:
        conn.connection.driver_connection.execute(_SQLITE_LOCK)  # type: ignore[union-attr]


_LAST = sa.select(_E.c.idx, _E.c.leaf_hash).order_by(_E.c.idx.desc()).limit(1)


def _last(conn: sa.Connection) -> tuple[int, bytes | None]:
    """The size of the log and its last leaf hash."""
    if conn.dialect.name == "sqlite":
        driver = conn.connection.driver_connection
        row = driver.execute(_SQLITE_LAST).fetchone()  # type: ignore[union-attr]
    else:
        row = conn.execute(_LAST).first()
    return (0, None) if row is None else (int(row[0]) + 1, bytes(row[1]))


def size_of(conn: sa.Connection) -> int:
    """The number of entries (the index of the last one, plus one)."""
    return _last(conn)[0]


def fetcher(conn: sa.Connection) -> tlog.Fetch:
    """Complete-subtree hashes: stored ones from ledger_nodes, the small ones (below level
    STORED) recomputed from at most 2^(STORED − 1) leaf hashes of the entries."""

    def fetch(refs: Sequence[tlog.NodeRef]) -> list[bytes]:
        leaves: dict[int, bytes] = {}
        nodes: dict[tlog.NodeRef, bytes] = {}
        wanted = sorted({i for lv, j in refs if lv < STORED for i in range(j << lv, (j + 1) << lv)})
        stored = sorted({(lv, j) for lv, j in refs if lv >= STORED})
        for start in range(0, len(wanted), 500):
            query = _E.c.idx.in_(wanted[start : start + 500])
            rows = conn.execute(sa.select(_E.c.idx, _E.c.leaf_hash).where(query))
            leaves.update((int(i), bytes(h)) for i, h in rows)
        by_level: dict[int, list[int]] = {}
        for lv, j in stored:
            by_level.setdefault(lv, []).append(j)
        # A level and its indexes, not (level, idx) pairs: SQLite answers a list of row values
        # by reading the whole table (a proof took 12 ms), a level's IN list by its key.
        for lv, indexes in by_level.items():
            for start in range(0, len(indexes), 500):
                where = sa.and_(_N.c.level == lv, _N.c.idx.in_(indexes[start : start + 500]))
                got = conn.execute(sa.select(_N.c.idx, _N.c.hash).where(where))
                nodes.update(((lv, int(j)), bytes(h)) for j, h in got)
        out: list[bytes] = []
        for lv, j in refs:
            span = range(j << lv, (j + 1) << lv)
            if (lv, j) in nodes:
                out.append(nodes[lv, j])
            elif lv < STORED and all(i in leaves for i in span):
                out.append(tlog.root_hash([leaves[i] for i in span]))
            else:
                raise TrailError(text("trail.tree_damaged", level=lv, index=j))
        return out

    return fetch


_ACCESS_COLUMNS: Final = (*ENTRY_COLUMNS[:7], "leaf_hash", "subject_tag", "v", "mac", "address")
_CHANGE_COLUMNS: Final = (*ENTRY_COLUMNS[:14], "subject_tag", "v", "mac")
Tip = tuple[tlog.Frontier, bytes | None]
"""The right edge of the tree after an append, and the last leaf hash: reused by the next
append of the same process when the log has not moved since."""


def append_rows(
    conn: sa.Connection,
    rows: Sequence[tuple[Any, ...]],
    at: dt.datetime,
    mac: EntryMac,
    tip: Tip | None = None,
) -> tuple[range, Tip]:
    """Append entries in `conn`'s transaction, with their MACs and new tree nodes; the caller
    commits. A row is the columns after `idx` and `at`, before `leaf_hash`: all eleven for a
    change entry; for an access entry the first five (actor … purpose) and the address."""
    _Process.appended = True
    lock(conn)
    size, last = _last(conn)
    if tip is not None and tip[0].size == size and tip[1] == last:
        frontier = tip[0].copy()
    else:
        frontier = tlog.Frontier(size, fetcher(conn)(tlog.peak_refs(size)))
    sqlite = conn.dialect.name == "sqlite"
    # SQLite gets SQLAlchemy's own text form of a DateTime: the driver's would differ.
    at_value: Any = at.isoformat(sep=" ", timespec="microseconds") if sqlite else at
    access: list[tuple[Any, ...]] = []  # the common case: no change columns, fewer to bind
    changes: list[tuple[Any, ...]] = []
    leaves: list[bytes] = []
    idx = size
    # A batch without addresses leaves the column out: a NULL bound per entry costs 4 %.
    addressed = any(len(row) == 6 and row[5] is not None for row in rows)
    templates: dict[tuple[Any, ...], tuple[str, str, str, str]] = {}
    codes: tuple[Any, ...] = (None, None, None, None)  # no actor is None: never "the same"
    parts = ("", "", "", "")
    # RFC 9162 leaf hash and the MAC's HMAC, inlined: 200k of each in a batch.
    sha256, inner, outer, v = hashlib.sha256, mac.inner, mac.outer, LEAF_FORMAT
    for row in rows:
        if len(row) == 6:  # an access entry: no change columns
            actor, action, outcome, hashed, purpose, address = row
            # A batch mostly repeats one combination of codes: the same objects, compared first.
            same = actor is codes[0] and action is codes[1] and outcome is codes[2]
            if not same or purpose is not codes[3]:
                codes = (actor, action, outcome, purpose)
                if codes not in templates:
                    templates[codes] = _access_template(at, *codes)
                parts = templates[codes]
            # A subject hash is lowercase hex and an address a code: JSON quotes them as they are.
            if hashed is None:
                subject, tag = "null", None
            else:
                subject, tag = f'"{hashed}"', int(hashed[:15], 16)
            where = "null" if address is None else f'"{address}"'
            data = f"{parts[0]}{where}{parts[1]}{idx}{parts[2]}{subject}{parts[3]}".encode()
            last = sha256(data).digest()  # the template starts with the leaf prefix 0x00
            h = inner.copy()
            h.update(last)
            m = outer.copy()
            m.update(h.digest())
            out = (idx, at_value, actor, action, outcome, hashed, purpose, last, tag, v, m.digest())
            access.append((*out, address) if addressed else out)
        else:
            last = tlog.leaf_hash(leaf_data(idx, at, *row, v=v))
            tag = None if row[3] is None else subject_tag(row[3])
            changes.append((idx, at_value, *row, last, tag, v, mac(last)))
        leaves.append(last)
        idx += 1
    nodes = frontier.extend(leaves, min_level=STORED)
    if access:
        bulk_insert(conn, _E, _ACCESS_COLUMNS if addressed else _ACCESS_COLUMNS[:-1], access)
    if changes:
        bulk_insert(conn, _E, _CHANGE_COLUMNS, changes)
    if nodes:
        bulk_insert(conn, _N, ("level", "idx", "hash"), nodes)
    return range(size, idx), (frontier, last)


def stream(conn: sa.Connection, query: sa.Executable) -> Iterator[Any]:
    """Rows of a query without holding them all (a server-side cursor on PostgreSQL)."""
    # Per statement: Connection.execution_options() would change the connection for good.
    yield from conn.execute(query, execution_options={"yield_per": _STREAM})


def to_entry(row: sa.Row[Any]) -> Entry:
    values = dict(row._mapping)
    values["leaf_hash"] = bytes(values["leaf_hash"])
    values["mac"] = None if values["mac"] is None else bytes(values["mac"])
    return Entry(**values)


@contextlib.contextmanager
def snapshot(store: Store) -> Iterator[sa.Connection]:
    """One read-only snapshot of the store, so that concurrent writes cannot show up half-way
    (rows without their entry, a size without its nodes), and that takes no write lock."""
    with store.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.execute(sa.text("SET TRANSACTION READ ONLY"))
                yield conn
        else:
            # The driver opens transactions only for writes; a read snapshot needs an explicit one.
            conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                conn.rollback()
