"""`verify`: recompute the trail from the rows and hold it against every signed checkpoint.

Checks, in one read-only snapshot of the store: every entry's leaf from its columns and its MAC,
the tree against the stored nodes, every signed checkpoint — of the database, of the checkpoint
file (signature, root, sizes never going backwards, none deleted from the database) and, when
asked, a witness's latest cosigned one — against the recomputed tree, and each change entry
against the covered table's rows. `seal` gives entries written before MACs their MACs, once they
verify. docs/trail.md says how to read a report.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import LedgerError
from fpcredit.guard import tlog
from fpcredit.guard.checkpoints import CheckpointFile, Line
from fpcredit.guard.cosignature import CosignatureVerifier, timestamp_of
from fpcredit.guard.covered import COVERED, Findings, verify_rows, verify_superseded
from fpcredit.guard.entries import (
    ENTRY_SELECT,
    STORED,
    entry_leaf,
    fetcher,
    lock,
    stream,
    subject_tag,
)
from fpcredit.guard.trailkeys import EntryMac, load_mac, load_signer
from fpcredit.guard.witness_client import fetch_latest
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["seal", "verify"]

_E = s.ledger_entries
_N = s.ledger_nodes
_C = s.ledger_checkpoints


@dataclass
class _Expected:
    """Roots the tree must have at given sizes, each with what to say when it has not (None:
    a checkpoint that cannot hold, e.g. a bad signature or one deleted from the database)."""

    roots: defaultdict[int, list[tuple[bytes | None, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(self, size: int, root: bytes | None, reason: str) -> None:
        self.roots[size].append((root, reason))


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


# --- signed checkpoints --------------------------------------------------------------------------


def _db_checkpoints(
    conn: sa.Connection, verifiers: Sequence[tlog.Verifier], expected: _Expected
) -> dict[int, bytes]:
    """The database's checkpoints, by size (root None when the note does not verify)."""
    sizes: dict[int, bytes] = {}
    for size, root, note in conn.execute(sa.select(_C.c.size, _C.c.root, _C.c.note)):
        line = Line("checkpoint", int(size), bytes(root), str(note), "")
        ok = line.head(verifiers) is not None
        expected.add(line.size, line.root if ok else None, text("audit.checkpoint_bad", size=size))
        sizes[line.size] = line.root
    return sizes


@dataclass
class _FileReport:
    checkpoints: int = 0
    cosignatures: int = 0
    newest: int | None = None
    heads: set[tuple[int, bytes]] = field(default_factory=set)


def _file_checkpoints(
    lines: Sequence[Line | LedgerError],
    verifiers: Sequence[tlog.Verifier],
    witnesses: dict[str, CosignatureVerifier],
    expected: _Expected,
    found: Findings,
) -> _FileReport:
    """Each line of the checkpoint file: signed by the log (and by its witness when its key is
    pinned), sizes never going backwards; each becomes a root the tree must have."""
    report = _FileReport()
    before = 0  # the largest size signed so far
    for line in lines:
        if isinstance(line, LedgerError):
            found.add(before, str(line))
            continue
        cosigner = witnesses.get(line.witness or "") if line.kind == "cosignature" else None
        report.cosignatures += line.kind == "cosignature"
        report.checkpoints += line.kind == "checkpoint"
        reason = text("audit.file_checkpoint_bad", line=line.number, size=line.size)
        good = line.head(verifiers) is not None
        if good and cosigner is not None:
            good = _opens(line.note, cosigner)
        expected.add(line.size, line.root if good else None, reason)
        if line.size < before:
            back = text("audit.file_backwards", line=line.number, size=line.size, before=before)
            found.add(line.size, back)
        before = max(before, line.size)
        if line.kind == "checkpoint":
            report.heads.add((line.size, line.root))
            report.newest = before
    return report


def _opens(note: str, key: tlog.Verifier) -> bool:
    try:
        tlog.open_note(note, [key])
    except LedgerError:
        return False
    return True


def _deleted(db: dict[int, bytes], file: _FileReport, expected: _Expected) -> None:
    """A checkpoint of the file must be in the database: the log writes it there first."""
    for size, root in sorted(file.heads):
        if db.get(size) != root:
            expected.add(size, None, text("audit.checkpoint_deleted", size=size))


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
) -> tuple[_Witnessed, tlog.Checkpoint | None]:
    """The witness's latest cosigned checkpoint of our origin, both signatures checked."""
    seen = _Witnessed(url)
    try:
        note = fetch_latest(url, origin)
    except LedgerError as e:
        seen.reason = text("audit.witness_unreachable", url=url, error=e)
        return seen, None
    if note is None:
        seen.reason = text("audit.witness_none", url=url, origin=origin)
        return seen, None
    try:
        head = tlog.Checkpoint.parse(tlog.open_note(note, [key]))
        tlog.open_note(note, verifiers)
        _body, lines = tlog.split_note(note)
    except LedgerError:
        seen.reason = text("audit.witness_unverified", url=url)
        return seen, None
    if head.origin != origin:
        seen.reason = text("audit.witness_none", url=url, origin=origin)
        return seen, None
    stamps = [timestamp_of(b[4:]) for n, b, _ in lines if (n, b[:4]) == (key.name, key.key_id)]
    seen.size, seen.timestamp = head.size, max(stamps)
    return seen, head


