"""The tamper-evident trail (SPEC R30): entries in an RFC 9162 Merkle tree on the store.

Every access to personal data and every bulk change of a covered table (``records``, ``facts``)
appends an entry; `Ledger.checkpoint` signs the tree head as a C2SP checkpoint; `verify`
recomputes everything from the rows. Entries hold codes and hashes only: the subject is an HMAC
under a key in the keys folder, a change entry the SHA-256 of the rows it covers. docs/trail.md
describes the formats an auditor needs.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import re
import secrets
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import LedgerError
from fpcredit.guard import tlog
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.bulk import bulk_insert
from fpcredit.store.db import Store, utc_now

__all__ = [
    "COVERED",
    "DEFAULT_ORIGIN",
    "Entry",
    "Event",
    "Ledger",
    "ProvenEntry",
    "SubjectTrail",
    "TreeHead",
    "leaf_data",
    "record_rows",
    "rows_digest",
    "verify",
]

DEFAULT_ORIGIN: Final = "fpcredit/trail"
# The columns of a covered table that never change after insert, in the order they are hashed.
# facts.disputed is replayed from state entries; facts.superseded_at is derived (docs/trail.md).
COVERED: Final[dict[str, tuple[str, ...]]] = {
    "records": tuple(
        "id source record_key row_hash kind event_date recorded_at ingestion_id row_number".split()
    ),
    "facts": tuple(
        "id record_id subject_mention_id kind source record_key row_hash event_date recorded_at "
        "attrs".split()
    ),
}
_SIGNING_KEY: Final = "ledger-signing.key"
_SUBJECT_KEY: Final = "ledger-subject.key"
_LOCK: Final = 7_413_030  # PostgreSQL advisory lock: one appender at a time keeps idx dense
_FORMAT: Final = 1  # the leaf format version, hashed into every leaf
_STREAM: Final = 20_000  # rows per fetch when streaming
# Codes only: an account, action or purpose name. A run of 11+ digits would be an ID or phone.
_CODE: Final = re.compile(r"[A-Za-z0-9_.:/@+-]{1,64}")
_DIGITS: Final = re.compile(r"[0-9]{11}")
# A JSON string as json.dumps(..., ensure_ascii=False) writes it, in C.
_quote: Final[Callable[[str], str]] = json.encoder.encode_basestring
_STORED: Final = 4  # tree levels kept in ledger_nodes: 4 and up (lower ones are a few hashes)
_E = s.ledger_entries
_N = s.ledger_nodes
_C = s.ledger_checkpoints
_ENTRY_COLUMNS: Final = tuple(c.name for c in _E.columns if c.name != "subject_tag")
_ENTRY_SELECT: Final = tuple(_E.c[name] for name in _ENTRY_COLUMNS)


def subject_tag(subject_hash: str) -> int:
    """The indexed tag of a subject hash: its first 15 hex digits as an integer (60 bits, so
    it fits a signed 64-bit column)."""
    return int(subject_hash[:15], 16)


@dataclass(frozen=True, slots=True)
class Event:
    """Something to log. `subject` (e.g. a person id) is hashed and never stored."""

    actor: str
    action: str
    outcome: str = "ok"
    subject: str | None = None
    purpose: str | None = None


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

    def as_json(self) -> dict[str, Any]:
        out = {c: getattr(self, c) for c in _ENTRY_COLUMNS}
        out["at"] = _stamp(self.at)
        out["leaf_hash"] = self.leaf_hash.hex()
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
def _stamp(at: dt.datetime) -> str:
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
) -> bytes:
    """The bytes an entry's leaf hash is taken of: compact JSON with sorted keys, UTF-8 (what
    ``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes)."""
    # Formatted by hand: a dict through the json module costs more than the SQLite insert.
    q, null = _quote, "null"
    return (
        f'{{"action":{q(action)},"actor":{q(actor)},"at":"{_stamp(at)}",'
        f'"first_id":{null if first_id is None else int(first_id)},"idx":{int(idx)},'
        f'"last_id":{null if last_id is None else int(last_id)},"outcome":{q(outcome)},'
        f'"purpose":{null if purpose is None else q(purpose)},'
        f'"row_count":{null if row_count is None else int(row_count)},'
        f'"rows_sha256":{null if rows_sha256 is None else q(rows_sha256)},'
        f'"state":{null if state is None else q(state)},'
        f'"subject_hash":{null if subject_hash is None else q(subject_hash)},'
        f'"table_name":{null if table_name is None else q(table_name)},"v":{_FORMAT}}}'
    ).encode()


_NO_CHANGE: Final = (None,) * 6  # table_name .. state of an entry that is not a change


def _access_template(
    at: dt.datetime, actor: str, action: str, outcome: str, purpose: str | None
) -> tuple[str, str, str]:
    """leaf_data of an access entry cut around its two varying fields, idx and subject_hash:
    a batch fills these in instead of formatting every entry from scratch."""
    whole = leaf_data(0, at, actor, action, outcome, "\x00", purpose, *_NO_CHANGE).decode()
    head, rest = whole.split('"idx":0,')
    middle, tail = rest.split('"\\u0000"')  # the marker subject, as JSON escapes it
    return head + '"idx":', "," + middle, tail


@functools.lru_cache(maxsize=4096)
def _is_code(value: str) -> bool:
    return bool(_CODE.fullmatch(value)) and not _DIGITS.search(value)


def _check_code(field: str, value: str | None, required: bool = True) -> None:
    if value is None and not required:
        return
    if value is None or not _is_code(value):
        raise LedgerError(text("ledger.code_invalid", field=field))


# --- storage -------------------------------------------------------------------------------------


# On SQLite, _lock and _last run these through the driver itself: a batch of one entry (a
# single read of the service) spent a third of its time in SQLAlchemy's execution of them.
# Any write takes SQLite's RESERVED lock before the size is read; a no-op is cheapest.
_SQLITE_LOCK: Final = "UPDATE ledger_entries SET idx = idx WHERE 0"
_SQLITE_LAST: Final = "SELECT idx, leaf_hash FROM ledger_entries ORDER BY idx DESC LIMIT 1"


def _lock(conn: sa.Connection) -> None:
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


def _size(conn: sa.Connection) -> int:
    return _last(conn)[0]


def _fetcher(conn: sa.Connection) -> tlog.Fetch:
    """Complete-subtree hashes: stored ones from ledger_nodes, the small ones (below level
    _STORED) recomputed from at most 2^(_STORED − 1) leaf hashes of the entries."""

    def fetch(refs: Sequence[tlog.NodeRef]) -> list[bytes]:
        leaves: dict[int, bytes] = {}
        nodes: dict[tlog.NodeRef, bytes] = {}
        wanted = sorted(
            {i for lv, j in refs if lv < _STORED for i in range(j << lv, (j + 1) << lv)}
        )
        stored = sorted({(lv, j) for lv, j in refs if lv >= _STORED})
        for start in range(0, len(wanted), 500):
            query = _E.c.idx.in_(wanted[start : start + 500])
            rows = conn.execute(sa.select(_E.c.idx, _E.c.leaf_hash).where(query))
            leaves.update((int(i), bytes(h)) for i, h in rows)
        for start in range(0, len(stored), 500):
            where = sa.tuple_(_N.c.level, _N.c.idx).in_(stored[start : start + 500])
            got = conn.execute(sa.select(_N.c.level, _N.c.idx, _N.c.hash).where(where))
            nodes.update(((int(lv), int(j)), bytes(h)) for lv, j, h in got)
        out: list[bytes] = []
        for lv, j in refs:
            span = range(j << lv, (j + 1) << lv)
            if (lv, j) in nodes:
                out.append(nodes[lv, j])
            elif lv < _STORED and all(i in leaves for i in span):
                out.append(tlog.root_hash([leaves[i] for i in span]))
            else:
                raise LedgerError(text("ledger.tree_damaged", level=lv, index=j))
        return out

    return fetch


_ACCESS_COLUMNS: Final = (*_ENTRY_COLUMNS[:7], "leaf_hash", "subject_tag")
_CHANGE_COLUMNS: Final = (*_ENTRY_COLUMNS, "subject_tag")
_Tip = tuple[tlog.Frontier, bytes | None]
"""The right edge of the tree after an append, and the last leaf hash: reused by the next
append of the same process when the log has not moved since."""


def _append(
    conn: sa.Connection, rows: Sequence[tuple[Any, ...]], at: dt.datetime, tip: _Tip | None = None
) -> tuple[range, _Tip]:
    """Append entries in `conn`'s transaction, with their new tree nodes; the caller commits.
    A row is the columns after `idx` and `at`, before `leaf_hash`: all eleven for a change
    entry, the first five (actor … purpose) for an access entry."""
    _lock(conn)
    size, last = _last(conn)
    if tip is not None and tip[0].size == size and tip[1] == last:
        frontier = tip[0].copy()
    else:
        frontier = tlog.Frontier(size, _fetcher(conn)(tlog.peak_refs(size)))
    sqlite = conn.dialect.name == "sqlite"
    # SQLite gets SQLAlchemy's own text form of a DateTime: the driver's would differ.
    at_value: Any = at.isoformat(sep=" ", timespec="microseconds") if sqlite else at
    access: list[tuple[Any, ...]] = []  # the common case: no change columns, fewer to bind
    changes: list[tuple[Any, ...]] = []
    leaves: list[bytes] = []
    idx = size
    templates: dict[tuple[Any, ...], tuple[str, str, str]] = {}
    sha256, leaf_prefix = hashlib.sha256, b"\x00"  # RFC 9162 leaf hash, inlined: 200k a batch
    for row in rows:
        if len(row) == 5:  # an access entry: no change columns
            actor, action, outcome, hashed, purpose = row
            codes = (actor, action, outcome, purpose)
            parts = templates.get(codes)
            if parts is None:
                parts = templates[codes] = _access_template(at, *codes)
            # A subject hash is lowercase hex, which JSON quotes as is.
            if hashed is None:
                subject, tag = "null", None
            else:
                subject, tag = f'"{hashed}"', subject_tag(hashed)
            data = f"{parts[0]}{idx}{parts[1]}{subject}{parts[2]}".encode()
            last = sha256(leaf_prefix + data).digest()
            access.append((idx, at_value, actor, action, outcome, hashed, purpose, last, tag))
        else:
            last = tlog.leaf_hash(leaf_data(idx, at, *row))
            tag = None if row[3] is None else subject_tag(row[3])
            changes.append((idx, at_value, *row, last, tag))
        leaves.append(last)
        idx += 1
    nodes = frontier.extend(leaves, min_level=_STORED)
    if access:
        bulk_insert(conn, _E, _ACCESS_COLUMNS, access)
    if changes:
        bulk_insert(conn, _E, _CHANGE_COLUMNS, changes)
    if nodes:
        bulk_insert(conn, _N, ("level", "idx", "hash"), nodes)
    return range(size, idx), (frontier, last)


def _value(v: Any) -> str:
    """One column value as the canonical row writes it (JSON)."""
    kind = type(v)
    if kind is str:
        return _quote(v)
    if kind is int:
        return str(v)
    if v is None:
        return "null"
    if kind is dt.datetime:
        return f'"{v.isoformat(sep=" ", timespec="microseconds")}"'
    if kind is dt.date:
        return f'"{v.isoformat()}"'
    # Not a type these columns hold (a value written behind the store's back): still hashed.
    return _quote(repr(v))


def _canonical(row: Sequence[Any]) -> bytes:
    """One row of a covered table as hashed: a compact JSON array and a newline."""
    return f"[{','.join(map(_value, row))}]\n".encode()


def _stream(conn: sa.Connection, query: sa.Executable) -> Iterator[Any]:
    """Rows of a query without holding them all (a server-side cursor on PostgreSQL)."""
    # Per statement: Connection.execution_options() would change the connection for good.
    yield from conn.execute(query, execution_options={"yield_per": _STREAM})


def _rows_query(table: str, *extra: str, where: str = "") -> sa.TextClause:
    """The hashed columns of a covered table in id order, as the driver returns them: SQL text
    has no result types, which saves parsing SQLite's dates (SQLite stores SQLAlchemy's own
    text form, PostgreSQL returns date objects; both canonicalise the same)."""
    return sa.text(
        f"SELECT {', '.join((*COVERED[table], *extra))} FROM {table} {where} ORDER BY id"
    )


def rows_digest(conn: sa.Connection, table: str, first_id: int, last_id: int) -> tuple[int, str]:
    """How many rows of a covered table have ids first_id..last_id, and their SHA-256."""
    query = _rows_query(table, where="WHERE id BETWEEN :first AND :last")
    digest, count = hashlib.sha256(), 0
    for row in _stream(conn, query.bindparams(first=first_id, last=last_id)):
        digest.update(_canonical(row))
        count += 1
    return count, digest.hexdigest()


def record_rows(
    conn: sa.Connection, table: str, first_id: int, last_id: int, actor: str, action: str
) -> int:
    """Append a change entry for rows first_id..last_id of a covered table, just written in
    `conn`'s transaction (it commits or rolls back with them). Returns the entry's index."""
    if table not in COVERED:
        raise LedgerError(text("ledger.table_not_covered", table=table, tables=", ".join(COVERED)))
    if not 0 <= first_id <= last_id:
        raise LedgerError(text("ledger.range_invalid", first=first_id, last=last_id))
    _check_code("actor", actor)
    _check_code("action", action)
    count, digest = rows_digest(conn, table, first_id, last_id)
    row = (actor, action, "ok", None, None, table, first_id, last_id, count, digest, None)
    return _append(conn, [row], utc_now())[0].start


# --- keys ----------------------------------------------------------------------------------------


def _read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """A secret file, created 0600 on first use. Written aside and linked into place, so a
    concurrent first use reads either nothing or the whole key, and never overwrites one."""
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    aside = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(make())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
    finally:
        aside.unlink()
    return path.read_bytes()


def _load_signer(keys_dir: Path, origin: str | None) -> tlog.NoteSigner | None:
    """The checkpoint key; created (named `origin`) when asked to and absent."""
    path = keys_dir / _SIGNING_KEY
    try:
        if origin is None:
            if not path.exists():
                return None
            raw = path.read_bytes()
        else:
            name = origin
            raw = _read_or_create(
                path, lambda: tlog.NoteSigner.generate(name).key_string().encode()
            )
        return tlog.NoteSigner.from_key_string(raw.decode())
    except (UnicodeDecodeError, LedgerError) as e:
        raise LedgerError(text("ledger.key_damaged", name=path.name)) from e


class _SubjectHasher:
    """HMAC-SHA256 (RFC 2104) of subjects under one key, hex.

    The two padded key blocks are hashed once and their states copied per subject: 4× faster
    than `hmac.digest`, which re-derives them on every call, and a batch of 200,000 entries
    spends most of its Python time here.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:  # SHA-256's block; RFC 2104 hashes longer keys first
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __call__(self, subject: str) -> str:
        inner = self._inner.copy()
        inner.update(subject.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


# --- the ledger ----------------------------------------------------------------------------------


class Ledger:
    """The trail on a store. Keys live under `settings.keys_dir` and never reach the database."""

    def __init__(
        self, store: Store, settings: Settings | None = None, *, origin: str = DEFAULT_ORIGIN
    ) -> None:
        self.store = store
        self.keys_dir = (settings or Settings()).keys_dir
        self.origin = origin  # the checkpoint key's name, used only when the key is created
        self._signer: tlog.NoteSigner | None = None
        self._subject_hash: _SubjectHasher | None = None
        self._tip: _Tip | None = None

    def __repr__(self) -> str:
        return f"Ledger({self.store.engine.url.render_as_string(hide_password=True)!r})"

    # -- keys --

    def signer(self) -> tlog.NoteSigner:
        if self._signer is None:
            self._signer = _load_signer(self.keys_dir, self.origin)
            assert self._signer is not None
        return self._signer

    def verifier_key(self) -> str:
        """The verifier key string an auditor pins: ``name+hex(key id)+base64(0x01 ‖ key)``."""
        return self.signer().verifier.key_string()

    def _hasher(self) -> _SubjectHasher:
        if self._subject_hash is None:
            path = self.keys_dir / _SUBJECT_KEY
            raw = _read_or_create(path, lambda: base64.b64encode(secrets.token_bytes(32)))
            try:
                key = base64.b64decode(raw, validate=True)
            except ValueError as e:
                raise LedgerError(text("ledger.key_damaged", name=path.name)) from e
            if len(key) != 32:
                raise LedgerError(text("ledger.key_damaged", name=path.name))
            self._subject_hash = _SubjectHasher(key)
        return self._subject_hash

    def subject_hash(self, subject: str) -> str:
        """The keyed hash an entry stores instead of its subject."""
        return self._hasher()(subject)

    # -- appending --

    def _rows(self, events: Iterable[Event]) -> list[tuple[Any, ...]]:
        """Entry columns of events: codes checked (once per distinct combination), subjects
        hashed."""
        hasher = self._hasher()
        checked: set[tuple[str, str, str, str | None]] = set()
        rows: list[tuple[Any, ...]] = []
        for e in events:
            codes = (e.actor, e.action, e.outcome, e.purpose)
            if codes not in checked:
                _check_code("actor", e.actor)
                _check_code("action", e.action)
                _check_code("outcome", e.outcome)
                _check_code("purpose", e.purpose, required=False)
                checked.add(codes)
            subject = None if e.subject is None else hasher(e.subject)
            rows.append((e.actor, e.action, e.outcome, subject, e.purpose))
        return rows

    def append(
        self,
        actor: str,
        action: str,
        *,
        outcome: str = "ok",
        subject: str | None = None,
        purpose: str | None = None,
    ) -> int:
        """Append one entry; it is committed when this returns. Returns its index."""
        return self.append_many([Event(actor, action, outcome, subject, purpose)]).start

    def append_many(self, events: Iterable[Event], *, wait: bool = True) -> range:
        """Append entries in one transaction (all or none); returns their indexes. With
        `wait=False` a log locked by another writer fails at once (the database's error)
        instead of waiting for it: for callers that must not block, such as an event loop."""
        rows = self._rows(events)
        engine = self.store.engine if wait else self.store.no_wait_engine()
        with engine.begin() as conn:
            if not wait and conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL lock_timeout = '1ms'")  # 0 would mean no limit
            added, tip = _append(conn, rows, utc_now(), self._tip)
        self._tip = tip  # only once committed: a rolled-back append must not be remembered
        return added

    def record_fact_state(
        self,
        fact_id: int,
        disputed: bool,
        actor: str,
        purpose: str,
        conn: sa.Connection | None = None,
    ) -> int:
        """Append a fact's new `disputed` state. Pass the `conn` whose transaction updates the
        column, so that the two commit together; `verify` replays these entries."""
        _check_code("actor", actor)
        _check_code("purpose", purpose)
        state = "disputed" if disputed else "undisputed"
        change = ("facts", fact_id, fact_id, None, None, state)
        row = (actor, "fact_state", "ok", None, purpose, *change)
        if conn is not None:
            return _append(conn, [row], utc_now())[0].start
        with self.store.engine.begin() as own:
            return _append(own, [row], utc_now())[0].start

    # -- reading and proving --

    def head(self) -> TreeHead:
        """The current size and root (from the stored nodes)."""
        with self.store.engine.connect() as conn:
            size = _size(conn)
            return TreeHead(size, tlog.root_from_nodes(size, _fetcher(conn)))

    def _size_or(self, conn: sa.Connection, size: int | None) -> int:
        current = _size(conn)
        if size is None:
            return current
        if not 0 <= size <= current:
            raise LedgerError(text("ledger.index_out_of_range", index=size, size=current))
        return size

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of entry `index` in the tree of `size` (default: current)."""
        with self.store.engine.connect() as conn:
            n = self._size_or(conn, size)
            return tlog.inclusion_proof(index, n, _fetcher(conn))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from `old_size` to `new_size` (default: current)."""
        with self.store.engine.connect() as conn:
            n = self._size_or(conn, new_size)
            return tlog.consistency_proof(old_size, n, _fetcher(conn))

    def entry(self, index: int) -> Entry:
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(*_ENTRY_SELECT).where(_E.c.idx == index)).first()
            if row is None:
                raise LedgerError(text("ledger.index_out_of_range", index=index, size=_size(conn)))
            return _entry(row)

    def for_subject(
        self, subject: str, size: int | None = None, limit: int | None = None
    ) -> SubjectTrail:
        """A subject's entries ("who read my data, and why"), each with its inclusion proof;
        with `limit`, only the newest that many (newest first)."""
        h = self.subject_hash(subject)
        with self.store.engine.connect() as conn:
            n = self._size_or(conn, size)
            query = sa.select(*_ENTRY_SELECT).where(
                _E.c.subject_tag == subject_tag(h), _E.c.subject_hash == h, _E.c.idx < n
            )
            if limit is None:
                query = query.order_by(_E.c.idx)
            else:
                query = query.order_by(_E.c.idx.desc()).limit(limit)
            entries = [_entry(row) for row in conn.execute(query)]
            fetch = _fetcher(conn)
            wanted = list(
                dict.fromkeys(
                    ref for e in entries for group in tlog.inclusion_refs(e.idx, n) for ref in group
                )
            )
            wanted += tlog.peak_refs(n)
            cache = dict(zip(wanted, fetch(wanted), strict=True))

            def cached(refs: Sequence[tlog.NodeRef]) -> list[bytes]:
                return [cache[ref] for ref in refs]

            proven = [ProvenEntry(e, tlog.inclusion_proof(e.idx, n, cached)) for e in entries]
            return SubjectTrail(n, tlog.root_from_nodes(n, cached), proven)

    # -- checkpoints --

    def latest_checkpoint(self) -> str | None:
        """The newest signed checkpoint note, if any."""
        with self.store.engine.connect() as conn:
            return conn.scalar(sa.select(_C.c.note).order_by(_C.c.size.desc()).limit(1))

    def checkpoint(self) -> str:
        """Sign the current tree head and store it; returns the signed note.

        Refuses (LedgerError) unless the stored tree extends the last signed checkpoint (by a
        consistency proof from the stored nodes) and every entry appended since then still
        matches its leaf hash and the stored tree. A full audit is `verify`."""
        signer = self.signer()
        with self.store.engine.begin() as conn:
            _lock(conn)
            size = _size(conn)
            fetch = _fetcher(conn)
            old = tlog.Checkpoint(signer.name, 0, tlog.EMPTY_ROOT)
            last = conn.execute(
                sa.select(_C.c.size, _C.c.root, _C.c.note).order_by(_C.c.size.desc()).limit(1)
            ).first()
            try:
                root = tlog.root_from_nodes(size, fetch)
                if last is not None:
                    signed = _signed_head(last.note, [signer.verifier])
                    stored = (last.size, bytes(last.root))
                    if signed is None or (signed.size, signed.root) != stored:
                        raise LedgerError(text("ledger.note_unverified"))
                    old = signed
                proof = tlog.consistency_proof(old.size, size, fetch)
                if not tlog.verify_consistency(old.size, size, proof, old.root, root):
                    raise LedgerError(text("ledger.sizes_invalid", old=old.size, new=size))
                if last is not None and old.size == size:
                    return str(last.note)
                if _replay(conn, old, fetch) != root:
                    raise LedgerError(text("ledger.sizes_invalid", old=old.size, new=size))
            except LedgerError as e:
                signed_size = 0 if last is None else last.size
                raise LedgerError(text("ledger.inconsistent", size=size, old=signed_size)) from e
            note = tlog.sign_note(tlog.Checkpoint(signer.name, size, root).body(), signer)
            conn.execute(_C.insert().values(size=size, root=root, note=note, at=utc_now()))
        return note


