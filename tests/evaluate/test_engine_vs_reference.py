"""The SQL engine agrees exactly with the reference evaluator on random policies and frames.

docs/policy.md §1 is implemented twice: set-based SQL (`fpcredit.evaluate.engine`) and the
plain per-person loops of `fpcredit.evaluate.reference`. For random valid policies and small
random populations they must produce the same rows, statuses, inclusion flags, points, values
(as exact fractions), dimension scores, totals, grades and points balances.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpcredit.evaluate import engine, reference
from fpcredit.evaluate.frame import (
    DIMENSION_SCHEMA,
    INDICATOR_SCHEMA,
    RESULT_SCHEMA,
    Frame,
    Outcome,
)
from fpcredit.evaluate.policy_model import Policy
from tests.evaluate.strategies import frames, person_context, policies

Evaluator = Callable[[Policy, Frame, dt.date], Outcome]
Row = dict[str, Any]
TABLES: dict[str, tuple[pa.Schema, tuple[str, ...]]] = {
    "results": (RESULT_SCHEMA, ("person_id",)),
    "dimensions": (DIMENSION_SCHEMA, ("person_id", "dimension")),
    "indicators": (INDICATOR_SCHEMA, ("person_id", "indicator")),
}


def _value(row: Row) -> Fraction | None:
    """An indicator row's value as an exact fraction (None when not scored)."""
    if row.get("num") is None or row.get("den") is None:
        return None
    return Fraction(row["num"], row["den"])


def _comparable(row: Row) -> Row:
    """The row with num/den replaced by their exact value (and kept as text for reports)."""
    out = {k: v for k, v in row.items() if k not in ("num", "den")}
    if "num" in row:
        out["value"] = _value(row)
        out["_raw"] = f"{row['num']}/{row['den']}"
    return out


def _keyed(table: pa.Table, key: tuple[str, ...]) -> dict[tuple[Any, ...], Row]:
    return {tuple(r[k] for k in key): _comparable(r) for r in table.to_pylist()}


@dataclass(frozen=True)
class Difference:
    """One disagreement: a row (by its key) and column, with both sides' values."""

    table: str
    key: tuple[Any, ...]
    column: str
    reference: Any
    engine: Any

    def __str__(self) -> str:
        where = ", ".join(map(str, self.key))
        head = f"{self.table} [{where}] {self.column}"
        return f"{head}: reference {self.reference!r}, engine {self.engine!r}"


def differences(expected: Outcome, actual: Outcome) -> list[Difference]:
    """Every disagreement between two outcomes (empty when they agree)."""
    found: list[Difference] = []
    for name, (schema, key) in TABLES.items():
        want, got = getattr(expected, name), getattr(actual, name)
        if got.schema.names != schema.names or got.schema.types != schema.types:
            found.append(Difference(name, (), "schema", schema, got.schema))
            continue
        keys = [tuple(r.values()) for r in got.select(list(key)).to_pylist()]
        if keys != sorted(keys) or len(set(keys)) != len(keys):
            found.append(Difference(name, (), "order", "sorted, unique", keys))
        w, g = _keyed(want, key), _keyed(got, key)
        for k in sorted(w.keys() | g.keys(), key=str):
            if k not in g or k not in w:
                found.append(Difference(name, k, "row", w.get(k), g.get(k)))
                continue
            for col in w[k]:
                if col == "_raw" or w[k][col] == g[k][col]:
                    continue
                if col == "value":  # as num/den too: 0/-1 is a value of 0 too
                    found.append(Difference(name, k, "num/den", w[k]["_raw"], g[k]["_raw"]))
                found.append(Difference(name, k, col, w[k][col], g[k][col]))
    return found


def report(policy: Policy, frame: Frame, cut: dt.date, found: list[Difference]) -> str:
    """An assertion message: the disagreements, then the indicators and persons concerned."""
    text = [f"cut date {cut}: {len(found)} disagreement(s)", *map(str, found[:20])]
    indicators = {d.key[1] for d in found if d.table == "indicators" and d.key}
    for ind in policy.indicators:
        if ind.id in indicators:
            dumped = ind.model_dump(mode="json", exclude={"name", "rationale"})
            text.append(f"indicator {ind.id}: {dumped}")
    for pid in sorted({d.key[0] for d in found if d.key})[:3]:
        text.append(f"person {pid}:\n{person_context(frame, pid)}")
    return "\n".join(text)


def assert_agree(policy: Policy, frame: Frame, cut: dt.date) -> None:
    expected = reference.evaluate(policy, frame, cut)
    actual = engine.evaluate_frame(policy, frame, cut)
    problems = differences(expected, actual)
    assert not problems, report(policy, frame, cut, problems)


SLOW_BUT_THOROUGH = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
QUICK = settings(SLOW_BUT_THOROUGH, max_examples=25)


def _random_policy_and_frame_agree(data: st.DataObject) -> None:
    policy = data.draw(policies(), label="policy")
    frame, cut = data.draw(frames(policy), label="frame")
    assert_agree(policy, frame, cut)


@pytest.mark.slow  # ~0.4 s per example on the engine: several minutes
@SLOW_BUT_THOROUGH
@given(st.data())
def test_engine_agrees_with_reference(data: st.DataObject) -> None:
    _random_policy_and_frame_agree(data)


@QUICK
@given(st.data())
def test_engine_agrees_with_reference_quick(data: st.DataObject) -> None:
    """The same property on a few examples, for `-m 'not slow'` runs."""
    _random_policy_and_frame_agree(data)


def test_differences_names_person_indicator_and_both_values() -> None:
    """The comparison itself: a changed value is reported with both fractions."""
    row = {
        "person_id": 7,
        "indicator": "K01",
        "status": "scored",
        "num": 2,
        "den": 4,
        "points": 50,
        "included": True,
    }
    empty_r = pa.Table.from_pylist([], schema=RESULT_SCHEMA)
    empty_d = pa.Table.from_pylist([], schema=DIMENSION_SCHEMA)
    same = Outcome(empty_r, empty_d, pa.Table.from_pylist([row], schema=INDICATOR_SCHEMA))
    halved = Outcome(
        empty_r,
        empty_d,
        pa.Table.from_pylist([{**row, "num": 1, "den": 2}], schema=INDICATOR_SCHEMA),
    )
    assert differences(same, halved) == []  # 2/4 == 1/2: values compare as fractions
    other = Outcome(
        empty_r,
        empty_d,
        pa.Table.from_pylist([{**row, "num": 3, "den": 4}], schema=INDICATOR_SCHEMA),
    )
    problem = "\n".join(map(str, differences(same, other)))
    assert "[7, K01] num/den: reference '2/4', engine '3/4'" in problem
    assert "Fraction(1, 2)" in problem and "Fraction(3, 4)" in problem
