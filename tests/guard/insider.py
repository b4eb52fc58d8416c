"""What an insider with database access can do to the trail, for the tests that must catch it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.log import leaf_data
from fpcredit.store import schema as s
from fpcredit.store.db import Store

E, N, C = s.ledger_entries, s.ledger_nodes, s.ledger_checkpoints
FIELDS = [c.name for c in E.columns][:13]  # idx … state: the leaf's columns before v
T0 = dt.datetime(2026, 3, 1, 8, 0, 0)


def forge(store: Store, idx: int, mac: bytes | None, **values: Any) -> None:
    """Write (or rewrite) entry `idx` with a correct leaf hash and every tree node recomputed,
    and the MAC given: a valid one needs the MAC key, which is not in the database."""
    with store.engine.begin() as conn:
        if conn.scalar(sa.select(sa.func.count()).where(E.c.idx == idx)):
            conn.execute(E.update().where(E.c.idx == idx).values(**values))
        else:
            row = {"idx": idx, "at": T0, "outcome": "ok", "v": 2, "leaf_hash": b"", **values}
            conn.execute(E.insert().values(**row))
        row = conn.execute(sa.select(E).where(E.c.idx == idx)).one()
        fields = [getattr(row, n) for n in FIELDS]
        leaf = tlog.leaf_hash(leaf_data(*fields, address=row.address, v=row.v))
        conn.execute(E.update().where(E.c.idx == idx).values(leaf_hash=leaf, mac=mac))
        leaves = [bytes(h) for h in conn.scalars(sa.select(E.c.leaf_hash).order_by(E.c.idx))]
        rebuild_nodes(conn, leaves)


def rebuild_nodes(conn: sa.Connection, leaves: list[bytes]) -> None:
    """Replace ledger_nodes with the stored subtrees (level 4 up) of these leaves."""
    tree = tlog.MemoryTree(leaves)
    conn.execute(N.delete())
    stored = [
        {"level": lv, "idx": i, "hash": h}
        for lv in range(4, len(tree.levels))
        for i, h in enumerate(tree.levels[lv])
    ]
    if stored:
        conn.execute(N.insert(), stored)


def lose_tail(store: Store, keep: int) -> None:
    """What a lost WAL (or an insider) leaves: entries, nodes and database checkpoints past the
    first `keep` entries gone."""
    last_leaf = ((N.c.idx + 1) * sa.literal(2)).op("<<")(N.c.level - 1)  # (idx+1)·2^level
    with store.engine.begin() as conn:
        conn.execute(E.delete().where(E.c.idx >= keep))
        conn.execute(N.delete().where(last_leaf > keep))
        conn.execute(C.delete().where(C.c.size > keep))
