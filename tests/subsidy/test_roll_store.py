"""A roll's row and its change entry on both stores: vouched for, and a changed row is found."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import sqlalchemy as sa

from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.covered import vouched
from fpcredit.incentives.subsidy import Candidate, Roll, allocate, write_roll
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now


def _evaluation(store: Store) -> int:
    values = {
        "kind": "official", "as_of": dt.date(2026, 6, 30), "score_date": dt.date(2026, 6, 30),
        "grade_date": dt.date(2026, 6, 30), "known_at": utc_now(), "policy_id": "default",
        "policy_version": "1", "policy_sha256": "cd" * 32, "persons": 2, "path": "x.parquet",
        "summary": "{}", "created_at": utc_now(),
    }  # fmt: skip
    e = s.evaluations
    with store.engine.begin() as conn:
        return int(conn.execute(e.insert().returning(e.c.id).values(**values)).scalar_one())


def test_a_roll_is_recorded_and_vouched_for(store: Store, vault: Vault, tmp_path: Path) -> None:
    assert store.keys_dir is not None
    evaluation = _evaluation(store)
    people = [Candidate(i, 0, "A", None, None, bytes([i]) * 16, False, "李*") for i in (1, 2, 3)]
    roll = Roll(dt.date(2026, 6, 30), "free_reproductive_check", evaluation, "cd" * 32, 40_000,
                18_000, tuple(allocate(people, 18_000, 40_000)))  # fmt: skip
    out = tmp_path / "roll.csv"
    digest = write_roll(store, roll, out, actor="os:tester", keys_dir=store.keys_dir)
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest()
    assert out.stat().st_mode & 0o777 == 0o600
    t = s.subsidy_rolls
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(t)).one()
        assert (row.total_fen, row.paid, row.unfunded, row.held_fen) == (36_000, 2, 1, 0)
        assert row.evaluation_id == evaluation and row.file_sha256 == digest
        assert vouched(conn, "subsidy_rolls", int(row.id))
    with store.engine.begin() as conn:
        conn.execute(t.update().values(total_fen=99_999))
    with store.engine.connect() as conn:
        assert not vouched(conn, "subsidy_rolls", int(row.id))
