"""An independent, slow, row-by-row evaluator the engine is checked against (docs/policy.md §1).

It is the oracle the SQL engine is held to, not used by the service. It is deliberately slow
and obvious: loops over persons, indicators and months, exact arithmetic only (int and
Fraction, never float), and it shares no code with the engine's compiler. Every rule cites the
paragraph of docs/policy.md it implements. Readings of sentences the document leaves open are
marked "Reading:".
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pyarrow as pa

from fpcredit.evaluate.frame import (
    DIMENSION_SCHEMA,
    INDICATOR_SCHEMA,
    RESULT_SCHEMA,
    Frame,
    Outcome,
)
from fpcredit.evaluate.policy_model import Policy
from fpcredit.evaluate.reference.dates import (
    add_months,
    age,
    birth_month_end,
    month_number,
    months_between,
    parse_period,
    round_half_up,
)
from fpcredit.evaluate.reference.person import Row, evaluated, frame_persons
from fpcredit.evaluate.reference.scoring import (
    Part,
    balance,
    combine,
    grade,
    score_dimension,
    score_indicator,
)

__all__ = [
    "add_months",
    "age",
    "birth_month_end",
    "evaluate",
    "month_number",
    "months_between",
    "parse_period",
    "round_half_up",
]


def evaluate(policy: Policy, frame: Frame, cut: dt.date) -> Outcome:
    """Evaluate every person of the frame at the cut date, per docs/policy.md §1."""
    results: list[Row] = []
    dimensions: list[Row] = []
    indicators: list[Row] = []
    for person in sorted(frame_persons(frame, cut), key=lambda p: p.row["person_id"]):
        if not evaluated(policy, person, cut):
            continue
        pid = person.row["person_id"]
        scored = {ind.id: score_indicator(policy, ind, person, cut) for ind in policy.indicators}
        dims = [score_dimension(policy, d.id, scored) for d in policy.dimensions]
        weights = {d.id: d.weight for d in policy.dimensions}
        parts = [
            Part(d.dimension, weights[d.dimension], Fraction(d.centi, 100), d.bonus)
            for d in dims
            if d.centi is not None
        ]
        mean = combine(parts)
        for part in parts:
            next(d for d in dims if d.dimension == part.key).included = part.included
        # 1.7: with no applicable dimension, no total and no grade.
        total = None if mean is None else round_half_up(100 * mean)
        results.append(
            {
                "person_id": pid,
                "total_centi": total,
                "grade": grade(policy, total, person, cut),
                "points": balance(policy, person, cut),
            }
        )
        for d in sorted(dims, key=lambda d: d.dimension):
            dimensions.append(
                {
                    "person_id": pid,
                    "dimension": d.dimension,
                    "score_centi": d.centi,
                    "included": d.included,
                }
            )
        for key in sorted(scored):
            s = scored[key]
            indicators.append(
                {
                    "person_id": pid,
                    "indicator": key,
                    "status": s.status,
                    "num": s.value[0] if s.value else None,
                    "den": s.value[1] if s.value else None,
                    "points": s.points,
                    "included": s.included,
                }
            )
    return Outcome(
        pa.Table.from_pylist(results, schema=RESULT_SCHEMA),
        pa.Table.from_pylist(dimensions, schema=DIMENSION_SCHEMA),
        pa.Table.from_pylist(indicators, schema=INDICATOR_SCHEMA),
    )
