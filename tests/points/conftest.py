"""A migrated store (every backend) with a trail, a few persons and evaluations to post."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pyarrow as pa
import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.evaluate.policy_points import Redeemable
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.log import Trail, record_rows
from fpcredit.guard.trail.sealing import sealing
from fpcredit.incentives import points as ledger
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

PERSONS = 6


@dataclass
class Book:
    store: Store
    settings: Settings
    trail: Trail
    persons: list[int]

    def evaluation(self) -> int:
        """A new official evaluation row, on the trail (its results are given to the poster)."""
        row = {
            "kind": "official", "as_of": dt.date(2026, 6, 30), "score_date": dt.date(2026, 6, 30),
            "grade_date": dt.date(2026, 6, 30), "known_at": dt.datetime(2026, 7, 1),
            "policy_id": "default", "policy_version": "1.0.0", "policy_sha256": "0" * 64,
            "persons": len(self.persons), "path": "evaluations/x.parquet",
            "summary": json.dumps({}), "created_at": utc_now(), "results_sha256": "0" * 64,
        }  # fmt: skip
        with self.store.engine.begin() as conn:
            new_id = int(
                conn.execute(sa.insert(s.evaluations).values(**row)).inserted_primary_key[0]  # type: ignore[index]
            )
            record_rows(conn, "evaluations", new_id, new_id, "evaluate", "official",
                        keys_dir=self.store.keys_dir)  # fmt: skip
        return new_id

    def results(self, points: list[int | None]) -> pa.Table:
        return pa.table({"person_id": pa.array(self.persons, pa.int64()),
                         "points": pa.array(points, pa.int64())})  # fmt: skip

    def balance(self, person_id: int) -> int:
        with self.store.engine.connect() as conn:
            return ledger.balance(conn, ledger.account_of(conn, person_id=person_id))

    def agrees(self) -> bool:
        with self.store.engine.connect() as conn:
            return ledger.balances_agree(conn)


def item(price: int, department: str = "health", rid: str = "check_plus") -> Redeemable:
    return Redeemable.model_validate(
        {"id": rid, "name": {"zh": "检查", "en": "check"}, "department": department,
         "price": price, "valid_from": "2026-01-01"}
    )  # fmt: skip


@pytest.fixture
def book(store: Store, settings: Settings, vault: Vault) -> Book:
    trail = Trail(store, settings)
    keys = settings.keys_dir
    with (
        store.engine.begin() as conn,
        sealing(conn, "persons", "WHERE id > :none", {"none": 0}, keys),
    ):
        ids = [
            int(
                conn.execute(
                    sa.insert(s.persons).values(created_at=utc_now())
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            for _ in range(PERSONS)
        ]
    return Book(store, settings, trail, ids)
