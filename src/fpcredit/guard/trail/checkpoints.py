"""Signed checkpoints of the trail, kept outside the database and signed often.

Every checkpoint the log signs is appended (fsynced) to ``FPCREDIT_HOME/trail/checkpoints``, one
JSON line each, once its copy in ``ledger_checkpoints`` has committed. Before signing, the log
checks that the stored tree extends the last checkpoint of the FILE and of the database (a
consistency proof from the stored nodes, and every entry since then recomputed, its MAC
included); otherwise it refuses, logs at CRITICAL and signs nothing — so a log that lost
entries can never sign a smaller or forked tree. Witnesses' cosignatures are appended as lines
of their own.

The service signs in the background: `guard/trail/checkpointer.py`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import sqlalchemy as sa

from fpcredit.errors import TrailError
from fpcredit.files import open_append
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.entries import (
    ENTRY_SELECT,
    entry_leaf,
    fetcher,
    size_of,
    snapshot,
    stream,
)
from fpcredit.guard.trail.keys import EntryMac
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = ["CheckpointFile", "Line", "Log", "latest", "record_cosignature", "sign", "stamp"]


class Log(Protocol):
    """What signing needs of the trail (`log.Trail`, which calls in here: named by what it
    offers, not imported, so the two modules do not depend on each other)."""

    store: Store
    trail_dir: Path

    def signer(self) -> tlog.NoteSigner: ...

    def signers(self) -> list[tlog.Signer]: ...

    def entry_mac(self) -> EntryMac: ...

    def vouches(self, start: int, end: int, root: bytes) -> bool: ...


log = logging.getLogger(__name__)

FILE_NAME: Final = "checkpoints"
_E = s.ledger_entries
_C = s.ledger_checkpoints
_TAIL: Final = 65_536  # bytes read at a time when looking for the last checkpoint line


@dataclass(frozen=True)
class Line:
    """One line of the checkpoint file: a checkpoint the log signed, or a witness's
    cosignature of one (`note` is then the checkpoint with the witness's lines added)."""

    kind: str  # "checkpoint" | "cosignature"
    size: int
    root: bytes
    note: str
    at: str
    witness: str | None = None
    number: int = 0  # 1-based position in the file (0: not read from a file)

    def encode(self) -> bytes:
        doc: dict[str, Any] = {
            "kind": self.kind,
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "at": self.at,
            "note": self.note,
        }
        if self.witness is not None:
            doc["witness"] = self.witness
        return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    @classmethod
    def decode(cls, raw: bytes, number: int) -> Line:
        """A line as written by `encode`; TrailError when it is not one."""
        try:
            doc = json.loads(raw)
            kind, size, note, at = doc["kind"], doc["size"], doc["note"], doc["at"]
            root = base64.b64decode(doc["root"], validate=True)
            witness = doc.get("witness")
        except (ValueError, KeyError, TypeError) as e:
            raise TrailError(text("trail.file_damaged", path=FILE_NAME, line=number)) from e
        valid = (
            kind in ("checkpoint", "cosignature")
            and type(size) is int
            and size >= 0
            and isinstance(note, str)
            and isinstance(at, str)
            and len(root) == tlog.HASH_SIZE
            and (witness is None or isinstance(witness, str))
        )
        if not valid:
            raise TrailError(text("trail.file_damaged", path=FILE_NAME, line=number))
        return cls(kind, size, root, note, at, witness, number)

    def head(self, verifiers: Sequence[tlog.Verifier]) -> tlog.Checkpoint | None:
        """The checkpoint of the note when it verifies and matches the line, else None."""
        try:
            head = tlog.Checkpoint.parse(tlog.open_note(self.note, verifiers))
        except TrailError:
            return None
        return head if (head.size, head.root) == (self.size, self.root) else None


def stamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class CheckpointFile:
    """``FPCREDIT_HOME/trail/checkpoints``: append-only JSON lines (0600 in a 0700 folder)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE_NAME

    def end(self) -> int:
        """The file's length now: a reader that stops there sees no line written after."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def lines(self, end: int | None = None) -> Iterator[Line | TrailError]:
        """Every line in order (up to byte `end`); a damaged one as the TrailError that says
        so."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        at = 0
        with handle:
            for number, raw in enumerate(handle, start=1):
                if end is not None and at >= end:
                    return
                at += len(raw)
                if not raw.endswith(b"\n"):  # a write cut short: never acknowledged
                    yield TrailError(text("trail.file_damaged", path=self.path, line=number))
                    return
                try:
                    yield Line.decode(raw, number)
                except TrailError as e:
                    yield e

    @contextlib.contextmanager
    def open(self) -> Iterator[_Open]:
        """The file locked against every other writer (flock, any process) for the block."""
        fd = open_append(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield _Open(fd, self.path)
        finally:
            os.close(fd)  # closing releases the lock

    def last_checkpoint(self) -> Line | None:
        """The last checkpoint line (None when there is none; TrailError when damaged)."""
        if not self.path.exists():
            return None
        with self.open() as handle:
            return handle.last_checkpoint()


class _Open:
    """The checkpoint file, open and locked."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd, self.path = fd, path

    def last_checkpoint(self) -> Line | None:
        """Read backwards from the end to the last checkpoint line."""
        end = os.fstat(self.fd).st_size
        if end == 0:
            return None
        self._repair(end)
        end = os.fstat(self.fd).st_size
        buffer, at = b"", end
        while at > 0:
            start = max(0, at - _TAIL)
            buffer = os.pread(self.fd, at - start, start) + buffer
            at = start
            lines = buffer.split(b"\n")[:-1]  # the text after the last newline is empty
            complete = lines if at == 0 else lines[1:]  # the first may be cut
            for raw in reversed(complete):
                line = Line.decode(raw, 0)
                if line.kind == "checkpoint":
                    return line
        return None

    def _repair(self, end: int) -> None:
        """Cut a last line whose write was cut short (a crash before its fsync returned: it was
        never acknowledged), so that the next line starts on a line of its own."""
        if os.pread(self.fd, 1, end - 1) == b"\n":
            return
        at = end
        while at > 0:
            start = max(0, at - _TAIL)
            newline = os.pread(self.fd, at - start, start).rfind(b"\n")
            if newline >= 0:
                os.ftruncate(self.fd, start + newline + 1)
                return
            at = start
        os.ftruncate(self.fd, 0)

    def append(self, line: Line) -> None:
        """Write one line and fsync it before returning."""
        data = line.encode()
        written = os.write(self.fd, data)
        if written != len(data):
            raise OSError(f"short write to {self.path}")
        os.fsync(self.fd)


# --- signing -------------------------------------------------------------------------------------


def _db_last(conn: sa.Connection) -> Line | None:
    row = conn.execute(
        sa.select(_C.c.size, _C.c.root, _C.c.note).order_by(_C.c.size.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return Line("checkpoint", int(row.size), bytes(row.root), str(row.note), "")


def _check(known: Line, size: int, root: bytes, fetch: tlog.Fetch, verifiers: Any) -> None:
    """That a signed checkpoint verifies and that the tree of `size` with `root` extends it."""
    if known.head(verifiers) is None:
        raise TrailError(text("trail.note_unverified"))
    proof = tlog.consistency_proof(known.size, size, fetch)  # refuses a smaller tree
    if not tlog.verify_consistency(known.size, size, proof, known.root, root):
        raise TrailError(text("trail.sizes_invalid", old=known.size, new=size))


def _replay(
    conn: sa.Connection, size: int, root: bytes, fetch: tlog.Fetch, mac: EntryMac
) -> bytes | None:
    """The root of the tree grown from the signed head (size, root) by the leaves recomputed
    from the entries appended since; None when an entry no longer matches its leaf hash or
    its MAC (a forged or rewritten entry is never signed over)."""
    frontier = tlog.Frontier(size, fetch(tlog.peak_refs(size)))
    if frontier.root() != root:
        return None
    query = sa.select(*ENTRY_SELECT).where(_E.c.idx >= size).order_by(_E.c.idx)
    for row in stream(conn, query):
        leaf = entry_leaf(row)
        if int(row.idx) != frontier.size or leaf != bytes(row.leaf_hash):
            return None
        if row.mac is None or mac(leaf) != bytes(row.mac):
            return None
        frontier.append(leaf)
    return frontier.root()


def _refuse(size: int, known: Sequence[Line], cause: Exception) -> TrailError:
    old = max((k.size for k in known), default=0)
    error = TrailError(text("trail.inconsistent", size=size, old=old))
    log.critical("%s (%s)", error, cause)
    return error


def sign(trail: Log) -> str:
    """Sign the current tree head with every signer of `trail`, append it to the database and
    the checkpoint file (fsynced), and return the note; with nothing new since the last
    checkpoint, return that one. Refuses (TrailError, logged at CRITICAL) unless the stored
    tree extends the last checkpoint of the file and of the database.

    The tree is read from one snapshot, without the trail's write lock: appends go on while a
    checkpoint is made (the entries it covers never change), and signers queue on the file's
    lock instead."""
    with CheckpointFile(trail.trail_dir).open() as handle:
        with snapshot(trail.store) as conn:
            size = size_of(conn)
            known: list[Line] = []
            try:
                in_file = handle.last_checkpoint()
                known = [k for k in (in_file, _db_last(conn)) if k is not None]
                fetch = fetcher(conn)
                root = tlog.root_from_nodes(size, fetch)
                _extends(trail, conn, known, size, root, fetch)
            except TrailError as e:
                raise _refuse(size, known, e) from e
        newest = max(known, key=lambda k: k.size, default=None)
        if newest is not None and newest.size == size:
            note = newest.note  # nothing new
        else:
            body = tlog.Checkpoint(trail.signer().name, size, root).body()
            note = tlog.sign_note(body, *trail.signers())
            with trail.store.engine.begin() as conn:
                conn.execute(_C.insert().values(size=size, root=root, note=note, at=utc_now()))
        # Committed, then in the file (fsynced) before anyone is given the note: whatever is in
        # the file is in the database too, so a verifier that reads the file first never sees a
        # checkpoint its snapshot of the database cannot have. (One the database has and the
        # file lacks — a crash in between — goes to the file now.)
        if in_file is None or in_file.size < size:
            handle.append(Line("checkpoint", size, root, note, stamp()))
    return note


def _extends(
    trail: Log,
    conn: sa.Connection,
    known: Sequence[Line],
    size: int,
    root: bytes,
    fetch: tlog.Fetch,
) -> None:
    """That the tree of `size` with `root` extends every known signed checkpoint, and that the
    entries since the oldest of them still match their leaves and MACs (TrailError if not)."""
    verifiers = [trail.signer().verifier]
    # The file's last and the database's are usually one checkpoint: checked once.
    for k in {(k.size, k.root, k.note): k for k in known}.values():
        _check(k, size, root, fetch, verifiers)
    base = min(known, key=lambda k: k.size, default=None)
    start = (0, tlog.EMPTY_ROOT) if base is None else (base.size, base.root)
    # Entries another process appended (or this one before a restart) are read back and
    # checked; this process's own, whose tree the stored one matches, are not read again.
    mine = trail.vouches(start[0], size, root)
    if start[0] < size and not mine and _replay(conn, *start, fetch, trail.entry_mac()) != root:
        raise TrailError(text("trail.sizes_invalid", old=start[0], new=size))


def latest(trail: Log) -> str | None:
    """The newest signed checkpoint: the file's last, or the database's when that is newer
    (a store whose checkpoints predate the file)."""
    in_file = CheckpointFile(trail.trail_dir).last_checkpoint()
    with trail.store.engine.connect() as conn:
        in_db = _db_last(conn)
    known = [k for k in (in_file, in_db) if k is not None]
    return max(known, key=lambda k: k.size).note if known else None


def record_cosignature(trail: Log, witness: str, note: str) -> None:
    """Append a checkpoint as a witness cosigned it (`note`: ours plus its lines)."""
    head = tlog.Checkpoint.parse(tlog.split_note(note)[0])
    with CheckpointFile(trail.trail_dir).open() as handle:
        handle.append(Line("cosignature", head.size, head.root, note, stamp(), witness))
