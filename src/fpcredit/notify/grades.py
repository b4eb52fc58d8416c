"""Grade changes: who is told after an official evaluation, computed over the two result files."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import duckdb
import sqlalchemy as sa

from fpcredit.notify.outbox import enqueue_many
from fpcredit.store import schema as s

__all__ = ["Change", "enqueue_grade_changes", "grade_changes"]
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


def _changed(before: Path, after: Path) -> Iterator[tuple[int, str | None, str]]:
    con = duckdb.connect(":memory:")
    try:
        con.execute(_CHANGED, [str(after), str(before)])
        while rows := con.fetchmany(_CHUNK):
            for pid, old, new in rows:
                yield int(pid), None if old is None else str(old), str(new)
    finally:
        con.close()


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# A person whose grade moved: (person id, the previous official grade or None, the new grade).
Change = tuple[int, str | None, str]


def grade_changes(conn: sa.Connection, home: Path, evaluation_id: int) -> list[Change]:
    """The persons whose grade in official evaluation `evaluation_id` differs from the previous
    official evaluation's. None for the first official evaluation (no grade changed), nor when
    the predecessor's results file is gone or no longer has its recorded SHA-256."""
    e = s.evaluations
    now = conn.execute(sa.select(e.c.path).where(e.c.id == evaluation_id)).one()
    before = conn.execute(
        sa.select(e.c.path, e.c.results_sha256)
        .where(e.c.kind == "official", e.c.id < evaluation_id)
        .order_by(e.c.id.desc())
        .limit(1)
    ).first()
    if before is None:
        return []
    path = home / before.path
    if not path.exists() or _sha256(path) != before.results_sha256:
        log.critical("grade changes not notified: the previous results file is missing or altered")
        return []
    return list(_changed(path, home / now.path))


def enqueue_grade_changes(
    conn: sa.Connection, home: Path, evaluation_id: int, changes: list[Change] | None = None
) -> int:
    """In the transaction recording official evaluation `evaluation_id`: a `grade_changed`
    notification to each person whose grade differs from the previous official evaluation's
    (`changes`, computed by `grade_changes` when not given). Returns how many."""
    if changes is None:
        changes = grade_changes(conn, home, evaluation_id)
    e = s.evaluations
    as_of = conn.execute(sa.select(e.c.as_of).where(e.c.id == evaluation_id)).scalar_one()
    day = as_of.isoformat()
    rows = (
        (pid, {"old_grade": old, "new_grade": new, "as_of": day, "evaluation_id": evaluation_id})
        for pid, old, new in changes
    )
    return enqueue_many(conn, "grade_changed", rows)
