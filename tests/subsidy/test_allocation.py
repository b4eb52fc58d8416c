"""The roll's allocation and files without a store: budget never exceeded, totals to the fen."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpcredit.incentives.subsidy import (
    Candidate,
    Roll,
    SubsidyError,
    allocate,
    parse_yuan,
    roll_bytes,
    yuan,
)

SHA = "ab" * 32


def _candidate(pid: int, grade_rank: int, total: str | None, held: bool = False) -> Candidate:
    tiebreak = hashlib.sha256(f"k:{pid}".encode()).digest()[:16]
    return Candidate(pid, grade_rank, "ABCD"[grade_rank], None if total is None
                     else Decimal(total), 3, tiebreak, held, "张*")  # fmt: skip


def _roll(candidates: list[Candidate], amount_fen: int, budget_fen: int) -> Roll:
    lines = allocate(candidates, amount_fen, budget_fen)
    return Roll(dt.date(2026, 6, 30), "birth_subsidy_priority", 7, SHA, budget_fen, amount_fen,
                tuple(lines))  # fmt: skip


candidates = st.lists(
    st.builds(
        _candidate,
        st.integers(1, 10**9),
        st.integers(0, 3),
        st.one_of(st.none(), st.decimals(0, 100, places=2).map(str)),
        st.booleans(),
    ),
    max_size=60,
    unique_by=lambda c: c.person_id,
)


@settings(max_examples=300, deadline=None)
@given(candidates, st.integers(1, 500_000), st.integers(0, 5_000_000))
def test_the_budget_is_never_exceeded_and_totals_reconcile(
    people: list[Candidate], amount_fen: int, budget_fen: int
) -> None:
    roll = _roll(people, amount_fen, budget_fen)
    assert roll.total_fen + roll.held_fen <= budget_fen
    assert roll.total_fen == sum(x.amount_fen for x in roll.lines)
    assert len(roll.lines) == len(people)  # every qualified person listed, none twice
    funded = min(len(people), budget_fen // amount_fen)
    assert roll.count("paid") + roll.count("held_objection") == funded
    ranks = [x.rank for x in roll.lines]
    assert ranks == list(range(1, len(people) + 1))
    statuses = [x.status for x in roll.lines]
    assert "unfunded" not in statuses[:funded] and set(statuses[funded:]) <= {"unfunded"}
    # The file says the same, to the fen: lines, footer line, printed summary.
    rows = list(csv.reader(io.StringIO(roll_bytes(roll, Path("r.csv")).decode("utf-8"))))
    body, footer = rows[1:-1], rows[-1]
    paid = sum(Decimal(r[7]) for r in body)
    assert (
        paid
        == Decimal(footer[7])
        == Decimal(roll.summary()["total"])
        == Decimal(roll.total_fen) / 100
    )
    assert sum(Decimal(r[8]) for r in body) == Decimal(footer[8])


def test_grade_first_then_total_then_the_keyed_hash() -> None:
    people = [_candidate(1, 1, "99.00"), _candidate(2, 0, "80.00"), _candidate(3, 0, "90.00"),
              _candidate(4, 0, "90.00")]  # fmt: skip
    order = [x.candidate.person_id for x in allocate(people, 100, 10_000)]
    assert order[:1] == [3] or order[:1] == [4]
    assert set(order[:2]) == {3, 4} and order[2:] == [2, 1]
    tied = sorted([people[2], people[3]], key=lambda c: c.tiebreak)
    assert order[:2] == [c.person_id for c in tied]  # not by the id: by the keyed hash


def test_an_open_objection_is_held_and_its_amount_reserved() -> None:
    people = [_candidate(1, 0, "99.00", held=True), _candidate(2, 0, "98.00"),
              _candidate(3, 0, "97.00")]  # fmt: skip
    roll = _roll(people, 50_000, 100_000)  # room for two
    assert [x.status for x in roll.lines] == ["held_objection", "paid", "unfunded"]
    assert [x.amount_fen for x in roll.lines] == [0, 50_000, 0]
    assert roll.held_fen == 50_000 and roll.total_fen == 50_000


def test_the_same_roll_gives_the_same_bytes_in_both_formats(tmp_path: Path) -> None:
    people = [_candidate(i, i % 3, f"{50 + i}.25", held=i == 4) for i in range(1, 9)]
    for name in ("r.csv", "r.parquet"):
        first = roll_bytes(_roll(people, 12_000, 60_000), Path(name))
        second = roll_bytes(_roll(list(reversed(people)), 12_000, 60_000), Path(name))
        assert first == second
    path = tmp_path / "r.parquet"
    path.write_bytes(roll_bytes(_roll(people, 12_000, 60_000), path))
    table = pq.read_table(path)
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    assert Decimal(meta["fpcredit.total"]) == sum(table.column("amount").to_pylist())
    assert set(table.column("policy_sha256").to_pylist()) == {SHA}
    assert "name" not in table.column_names and "id_number" not in table.column_names


def test_money_is_read_exactly() -> None:
    assert parse_yuan("150000", "--budget") == Decimal("150000.00")
    assert parse_yuan(" 0.10 ", "--budget") == Decimal("0.10")
    assert yuan(12345) == "123.45"
    for bad in ("1.001", "abc", "-1", "NaN", "Infinity"):
        with pytest.raises(SubsidyError):
            parse_yuan(bad, "--budget")
    with pytest.raises(SubsidyError):
        parse_yuan("0", "--amount-per-person", positive=True)
