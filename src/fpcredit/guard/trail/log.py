"""The tamper-evident trail (SPEC R30): entries in an RFC 9162 Merkle tree on the store.

Every access to personal data and every bulk change of a covered table (``records``, ``facts``)
appends an entry (guard/trail/entries.py), with a MAC under a key outside the database;
`Trail.checkpoint` signs the tree head as a C2SP checkpoint and appends it to a file outside the
database (guard/trail/checkpoints.py); `verify` (guard/trail/verify.py) recomputes everything
from the rows.
Entries hold codes and hashes only: the subject is an HMAC under a key in the keys folder, a
change entry the SHA-256 of the rows it covers (guard/trail/covered.py). docs/trail.md describes the
formats an auditor needs.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import TrailError
from fpcredit.guard.keys import gm
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.covered import COVERED, rows_digest
from fpcredit.guard.trail.entries import (
    ENTRY_SELECT,
    LEAF_FORMAT,
    Entry,
    Event,
    ProvenEntry,
    SubjectTrail,
    Tip,
    TreeHead,
    append_rows,
    appended_here,
    check_code,
    fetcher,
    leaf_data,
    size_of,
    subject_tag,
    to_entry,
)
from fpcredit.guard.trail.keys import (
    EntryMac,
    SubjectHasher,
    load_mac,
    load_signer,
    load_subject_hasher,
)
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = [
    "COVERED",
    "DEFAULT_ORIGIN",
    "LEAF_FORMAT",
    "Entry",
    "Event",
    "ProvenEntry",
    "SubjectTrail",
    "Trail",
    "TreeHead",
    "appended_here",
    "leaf_data",
    "record_rows",
    "rows_digest",
]

DEFAULT_ORIGIN: Final = "fpcredit/trail"
# How many of its latest appends' tree sizes a trail vouches for (`Trail.vouches`).
_VOUCHED_SIZES: Final = 4096
_E = s.ledger_entries


def record_rows(
    conn: sa.Connection,
    table: str,
    first_id: int,
    last_id: int,
    actor: str,
    action: str,
    *,
    keys_dir: Path | None,
) -> int:
    """Append a change entry for rows first_id..last_id of a covered table, just written in
    `conn`'s transaction (it commits or rolls back with them). Returns the entry's index.
    `keys_dir` holds the trail's MAC key (the vault's folder)."""
    if table not in COVERED:
        raise TrailError(text("trail.table_not_covered", table=table, tables=", ".join(COVERED)))
    if not 0 <= first_id <= last_id:
        raise TrailError(text("trail.range_invalid", first=first_id, last=last_id))
    check_code("actor", actor)
    check_code("action", action)
    if keys_dir is None:
        raise TrailError(text("trail.mac_key_missing"))
    mac = load_mac(keys_dir)
    assert mac is not None
    count, digest = rows_digest(conn, table, first_id, last_id)
    row = (actor, action, "ok", None, None, table, first_id, last_id, count, digest, None)
    return append_rows(conn, [row], utc_now(), mac)[0].start


# --- the trail ----------------------------------------------------------------------------------


class Trail:
    """The trail on a store. Keys live under `settings.keys_dir` and never reach the database;
    signed checkpoints are also appended to `settings.home`/trail/checkpoints."""

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        *,
        origin: str = DEFAULT_ORIGIN,
        extra_signers: Sequence[tlog.Signer] = (),
    ) -> None:
        settings = settings or Settings()
        self.store = store
        self.settings = settings
        self.keys_dir = settings.keys_dir
        self.trail_dir = settings.home / "trail"
        self.origin = origin  # the checkpoint key's name, used only when the key is created
        # More signature lines on every checkpoint (an SM2 key, say); the Ed25519 key signs first.
        self.extra_signers = list(extra_signers)
        # Called with the number of entries after each commit of this trail (the checkpointer).
        self.listeners: list[Callable[[int], None]] = []
        self._signer: tlog.NoteSigner | None = None
        self._subject_hash: SubjectHasher | None = None
        self._mac: EntryMac | None = None
        self._tip: Tip | None = None
        # Where this process's run of appends began (entries from there on it appended back to
        # back, nobody else between them), and the roots its latest appends grew the tree to,
        # by size (`vouches`).
        self._own_start: int | None = None
        self._own_roots: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        # The connection `append_many(wait=False)` keeps, by thread (`_append_now`).
        self._kept: dict[int, sa.Connection] = {}

    def __repr__(self) -> str:
        return f"Trail({self.store.engine.url.render_as_string(hide_password=True)!r})"

    # -- keys --

    def signer(self) -> tlog.NoteSigner:
        if self._signer is None:
            self._signer = load_signer(self.keys_dir, self.origin)
            assert self._signer is not None
        return self._signer

    def signers(self) -> list[tlog.Signer]:
        """Every key that signs a checkpoint: the Ed25519 checkpoint key first, then, while the
        store's keyring is in the 国密 profile, its SM2 key (GB/T 39786: a second line that
        Ed25519-only verifiers ignore as an unknown key), then any extra signer."""
        ed25519 = self.signer()
        sm2 = gm.checkpoint_signers(self.keys_dir, ed25519.name)
        return [ed25519, *sm2, *self.extra_signers]

    def verifier_key(self) -> str:
        """The verifier key string an auditor pins: ``name+hex(key id)+base64(0x01 ‖ key)``."""
        return self.signer().verifier.key_string()

    def entry_mac(self) -> EntryMac:
        if self._mac is None:
            self._mac = load_mac(self.keys_dir)
        assert self._mac is not None
        return self._mac

    def subject_hash(self, subject: str) -> str:
        """The keyed hash an entry stores instead of its subject."""
        if self._subject_hash is None:
            self._subject_hash = load_subject_hasher(self.keys_dir)
        return self._subject_hash(subject)

    # -- appending --

    def _rows(self, events: Iterable[Event]) -> list[tuple[Any, ...]]:
        """Entry columns of events: codes checked (once per distinct combination), subjects
        hashed (HMAC-SHA256 under the subject key, inlined: 200k of them in a batch)."""
        if self._subject_hash is None:
            self._subject_hash = load_subject_hasher(self.keys_dir)
        inner, outer = self._subject_hash.inner, self._subject_hash.outer
        checked: set[tuple[str, str, str, str | None]] = set()
        addresses: set[str | None] = {None}
        rows: list[tuple[Any, ...]] = []
        last: Event | None = None
        for e in events:
            # Events of a batch mostly share their codes: the same objects need no lookup.
            if last is None or not (
                e.actor is last.actor
                and e.action is last.action
                and e.outcome is last.outcome
                and e.purpose is last.purpose
            ):
                self._check_codes(e, checked)
            if e.address not in addresses:
                check_code("address", e.address)
                addresses.add(e.address)
            last = e
            if e.subject is None:
                subject = None
            else:
                h = inner.copy()
                h.update(e.subject.encode())
                o = outer.copy()
                o.update(h.digest())
                subject = o.hexdigest()
            rows.append((e.actor, e.action, e.outcome, subject, e.purpose, e.address))
        return rows

    @staticmethod
    def _check_codes(e: Event, checked: set[tuple[str, str, str, str | None]]) -> None:
        codes = (e.actor, e.action, e.outcome, e.purpose)
        if codes not in checked:
            check_code("actor", e.actor)
            check_code("action", e.action)
            check_code("outcome", e.outcome)
            check_code("purpose", e.purpose, required=False)
            checked.add(codes)

    def append(
        self,
        actor: str,
        action: str,
        *,
        outcome: str = "ok",
        subject: str | None = None,
        purpose: str | None = None,
        address: str | None = None,
    ) -> int:
        """Append one entry; it is committed when this returns. Returns its index."""
        return self.append_many([Event(actor, action, outcome, subject, purpose, address)]).start

    def append_many(self, events: Iterable[Event], *, wait: bool = True) -> range:
        """Append entries in one transaction (all or none); returns their indexes. With
        `wait=False` a log locked by another writer fails at once (the database's error)
        instead of waiting for it: for callers that must not block, such as an event loop."""
        rows = self._rows(events)
        mac = self.entry_mac()
        if wait:
            with self.store.engine.begin() as conn:
                added, tip = append_rows(conn, rows, utc_now(), mac, self._tip)
        else:
            added, tip = self._append_now(rows, mac)
        before = self._tip
        self._tip = tip  # only once committed: a rolled-back append must not be remembered
        self._remember(added, before, tip)
        self._appended(len(added))
        return added

    def _remember(self, added: range, before: Tip | None, tip: Tip) -> None:
        """Note the tree this append grew, continuing the run when it began where the last one
        ended (nobody else's entries between them), starting a new run otherwise."""
        roots = self._own_roots
        last = next(reversed(roots)) if roots else None
        if last is None or before is None or not (last == added.start == before[0].size):
            roots.clear()
            self._own_start = added.start
        roots[added.stop] = tip[0].root()
        while len(roots) > _VOUCHED_SIZES:
            roots.popitem(last=False)

    def vouches(self, start: int, end: int, root: bytes) -> bool:
        """Whether this process appended every entry from `start` to `end` itself, one batch
        after the other with nobody else's between, and they grew the tree to `root`: their
        leaves and MACs are the ones it computed (a checkpoint need not read them back).

        `end` may be any of its latest appends' sizes, not only the last: a checkpoint reads
        the tree from a snapshot while appends go on, and under load one lands in between
        nearly every time (reading back its thousand entries then cost the server a tenth of
        its time)."""
        own = self._own_start
        return own is not None and own <= start and self._own_roots.get(end) == root

    def _append_now(self, rows: list[tuple[Any, ...]], mac: EntryMac) -> tuple[range, Tip]:
        """`append_many(wait=False)`: through a connection this thread keeps (an event loop
        appends every few milliseconds; taking one from the pool each time cost a tenth of a
        batch), in a transaction that fails at once when the log is locked."""
        me = threading.get_ident()
        conn = self._kept.get(me)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._kept[me] = self.store.no_wait_engine().connect()
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL lock_timeout = '1ms'")  # 0: no limit
                return append_rows(conn, rows, utc_now(), mac, self._tip)
        except Exception:
            self._kept.pop(me, None)  # a fresh connection next time, whatever went wrong
            conn.close()
            raise

    def close(self) -> None:
        """Give back the connections kept for `append_many(wait=False)`."""
        while self._kept:
            _thread, conn = self._kept.popitem()
            with contextlib.suppress(Exception):  # already gone with its engine: nothing to do
                conn.close()

    def _appended(self, count: int) -> None:
        for listener in self.listeners:
            listener(count)

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
        check_code("actor", actor)
        check_code("purpose", purpose)
        state = "disputed" if disputed else "undisputed"
        change = ("facts", fact_id, fact_id, None, None, state)
        row = (actor, "fact_state", "ok", None, purpose, *change)
        if conn is not None:
            index = append_rows(conn, [row], utc_now(), self.entry_mac())[0].start
        else:
            with self.store.engine.begin() as own:
                index = append_rows(own, [row], utc_now(), self.entry_mac())[0].start
        self._appended(1)
        return index

    # -- reading and proving --

    def size(self) -> int:
        """The number of entries."""
        with self.store.engine.connect() as conn:
            return size_of(conn)

    def head(self) -> TreeHead:
        """The current size and root (from the stored nodes)."""
        with self.store.engine.connect() as conn:
            size = size_of(conn)
            return TreeHead(size, tlog.root_from_nodes(size, fetcher(conn)))

    def _size_or(self, conn: sa.Connection, size: int | None) -> int:
        current = size_of(conn)
        if size is None:
            return current
        if not 0 <= size <= current:
            raise TrailError(text("trail.index_out_of_range", index=size, size=current))
        return size

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of entry `index` in the tree of `size` (default: current)."""
        with self.store.engine.connect() as conn:
            n = self._size_or(conn, size)
            return tlog.inclusion_proof(index, n, fetcher(conn))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from `old_size` to `new_size` (default: current)."""
        with self.store.engine.connect() as conn:
            n = self._size_or(conn, new_size)
            return tlog.consistency_proof(old_size, n, fetcher(conn))

    def entry(self, index: int) -> Entry:
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(*ENTRY_SELECT).where(_E.c.idx == index)).first()
            if row is None:
                size = size_of(conn)
                raise TrailError(text("trail.index_out_of_range", index=index, size=size))
            return to_entry(row)

    def for_subject(
        self, subject: str, size: int | None = None, limit: int | None = None
    ) -> SubjectTrail:
        """A subject's entries ("who read my data, and why"), each with its inclusion proof;
        with `limit`, only the newest that many (newest first)."""
        h = self.subject_hash(subject)
        with self.store.engine.connect() as conn:
            n = self._size_or(conn, size)
            query = sa.select(*ENTRY_SELECT).where(
                _E.c.subject_tag == subject_tag(h), _E.c.subject_hash == h, _E.c.idx < n
            )
            if limit is None:
                query = query.order_by(_E.c.idx)
            else:
                query = query.order_by(_E.c.idx.desc()).limit(limit)
            entries = [to_entry(row) for row in conn.execute(query)]
            fetch = fetcher(conn)
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

    # -- checkpoints (guard/trail/checkpoints.py) --

    def latest_checkpoint(self) -> str | None:
        """The newest signed checkpoint note (from the checkpoint file or the database)."""
        from fpcredit.guard.trail.checkpoints import latest

        return latest(self)

    def checkpoint(self) -> str:
        """Sign the current tree head, append it to the checkpoint file and the database, and
        return the signed note; refuses (TrailError) unless the tree extends every checkpoint
        signed before (guard/trail/checkpoints.py `sign`)."""
        from fpcredit.guard.trail.checkpoints import sign

        return sign(self)