def _replay(conn: sa.Connection, old: tlog.Checkpoint, fetch: tlog.Fetch) -> bytes | None:
    """The root of the tree grown from a signed head by the leaves recomputed from the entries
    appended since; None when an entry no longer matches its stored leaf hash."""
    frontier = tlog.Frontier(old.size, fetch(tlog.peak_refs(old.size)))
    if frontier.root() != old.root:
        return None
    query = sa.select(*_ENTRY_SELECT).where(_E.c.idx >= old.size).order_by(_E.c.idx)
    for row in _stream(conn, query):
        leaf = tlog.leaf_hash(leaf_data(*row[:-1]))
        if int(row.idx) != frontier.size or leaf != bytes(row.leaf_hash):
            return None
        frontier.append(leaf)
    return frontier.root()


def _signed_head(note: str, verifiers: Sequence[tlog.NoteVerifier]) -> tlog.Checkpoint | None:
    """The checkpoint in a signed note, or None when it does not verify."""
    try:
        return tlog.Checkpoint.parse(tlog.open_note(note, verifiers))
    except LedgerError:
        return None


def _entry(row: sa.Row[Any]) -> Entry:
    values = dict(row._mapping)
    values["leaf_hash"] = bytes(values["leaf_hash"])
    return Entry(**values)


