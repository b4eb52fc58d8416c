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

__all__ = ["evaluate_frame"]


def evaluate_frame(
    policy: Policy, frame: Frame, cut: dt.date, engine: Engine | None = None
) -> Outcome:
    """The outcome of `policy` at `cut` for every evaluated person of `frame`."""
    own = engine is None
    eng = engine or DuckDBEngine()
    try:
        eng.register("persons", frame.persons)
        eng.register("facts", frame.facts)
        eng.register("children", frame.children)
        plan = compile_policy(policy, cut)
        for name, sql in plan.steps:
            eng.materialise(name, sql)
        return Outcome(
            _cast(eng.arrow(plan.results), RESULT_SCHEMA),
            _cast(eng.arrow(plan.dimensions), DIMENSION_SCHEMA),
            _cast(eng.arrow(plan.indicators), INDICATOR_SCHEMA),
        )
    finally:
        if own:
            eng.close()


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return table.select(schema.names).cast(schema)
