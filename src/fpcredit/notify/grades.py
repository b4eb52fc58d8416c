"""Grade changes: who is told after an official evaluation, computed over the two result files."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import duckdb
import sqlalchemy as sa

from fpcredit.notify.outbox import Param, enqueue_many
from fpcredit.store import schema as s

__all__ = ["enqueue_grade_changes"]
log = logging.getLogger(__name__)

# Persons graded now whose grade differs from the previous official evaluation's (a person new
# since then has no previous grade: told too). Set-based, over the Parquet files.
_CHANGED: Final = """
SELECT a.person_id, b.grade AS old_grade, a.grade AS new_grade
FROM read_parquet(?) a LEFT JOIN read_parquet(?) b USING (person_id)
WHERE a.grade IS NOT NULL AND a.grade IS DISTINCT FROM b.grade
ORDER BY a.person_id
"""
_CHUNK: Final = 50_000


def _changed(before: Path, after: Path) -> Iterator[tuple[int, dict[str, Param]]]:
    con = duckdb.connect(":memory:")
    try:
        con.execute(_CHANGED, [str(after), str(before)])
        while rows := con.fetchmany(_CHUNK):
            for pid, old, new in rows:
                yield int(pid), {"old_grade": old, "new_grade": new}
    finally:
        con.close()


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def enqueue_grade_changes(conn: sa.Connection, home: Path, evaluation_id: int) -> int:
    """In the transaction recording official evaluation `evaluation_id`: a `grade_changed`
    notification to each person whose grade differs from the previous official evaluation's.
    The first official evaluation tells nobody (no grade changed), nor does one whose
    predecessor's results file is gone or no longer has its recorded SHA-256. Returns how
    many."""
    e = s.evaluations
    now = conn.execute(sa.select(e.c.path, e.c.as_of).where(e.c.id == evaluation_id)).one()
    before = conn.execute(
        sa.select(e.c.path, e.c.results_sha256)
        .where(e.c.kind == "official", e.c.id < evaluation_id)
        .order_by(e.c.id.desc())
        .limit(1)
    ).first()
    if before is None:
        return 0
    path = home / before.path
    if not path.exists() or _sha256(path) != before.results_sha256:
        log.critical("grade changes not notified: the previous results file is missing or altered")
        return 0
    as_of = now.as_of.isoformat()
    rows = (
        (pid, {**params, "as_of": as_of, "evaluation_id": evaluation_id})
        for pid, params in _changed(path, home / now.path)
    )
    return enqueue_many(conn, "grade_changed", rows)
