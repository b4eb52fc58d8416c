"""Evaluate a frame under a policy at a cut date, on a batch engine (DuckDB by default)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from fpcredit.compute.base import Engine
from fpcredit.compute.duckdb import DuckDBEngine
from fpcredit.evaluate.compile import compile_policy
from fpcredit.evaluate.frame import (
    DIMENSION_SCHEMA,
    INDICATOR_SCHEMA,
    RESULT_SCHEMA,
    Frame,
    Outcome,
)
from fpcredit.evaluate.policy import Policy

__all__ = ["evaluate_frame", "evaluate_wide"]


def evaluate_frame(
    policy: Policy, frame: Frame, cut: dt.date, engine: Engine | None = None
) -> Outcome:
    """The outcome of `policy` at `cut` for every evaluated person of `frame`."""
    own = engine is None
    eng = engine or DuckDBEngine()
    try:
        _run(eng, policy, frame, cut)
        plan = compile_policy(policy, cut)
        return Outcome(
            _cast(eng.arrow(plan.results), RESULT_SCHEMA),
            _cast(eng.arrow(plan.dimensions), DIMENSION_SCHEMA),
            _cast(eng.arrow(plan.indicators), INDICATOR_SCHEMA),
        )
    finally:
        if own:
            eng.close()


def evaluate_wide(
    policy: Policy, frame: Frame, cut: dt.date, engine: Engine | None = None
) -> pa.Table:
    """The batch form: one row per evaluated person (the engine's `wide` table, unsorted).

    Columns: person_id, total_centi, grade, points; per dimension `dim_<id>` (score in
    hundredths) and `dinc_<id>`; per indicator `st_<id>`, `num_<id>`, `den_<id>`, `p_<id>`,
    `inc_<id>`.
    """
    own = engine is None
    eng = engine or DuckDBEngine()
    try:
        _run(eng, policy, frame, cut)
        return eng.arrow(f"SELECT {', '.join(_wide_columns(policy))} FROM wide")
    finally:
        if own:
            eng.close()


def _run(eng: Engine, policy: Policy, frame: Frame, cut: dt.date) -> None:
    eng.register("persons", frame.persons)
    eng.register("facts", frame.facts)
    eng.register("children", frame.children)
    for name, sql in compile_policy(policy, cut).steps:
        eng.materialise(name, sql)


def _wide_columns(policy: Policy) -> list[str]:
    cols = ["person_id", "total_centi", "grade", "points"]
    for d in policy.dimensions:
        cols += [f'CAST("dim_{d.id}" AS BIGINT) AS "dim_{d.id}"', f'"dinc_{d.id}"']
    for i in policy.indicators:
        cols += [f'"st_{i.id}"', f'"num_{i.id}"', f'"den_{i.id}"', f'CAST("p_{i.id}" AS BIGINT)'
                 f' AS "p_{i.id}"', f'"inc_{i.id}"']  # fmt: skip
    return cols


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return table.select(schema.names).cast(schema)
