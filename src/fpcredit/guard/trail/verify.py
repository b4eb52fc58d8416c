"""`verify`: recompute the trail from the rows and hold it against every signed checkpoint.

Checks, in one read-only snapshot of the store: every entry's leaf from its columns and its MAC,
the tree against the stored nodes, every signed checkpoint — of the database, of the checkpoint
file (signature, root, sizes never going backwards, none deleted from the database) and, when
asked, a witness's latest cosigned one — against the recomputed tree, and each change entry
against the covered table's rows. `seal` gives entries written before MACs their MACs, once they
verify. docs/trail.md says how to read a report.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import TrailError
from fpcredit.guard.keys import gm
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.checkpoints import CheckpointFile
from fpcredit.guard.trail.cosignature import CosignatureVerifier, timestamp_of
from fpcredit.guard.trail.covered import COVERED, Findings, verify_rows, verify_superseded
from fpcredit.guard.trail.entries import (
    ENTRY_SELECT,
    STORED,
    entry_leaf,
    fetcher,
    lock,
    snapshot,
    stream,
    subject_tag,
)
from fpcredit.guard.trail.keys import EntryMac, load_mac, load_signer
from fpcredit.guard.trail.seal import DIGESTED
from fpcredit.guard.trail.sealing import verify_digests, verify_results
from fpcredit.guard.trail.signed import Expect, Tally, expectations
from fpcredit.guard.trail.witness_client import fetch_latest
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["seal", "verify"]

_E = s.ledger_entries
_N = s.ledger_nodes
_C = s.ledger_checkpoints


# --- signed checkpoints --------------------------------------------------------------------------


@dataclass
class _Witnessed:
    url: str
    size: int | None = None
    timestamp: int | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "size": self.size,
            "cosigned_at": self.timestamp,
            "ok": self.reason is None,
            "reason": self.reason,
        }


def _witness(
    url: str, key: CosignatureVerifier, origin: str, verifiers: Sequence[tlog.Verifier]
) -> tuple[_Witnessed, Expect | None]:
    """The witness's latest cosigned checkpoint of our origin, both signatures checked, as an
    expectation."""
    seen = _Witnessed(url)
    try:
        note = fetch_latest(url, origin)
    except TrailError as e:
        seen.reason = text("audit.witness_unreachable", url=url, error=e)
        return seen, None
    if note is None:
        seen.reason = text("audit.witness_none", url=url, origin=origin)
        return seen, None
    try:
        head = tlog.Checkpoint.parse(tlog.open_note(note, [key]))
        tlog.open_note(note, verifiers)
        _body, lines = tlog.split_note(note)
    except TrailError:
        seen.reason = text("audit.witness_unverified", url=url)
        return seen, None
    if head.origin != origin:
        seen.reason = text("audit.witness_none", url=url, origin=origin)
        return seen, None
    stamps = [timestamp_of(b[4:]) for n, b, _ in lines if (n, b[:4]) == (key.name, key.key_id)]
    seen.size, seen.timestamp = head.size, max(stamps)
    reason = text("audit.witness_checkpoint_bad", url=url, size=head.size)
    return seen, (head.size, head.root, reason)


# --- the tree ------------------------------------------------------------------------------------


class _Expected:
    """The expectations not yet met, in size order; `good` is the last size that held."""

    def __init__(self, items: Iterator[Expect], found: Findings) -> None:
        self.items, self.found, self.good = items, found, 0
        self.next = next(items, None)

    def holds(self, size: int, root: bytes) -> bool:
        """Whether every expectation at `size` has `root`; else the first failing one is
        reported at the last size that held."""
        while self.next is not None and self.next[0] <= size:
            want, reason = self.next[1], self.next[2]
            self.next = next(self.items, None)
            if want != root:
                self.found.add(self.good, reason)
                return False
        self.good = size
        return True

    def beyond(self, size: int) -> None:
        """Expectations of trees larger than the log: entries were deleted."""
        largest = None
        while self.next is not None:
            largest = self.next[0]
            self.next = next(self.items, None)
        if largest is not None and largest > size:
            self.found.add(self.good, text("audit.checkpoint_beyond", size=largest, entries=size))


def _verify_tree(
    conn: sa.Connection,
    mac: EntryMac | None,
    expected: _Expected,
    found: Findings,
    unsealed_ok: bool = False,
) -> tuple[int, bytes]:
    """Leaves and MACs from entry rows, nodes against the stored ones, roots against every
    expected checkpoint. Returns the number of entries and the root of the tree they make."""
    count = int(conn.scalar(sa.select(sa.func.count()).select_from(_E)) or 0)
    frontier = tlog.Frontier()
    if count and mac is None:
        found.add(0, text("trail.mac_key_missing"))
        return count, frontier.root()
    if not expected.holds(0, tlog.EMPTY_ROOT):
        return count, frontier.root()
    # Nodes in the order appending creates them: node (L, i) when leaf (i+1)·2^L − 1 arrives.
    created = (_N.c.idx + 1).op("<<")(_N.c.level)
    stored = stream(conn, sa.select(created, _N.c.level, _N.c.hash).order_by(created, _N.c.level))
    pending = next(stored, None)
    size = 0
    query = sa.select(*ENTRY_SELECT, _E.c.subject_tag).order_by(_E.c.idx)
    for row in stream(conn, query):
        idx = int(row.idx)
        if idx != size:
            found.add(size, text("audit.entry_missing", idx=size))
            return count, frontier.root()
        reason = _entry_problem(row, mac, unsealed_ok)
        if reason is not None:
            found.add(idx, reason)
            return count, frontier.root()
        for level, index, h in frontier.append(bytes(row.leaf_hash)):
            if level < STORED:
                continue
            key = ((index + 1) << level, level)
            # A stored node that sorts before the expected one is extra, after it: missing.
            if pending is None or (pending[0], pending[1]) != key or bytes(pending[2]) != h:
                found.add(idx, text("audit.node_bad", level=level, index=index))
                return count, frontier.root()
            pending = next(stored, None)
        size += 1
        due = expected.next is not None and expected.next[0] == size
        if due and not expected.holds(size, frontier.root()):
            return count, frontier.root()
    if pending is not None:
        level = int(pending[1])
        found.add(count, text("audit.node_bad", level=level, index=(pending[0] >> level) - 1))
    expected.beyond(size)
    return count, frontier.root()


def _entry_problem(row: Any, mac: EntryMac | None, unsealed_ok: bool) -> str | None:
    """Why an entry row does not hold (leaf, subject tag, MAC), or None."""
    idx = int(row.idx)
    leaf = entry_leaf(row)
    if leaf != bytes(row.leaf_hash):
        return text("audit.entry_altered", idx=idx)
    hashed = row.subject_hash
    if row.subject_tag != (None if hashed is None else subject_tag(hashed)):
        # A wrong tag would hide the entry from its subject's access log.
        return text("audit.entry_altered", idx=idx)
    if row.mac is None:
        return None if unsealed_ok else text("audit.mac_missing", idx=idx)
    assert mac is not None
    if mac(leaf) != bytes(row.mac):
        return text("audit.mac_bad", idx=idx)
    return None


# --- the whole check -----------------------------------------------------------------------------


@dataclass
class _Keys:
    verifiers: list[tlog.Verifier]
    mac: EntryMac | None
    origin: str | None
    witnesses: dict[str, CosignatureVerifier]


def _keys(
    settings: Settings, verifier_key: str | None, witness: str | None, witness_key: str | None
) -> _Keys:
    if verifier_key is not None:
        pinned = tlog.NoteVerifier.from_key_string(verifier_key)
        verifiers: list[tlog.Verifier] = [pinned]
        origin: str | None = pinned.name
    else:
        signer = load_signer(settings.keys_dir, None)
        verifiers = [] if signer is None else [signer.verifier]
        # A 国密 store's SM2 lines are checked too: a known key's bad signature fails the note.
        verifiers += gm.checkpoint_verifiers(settings.keys_dir)
        origin = None if signer is None else signer.name
    witnesses = {
        w.url.rstrip("/"): CosignatureVerifier.from_key_string(w.key) for w in settings.witnesses
    }
    if witness is not None and witness_key is not None:
        witnesses[witness.rstrip("/")] = CosignatureVerifier.from_key_string(witness_key)
    return _Keys(verifiers, load_mac(settings.keys_dir, create=False), origin, witnesses)


def _run(
    store: Store,
    settings: Settings,
    keys: _Keys,
    witness: str | None,
    unsealed_ok: bool = False,
) -> tuple[dict[str, Any], int, bytes]:
    found, tally = Findings(), Tally()
    seen: _Witnessed | None = None
    witnessed: Expect | None = None
    # The witness first, then the file (up to its length now), then the database: each was
    # written before the next is read, so none holds a checkpoint the next cannot show.
    if witness is not None:
        url = witness.rstrip("/")
        if url not in keys.witnesses:
            raise TrailError(text("audit.witness_key_missing", url=url))
        seen, witnessed = _witness(url, keys.witnesses[url], keys.origin or "", keys.verifiers)
    file = CheckpointFile(settings.home / "trail")
    lines = file.lines(file.end())
    with snapshot(store) as conn:
        items = expectations(conn, lines, keys.verifiers, keys.witnesses, witnessed, tally, found)
        expected = _Expected(items, found)
        count, root = _verify_tree(conn, keys.mac, expected, found, unsealed_ok)
        collections.deque(expected.items, maxlen=0)  # the rest of the file is still checked
        for table in COVERED:
            verify_rows(conn, table, count, found)
        verify_superseded(conn, count, found)
    # The digested tables are read in bulk, outside the snapshot (guard/trail/sealing.py says how a
    # concurrent writer is told apart from a change behind the platform's back).
    drifts = verify_digests(store, settings.keys_dir, count)
    for drift in [*drifts, *verify_results(store, settings.home, count)]:
        found.add(drift.entry, drift.reason)
    if (tally.database or tally.file) and not keys.verifiers:
        found.add(0, text("audit.no_verifier_key"))
    if witnessed is not None and not tally.witnessed_in_file:
        # What the witness holds came from our file: the file lost lines, or was replaced.
        lost = text("audit.witness_not_in_file", size=witnessed[0])
        found.add(min(expected.good, witnessed[0]), lost)
    # A witness that could not be asked, or answered nothing usable, fails the check too.
    witness_problem = None if seen is None else seen.reason
    report = {
        "ok": found.first is None and witness_problem is None,
        "entries": count,
        "covered_tables": [_E.name, _N.name, _C.name, *COVERED, *DIGESTED, "sessions"],
        "first_bad": found.first,
        "reason": found.reason or witness_problem,
        "checkpoints": {
            "database": tally.database,
            "file": tally.file,
            "cosignatures": tally.cosignatures,
            "newest": tally.newest,
        },
        "witness": None if seen is None else seen.as_json(),
    }
    return report, count, root


def verify(
    store: Store,
    settings: Settings | None = None,
    *,
    verifier_key: str | None = None,
    witness: str | None = None,
    witness_key: str | None = None,
) -> dict[str, Any]:
    """Recompute the trail from the rows and hold it against every signed checkpoint.

    Checkpoint signatures are checked with `verifier_key` (an auditor pins it) or else the key
    under `settings.keys_dir`; entry MACs with the MAC key there. With `witness` (a URL), its
    latest cosigned checkpoint of this log is fetched, its cosignature checked with
    `witness_key` (or the key listed for it in `settings.witnesses`), and the tree must have its
    root at its size. `first_bad` is the first entry whose trail no longer holds (the number of
    entries when a covered row has no entry); docs/trail.md says how to read it.
    """
    settings = settings or Settings()
    keys = _keys(settings, verifier_key, witness, witness_key)
    return _run(store, settings, keys, witness)[0]


def seal(store: Store, settings: Settings) -> int:
    """Give their MACs to the entries written before entries had them — only once everything
    verifies (TrailError otherwise, and nothing is written). Returns how many were sealed."""
    with store.engine.connect() as conn:
        unsealed = int(conn.scalar(sa.select(sa.func.count()).where(_E.c.mac.is_(None))) or 0)
    if not unsealed:
        return 0
    keys = _keys(settings, None, None, None)
    keys.mac = load_mac(settings.keys_dir)
    report, size, root = _run(store, settings, keys, None, unsealed_ok=True)
    if not report["ok"]:
        raise TrailError(text("trail.seal_refused", count=unsealed, reason=report["reason"]))
    assert keys.mac is not None
    return _write_macs(store, keys.mac, size, root)


def _write_macs(store: Store, mac: EntryMac, size: int, root: bytes) -> int:
    """MACs for the unsealed entries of the verified tree of `size` with `root`, each leaf
    recomputed once more under the write lock (nothing may have changed since)."""
    sealed = 0
    with store.engine.begin() as conn:
        lock(conn)
        if tlog.root_from_nodes(size, fetcher(conn)) != root:
            raise TrailError(text("trail.inconsistent", size=size, old=size))
        query = sa.select(*ENTRY_SELECT).where(_E.c.mac.is_(None), _E.c.idx < size)
        batch: list[dict[str, Any]] = []
        update = _E.update().where(_E.c.idx == sa.bindparam("i")).values(mac=sa.bindparam("m"))
        for row in list(conn.execute(query)):
            leaf = entry_leaf(row)
            if leaf != bytes(row.leaf_hash):
                raise TrailError(text("audit.entry_altered", idx=row.idx))
            batch.append({"i": int(row.idx), "m": mac(leaf)})
            if len(batch) == 10_000:
                conn.execute(update, batch)
                sealed, batch = sealed + len(batch), []
        if batch:
            conn.execute(update, batch)
            sealed += len(batch)
    return sealed