# --- verification --------------------------------------------------------------------------------


class _Findings:
    """The first bad entry found so far and why."""

    def __init__(self) -> None:
        self.first: int | None = None
        self.reason: str | None = None

    def add(self, idx: int, reason: str) -> None:
        if self.first is None or idx < self.first:
            self.first, self.reason = idx, reason


@contextlib.contextmanager
def _snapshot(store: Store) -> Iterator[sa.Connection]:
    """One read-only snapshot for the whole verification, so concurrent writes cannot show up
    half-way (rows without their entry)."""
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


def _verify_tree(
    conn: sa.Connection, verifiers: Sequence[tlog.NoteVerifier], found: _Findings
) -> int:
    """Leaves from entry rows, nodes against the stored ones, roots against the checkpoints."""
    count = int(conn.scalar(sa.select(sa.func.count()).select_from(_E)) or 0)
    checkpoints: dict[int, bytes | None] = {}
    for size, root, note in conn.execute(sa.select(_C.c.size, _C.c.root, _C.c.note)):
        head = _signed_head(note, verifiers)
        ok = head is not None and (head.size, head.root) == (size, bytes(root))
        checkpoints[int(size)] = bytes(root) if ok else None
    if checkpoints and not verifiers:
        found.add(0, text("audit.no_verifier_key"))
        return count
    good = 0  # the size of the last checkpoint that matched
    if 0 in checkpoints and checkpoints[0] != tlog.EMPTY_ROOT:
        found.add(0, text("audit.checkpoint_bad", size=0))
        return count
    # Nodes in the order appending creates them: node (L, i) when leaf (i+1)·2^L − 1 arrives.
    created = (_N.c.idx + 1).op("<<")(_N.c.level)
    stored = _stream(conn, sa.select(created, _N.c.level, _N.c.hash).order_by(created, _N.c.level))
    pending = next(stored, None)
    frontier = tlog.Frontier()
    expected = 0
    query = sa.select(*_ENTRY_SELECT, _E.c.subject_tag).order_by(_E.c.idx)
    for row in _stream(conn, query):
        idx = int(row.idx)
        if idx != expected:
            found.add(expected, text("audit.entry_missing", idx=expected))
            return count
        leaf = tlog.leaf_hash(leaf_data(*row[:-2]))
        if leaf != bytes(row.leaf_hash):
            found.add(idx, text("audit.entry_altered", idx=idx))
            return count
        hashed = row.subject_hash
        if row.subject_tag != (None if hashed is None else subject_tag(hashed)):
            # A wrong tag would hide the entry from its subject's access log.
            found.add(idx, text("audit.entry_altered", idx=idx))
            return count
        for level, index, h in frontier.append(leaf):
            if level < _STORED:
                continue
            key = ((index + 1) << level, level)
            # A stored node that sorts before the expected one is extra, after it: missing.
            if pending is None or (pending[0], pending[1]) != key or bytes(pending[2]) != h:
                found.add(idx, text("audit.node_bad", level=level, index=index))
                return count
            pending = next(stored, None)
        expected += 1
        if expected in checkpoints:
            if checkpoints[expected] != frontier.root():
                found.add(good, text("audit.checkpoint_bad", size=expected))
                return count
            good = expected
    if pending is not None:
        level = int(pending[1])
        found.add(count, text("audit.node_bad", level=level, index=(pending[0] >> level) - 1))
    beyond = [size for size in checkpoints if size > expected]
    if beyond:
        found.add(good, text("audit.checkpoint_bad", size=min(beyond)))
    return count


