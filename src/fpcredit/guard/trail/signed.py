"""The signed checkpoints `verify` holds the recomputed tree against, streamed in size order.

Three sources: the database's ``ledger_checkpoints``, the checkpoint file (checkpoints and the
witnesses' cosignatures of them) and, when asked, a witness's latest cosigned checkpoint. Each
becomes an expectation ``(size, root, reason)``: the tree of `size` entries must have `root`
(None: it cannot, e.g. a signature that fails or a checkpoint deleted from the database), else
`reason` is reported. Nothing is held in memory per checkpoint: a file of millions of lines is
merged with the database's rows as both are read.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from fpcredit.errors import TrailError
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.checkpoints import Line
from fpcredit.guard.trail.cosignature import CosignatureVerifier
from fpcredit.guard.trail.covered import Findings
from fpcredit.guard.trail.entries import stream
from fpcredit.messages import text
from fpcredit.store import schema as s

__all__ = ["Expect", "Tally", "expectations"]

Expect = tuple[int, bytes | None, str]
"""The tree of `size` entries must have `root` (None: it cannot), else `reason` is reported."""

_C = s.ledger_checkpoints


@dataclass
class Tally:
    """What was read, for the report."""

    database: int = 0
    file: int = 0
    cosignatures: int = 0
    newest: int | None = None  # the size of the file's newest checkpoint
    witnessed_in_file: bool = False


def _database(
    conn: sa.Connection, verifiers: Sequence[tlog.Verifier], tally: Tally
) -> Iterator[tuple[int, bytes | None, str, bytes]]:
    """The database's checkpoints by size: expectation and the root as stored."""
    query = sa.select(_C.c.size, _C.c.root, _C.c.note).order_by(_C.c.size)
    for size, root, note in stream(conn, query):
        tally.database += 1
        line = Line("checkpoint", int(size), bytes(root), str(note), "")
        ok = line.head(verifiers) is not None
        yield (
            line.size,
            line.root if ok else None,
            text("audit.checkpoint_bad", size=size),
            line.root,
        )


def _opens(note: str, key: tlog.Verifier) -> bool:
    try:
        tlog.open_note(note, [key])
    except TrailError:
        return False
    return True


def _file(
    lines: Iterable[Line | TrailError],
    verifiers: Sequence[tlog.Verifier],
    witnesses: dict[str, CosignatureVerifier],
    witnessed: tuple[int, bytes] | None,
    tally: Tally,
    found: Findings,
) -> Iterator[tuple[int, bytes | None, str, bool, bytes]]:
    """The file's lines in order: each signed by the log (and by its witness when that key is
    pinned); a damaged line, or one whose size goes backwards, is reported at once."""
    before = 0  # the largest size signed so far
    for line in lines:
        if isinstance(line, TrailError):
            found.add(before, str(line))
            continue
        checkpoint = line.kind == "checkpoint"
        tally.file += checkpoint
        tally.cosignatures += not checkpoint
        if line.size < before:
            back = text("audit.file_backwards", line=line.number, size=line.size, before=before)
            found.add(line.size, back)
            continue
        before = line.size
        good = line.head(verifiers) is not None
        cosigner = None if checkpoint else witnesses.get(line.witness or "")
        if good and cosigner is not None:
            good = _opens(line.note, cosigner)
        if checkpoint:
            tally.newest = line.size
            tally.witnessed_in_file |= (line.size, line.root) == witnessed
        reason = text("audit.file_checkpoint_bad", line=line.number, size=line.size)
        yield line.size, line.root if good else None, reason, checkpoint, line.root


def _joined(
    file: Iterator[tuple[int, bytes | None, str, bool, bytes]],
    database: Iterator[tuple[int, bytes | None, str, bytes]],
) -> Iterator[Expect]:
    """Both streams merged by size; a checkpoint of the file that the database lacks (the log
    writes it there first) is an expectation that fails."""
    row = next(database, None)
    passed: tuple[int, bytes] | None = None  # the database's last row so far: size, root
    for size, root, reason, checkpoint, raw in file:
        while row is not None and row[0] <= size:
            yield row[:3]
            passed = (row[0], row[3])
            row = next(database, None)
        if checkpoint and passed != (size, raw):
            yield size, None, text("audit.checkpoint_deleted", size=size)
        yield size, root, reason
    while row is not None:
        yield row[:3]
        row = next(database, None)


def expectations(
    conn: sa.Connection,
    lines: Iterable[Line | TrailError],
    verifiers: Sequence[tlog.Verifier],
    witnesses: dict[str, CosignatureVerifier],
    witnessed: Expect | None,
    tally: Tally,
    found: Findings,
) -> Iterator[Expect]:
    """Every signed checkpoint as an expectation, in size order (a witness's among them)."""
    head = None if witnessed is None or witnessed[1] is None else (witnessed[0], witnessed[1])
    merged = _joined(
        _file(lines, verifiers, witnesses, head, tally, found), _database(conn, verifiers, tally)
    )
    return heapq.merge(merged, [] if witnessed is None else [witnessed], key=lambda e: e[0])