# --- the tree ------------------------------------------------------------------------------------


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
    good = 0  # the size of the last checkpoint that matched
    if not _holds(expected, 0, tlog.EMPTY_ROOT, good, found):
        return count, frontier.root()
    # Nodes in the order appending creates them: node (L, i) when leaf (i+1)·2^L − 1 arrives.
    created = (_N.c.idx + 1).op("<<")(_N.c.level)
    stored = stream(conn, sa.select(created, _N.c.level, _N.c.hash).order_by(created, _N.c.level))
    pending = next(stored, None)
    expected_idx = 0
    query = sa.select(*ENTRY_SELECT, _E.c.subject_tag).order_by(_E.c.idx)
    for row in stream(conn, query):
        idx = int(row.idx)
        if idx != expected_idx:
            found.add(expected_idx, text("audit.entry_missing", idx=expected_idx))
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
        expected_idx += 1
        if expected_idx in expected.roots:
            if not _holds(expected, expected_idx, frontier.root(), good, found):
                return count, frontier.root()
            good = expected_idx
    if pending is not None:
        level = int(pending[1])
        found.add(count, text("audit.node_bad", level=level, index=(pending[0] >> level) - 1))
    beyond = sorted(size for size in expected.roots if size > expected_idx)
    if beyond:
        found.add(good, text("audit.checkpoint_beyond", size=beyond[-1], entries=expected_idx))
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


def _holds(expected: _Expected, size: int, root: bytes, good: int, found: Findings) -> bool:
    """Whether every checkpoint expected at `size` has `root`; else the first failing one is
    reported at `good`, the last size that held."""
    for want, reason in expected.roots.get(size, ()):
        if want != root:
            found.add(good, reason)
            return False
    return True


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
    found, expected = Findings(), _Expected()
    seen: _Witnessed | None = None
    # The witness first, then the file, then the database: each was written before the next
    # is read, so none can hold a checkpoint of entries the next one does not show.
    witnessed: tlog.Checkpoint | None = None
    if witness is not None:
        url = witness.rstrip("/")
        if url not in keys.witnesses:
            raise LedgerError(text("audit.witness_key_missing", url=url))
        seen, witnessed = _witness(url, keys.witnesses[url], keys.origin or "", keys.verifiers)
    lines = list(CheckpointFile(settings.home / "trail").lines())
    with _snapshot(store) as conn:
        in_db = _db_checkpoints(conn, keys.verifiers, expected)
        if (in_db or lines) and not keys.verifiers:
            found.add(0, text("audit.no_verifier_key"))
        file = _file_checkpoints(lines, keys.verifiers, keys.witnesses, expected, found)
        _deleted(in_db, file, expected)
        if witnessed is not None and seen is not None:
            head = (witnessed.size, witnessed.root)
            expected.add(*head, text("audit.witness_checkpoint_bad", url=seen.url, size=head[0]))
            if head not in file.heads:
                expected.add(head[0], None, text("audit.witness_not_in_file", size=head[0]))
        count, root = _verify_tree(conn, keys.mac, expected, found, unsealed_ok)
        for table in COVERED:
            verify_rows(conn, table, count, found)
        verify_superseded(conn, count, found)
    # A witness that could not be asked, or answered nothing usable, fails the check too.
    witness_problem = None if seen is None else seen.reason
    report = {
        "ok": found.first is None and witness_problem is None,
        "entries": count,
        "covered_tables": [_E.name, _N.name, _C.name, *COVERED],
        "first_bad": found.first,
        "reason": found.reason or witness_problem,
        "checkpoints": {
            "database": len(in_db),
            "file": file.checkpoints,
            "cosignatures": file.cosignatures,
            "newest": file.newest,
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
    verifies (LedgerError otherwise, and nothing is written). Returns how many were sealed."""
    with store.engine.connect() as conn:
        unsealed = int(conn.scalar(sa.select(sa.func.count()).where(_E.c.mac.is_(None))) or 0)
    if not unsealed:
        return 0
    keys = _keys(settings, None, None, None)
    keys.mac = load_mac(settings.keys_dir)
    report, size, root = _run(store, settings, keys, None, unsealed_ok=True)
    if not report["ok"]:
        raise LedgerError(text("trail.seal_refused", count=unsealed, reason=report["reason"]))
    assert keys.mac is not None
    return _write_macs(store, keys.mac, size, root)


def _write_macs(store: Store, mac: EntryMac, size: int, root: bytes) -> int:
    """MACs for the unsealed entries of the verified tree of `size` with `root`, each leaf
    recomputed once more under the write lock (nothing may have changed since)."""
    sealed = 0
    with store.engine.begin() as conn:
        lock(conn)
        if tlog.root_from_nodes(size, fetcher(conn)) != root:
            raise LedgerError(text("ledger.inconsistent", size=size, old=size))
        query = sa.select(*ENTRY_SELECT).where(_E.c.mac.is_(None), _E.c.idx < size)
        batch: list[dict[str, Any]] = []
        update = _E.update().where(_E.c.idx == sa.bindparam("i")).values(mac=sa.bindparam("m"))
        for row in list(conn.execute(query)):
            leaf = entry_leaf(row)
            if leaf != bytes(row.leaf_hash):
                raise LedgerError(text("audit.entry_altered", idx=row.idx))
            batch.append({"i": int(row.idx), "m": mac(leaf)})
            if len(batch) == 10_000:
                conn.execute(update, batch)
                sealed, batch = sealed + len(batch), []
        if batch:
            conn.execute(update, batch)
            sealed += len(batch)
    return sealed