def _change_ranges(
    conn: sa.Connection, table: str
) -> Iterator[tuple[int, int, int, int | None, str | None]]:
    query = (
        sa.select(_E.c.idx, _E.c.first_id, _E.c.last_id, _E.c.row_count, _E.c.rows_sha256)
        .where(_E.c.table_name == table, _E.c.rows_sha256.is_not(None))
        .order_by(_E.c.first_id, _E.c.idx)
    )
    for idx, first, last, count, digest in _stream(conn, query):
        yield int(idx), int(first), int(last), count, digest


def _verify_rows(conn: sa.Connection, table: str, entries: int, found: _Findings) -> None:
    """Each change entry's row count and hash against the table's rows now; every row covered;
    for facts, `disputed` as the state entries left it."""
    facts = table == "facts"
    states: dict[int, tuple[bool, int]] = {}
    if facts:
        replay = (
            sa.select(_E.c.idx, _E.c.first_id, _E.c.state)
            .where(_E.c.table_name == "facts", _E.c.state.is_not(None))
            .order_by(_E.c.idx)
        )
        for idx, fact_id, state in conn.execute(replay):
            states[int(fact_id)] = (state == "disputed", int(idx))
    query = _rows_query(table, *(["disputed"] if facts else []))
    width = len(COVERED[table])
    ranges = _change_ranges(conn, table)
    current = next(ranges, None)
    digest, count, covered_to = hashlib.sha256(), 0, -1

    def close(r: tuple[int, int, int, int | None, str | None]) -> None:
        idx, first, last, want_count, want_digest = r
        if first <= covered_to or count != want_count or digest.hexdigest() != want_digest:
            key = "audit.rows_overlap" if first <= covered_to else "audit.rows_changed"
            found.add(idx, text(key, idx=idx, table=table, first=first, last=last))

    for row in _stream(conn, query):
        row_id = int(row[0])
        while current is not None and current[2] < row_id:
            close(current)
            covered_to = max(covered_to, current[2])
            current = next(ranges, None)
            digest, count = hashlib.sha256(), 0
        if current is not None and current[1] <= row_id:
            digest.update(_canonical(row[:width]))
            count += 1
            owner = current[0]
        else:
            found.add(entries, text("audit.rows_uncovered", table=table, id=row_id))
            owner = entries
        if facts:
            disputed, by = states.get(row_id, (False, owner))
            if bool(row[width]) != disputed:
                found.add(by, text("audit.fact_state", id=row_id))
    while current is not None:
        close(current)
        covered_to = max(covered_to, current[2])
        current = next(ranges, None)
        digest, count = hashlib.sha256(), 0


