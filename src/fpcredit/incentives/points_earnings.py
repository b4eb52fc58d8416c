"""Earnings of the points ledger: each official evaluation posts the change of every person's
`points` since the evaluations posted before it, set-based and once per evaluation.

A person's earnings so far are the sum of their earning entries, which telescopes to the
`points` of the last evaluation posted; the new evaluation's delta is its `points` minus that
sum. One posting per evaluation carries every person's delta and, against them, one leg of the
earnings source, so the posting sums to zero. A negative delta (the engine took points back)
is posted as it is and may leave a balance below zero; only redemptions are refused for want
of points. Posting an evaluation again, or one older than the last posted, posts nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pyarrow as pa
import sqlalchemy as sa

from fpcredit.guard.trail.entries import lock
from fpcredit.incentives.points import EARNING, account_of, covered_insert, post
from fpcredit.store import schema as s
from fpcredit.store.db import utc_now

__all__ = ["ACTOR", "earned", "post_earnings"]

ACTOR: Final = "evaluate"
_A, _P, _E = s.points_accounts, s.points_postings, s.points_entries


def earned(conn: sa.Connection) -> dict[int, int]:
    """Each person's earnings so far (the sum of their earning entries), by person id."""
    query = (
        sa.select(_A.c.person_id, sa.func.sum(_E.c.amount))
        .select_from(_E.join(_P, _P.c.id == _E.c.posting_id).join(_A, _A.c.id == _E.c.account_id))
        .where(_P.c.kind == EARNING, _A.c.kind == "person")
        .group_by(_A.c.person_id)
    )
    return {int(pid): int(total) for pid, total in conn.execute(query)}


def _person_accounts(
    conn: sa.Connection, keys_dir: Path | None, wanted: list[int]
) -> dict[int, int]:
    """The accounts of `wanted` persons, the missing ones created in one insert."""
    query = sa.select(_A.c.person_id, _A.c.id).where(_A.c.kind == "person")
    accounts = {int(pid): int(aid) for pid, aid in conn.execute(query)}
    missing = [pid for pid in wanted if pid not in accounts]
    if missing:
        now = utc_now()
        rows = [{"kind": "person", "person_id": pid, "created_at": now} for pid in missing]
        first, last = covered_insert(conn, _A, rows, ACTOR, "account", keys_dir)
        new = sa.select(_A.c.person_id, _A.c.id).where(_A.c.id.between(first, last))
        accounts.update((int(pid), int(aid)) for pid, aid in conn.execute(new))
    return accounts


def post_earnings(
    conn: sa.Connection, evaluation_id: int, table: pa.Table, *, keys_dir: Path | None
) -> int:
    """Post the deltas of evaluation `evaluation_id` (its results: `person_id`, `points`) in
    `conn`'s transaction; how many persons' balances changed (0 when already posted)."""
    lock(conn)
    newest = conn.scalar(sa.select(sa.func.max(_P.c.evaluation_id)).where(_P.c.kind == EARNING))
    if newest is not None and int(newest) >= evaluation_id:
        return 0
    so_far = earned(conn)
    people = table.column("person_id").to_pylist()
    points = table.column("points").to_pylist()
    deltas: dict[int, int] = {}
    for pid, now in zip(people, points, strict=True):
        if now is not None and (delta := int(now) - so_far.get(pid, 0)):
            deltas[int(pid)] = delta
    if not deltas:
        return 0
    accounts = _person_accounts(conn, keys_dir, list(deltas))
    source = account_of(conn, create=True, keys_dir=keys_dir)
    assert source is not None
    legs: list[tuple[int, int]] = [(accounts[pid], d) for pid, d in deltas.items()]
    total = sum(deltas.values())
    if total:
        legs.append((source, -total))
    post(conn, EARNING, legs, actor=ACTOR, keys_dir=keys_dir, evaluation_id=evaluation_id)
    return len(deltas)
