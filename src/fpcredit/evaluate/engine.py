"""Evaluate a frame under a policy at a cut date, on a batch engine (DuckDB by default)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc

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
from fpcredit.evaluate.policy_model import Policy

__all__ = ["evaluate_frame", "evaluate_wide"]


def evaluate_frame(
    policy: Policy, frame: Frame, cut: dt.date, engine: Engine | None = None
) -> Outcome:
    """The outcome of `policy` at `cut` for every evaluated person of `frame`."""
    own = engine is None
    eng = engine or DuckDBEngine()
    try:
        plan = compile_policy(policy, cut)
        _run(eng, plan.steps, frame)
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
        *steps, (name, sql) = compile_policy(policy, cut).steps
        assert name == "wide"
        _run(eng, steps, frame)
        return eng.arrow(sql)  # the last step has these columns: read once, not stored
    finally:
        if own:
            eng.close()


def _run(eng: Engine, steps: Sequence[tuple[str, str]], frame: Frame) -> None:
    eng.register("persons", frame.persons)
    eng.register("facts", _kind_encoded(frame.facts))
    eng.register("children", frame.children)
    for name, sql in steps:
        eng.materialise(name, sql)


def _kind_encoded(facts: pa.Table) -> pa.Table:
    """The facts with `kind` dictionary-encoded: each facts pass filters all facts on it, and
    DuckDB converts a plain Arrow string column anew at every scan (×4 the cost of reading
    dictionary indices); encoding it once costs about one such scan."""
    i = facts.schema.get_field_index("kind")
    if i < 0 or not pa.types.is_string(facts.schema.field(i).type):
        return facts
    # In pieces, side by side (pyarrow lets go of the GIL); each piece has its own dictionary.
    step = 1 << 20
    pieces = [c.slice(at, step) for c in facts.column(i).chunks for at in range(0, len(c), step)]
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        kind = pa.chunked_array(
            pool.map(pc.dictionary_encode, pieces), type=pa.dictionary(pa.int32(), pa.string())
        )
    return facts.set_column(i, "kind", kind)


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return table.select(schema.names).cast(schema)