def _verify_superseded(conn: sa.Connection, entries: int, found: _Findings) -> None:
    """superseded_at of each fact version against the later versions of its source record: set
    only to the recorded_at of a later version, and set whenever a later ingestion brought one.
    (Two versions in one file supersede nothing: ingestion compares with earlier files only.)"""
    firsts, lasts, owners = array("q"), array("q"), array("q")
    for idx, first, last, _count, _digest in _change_ranges(conn, "facts"):
        firsts.append(first)
        lasts.append(last)
        owners.append(idx)

    def owner(fact_id: int) -> int:
        at = bisect.bisect_right(firsts, fact_id) - 1
        return owners[at] if at >= 0 and lasts[at] >= fact_id else entries

    # Untyped like the rows: the times are compared, not read (SQLite text, PostgreSQL objects).
    query = sa.text(
        "SELECT source, record_key, id, recorded_at, superseded_at FROM facts"
        " ORDER BY source, record_key, id"
    )
    group: list[tuple[int, Any, Any]] = []
    key: tuple[str, str] | None = None

    def check(versions: list[tuple[int, Any, Any]]) -> None:
        later_times: set[Any] = set()
        later_owners: set[int] = set()
        for fact_id, recorded, superseded in reversed(versions):
            mine = owner(fact_id)
            if superseded is not None:
                bad = superseded not in later_times
            else:
                bad = bool(later_owners - {mine})
            if bad:
                found.add(mine, text("audit.superseded", id=fact_id))
            later_times.add(recorded)
            later_owners.add(mine)

    for source, record_key, fact_id, recorded, superseded in _stream(conn, query):
        if (source, record_key) != key:
            if group:
                check(group)
            key, group = (source, record_key), []
        group.append((int(fact_id), recorded, superseded))
    if group:
        check(group)


def verify(
    store: Store, settings: Settings | None = None, *, verifier_key: str | None = None
) -> dict[str, Any]:
    """Recompute the trail from the rows: every leaf from its entry, the tree against the stored
    nodes and every signed checkpoint, and each change entry against the covered table's rows.

    Checkpoint signatures are checked with `verifier_key` (an auditor pins it) or else the key
    under `settings.keys_dir`. `first_bad` is the first entry whose trail no longer holds (the
    number of entries when a covered row has no entry); docs/trail.md says how to read it.
    """
    if verifier_key is not None:
        verifiers = [tlog.NoteVerifier.from_key_string(verifier_key)]
    else:
        signer = _load_signer((settings or Settings()).keys_dir, None)
        verifiers = [] if signer is None else [signer.verifier]
    found = _Findings()
    with _snapshot(store) as conn:
        entries = _verify_tree(conn, verifiers, found)
        for table in COVERED:
            _verify_rows(conn, table, entries, found)
        _verify_superseded(conn, entries, found)
    return {
        "ok": found.first is None,
        "entries": entries,
        "covered_tables": [_E.name, _N.name, _C.name, *COVERED],
        "first_bad": found.first,
        "reason": found.reason,
    }
