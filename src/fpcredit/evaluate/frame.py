"""The evaluation frame and result: the Arrow tables the engine reads and writes.

docs/policy.md §1.1 defines the frame. `Frame` holds what was known at one cut date; the engine
turns it into an `Outcome`. Both the SQL engine and the reference evaluator
(`evaluate/reference/`) speak these types, so the property-based tests compare like with like.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pyarrow as pa

__all__ = [
    "CHILDREN_SCHEMA",
    "DIMENSION_SCHEMA",
    "INDICATOR_SCHEMA",
    "PERSON_SCHEMA",
    "RESULT_SCHEMA",
    "Frame",
    "Outcome",
    "facts_schema",
]

PERSON_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("sex", pa.int8()),
        ("birth_date", pa.date32()),
        ("group", pa.string()),
        ("occupation", pa.string()),
        ("id_valid", pa.bool_()),
        ("name_consistent", pa.bool_()),
        ("birth_date_consistent", pa.bool_()),
        ("hukou_known", pa.bool_()),
        ("residence_known", pa.bool_()),
        ("phone_known", pa.bool_()),
    ]
)
CHILDREN_SCHEMA = pa.schema(
    [
        ("parent_id", pa.int64()),
        ("child_id", pa.int64()),
        ("birth_date", pa.date32()),
        ("registered_at", pa.timestamp("us")),
    ]
)
_FACT_BASE = [
    ("fact_id", pa.int64()),
    ("person_id", pa.int64()),
    ("kind", pa.string()),
    ("event_date", pa.date32()),
    ("recorded_at", pa.timestamp("us")),
]


def facts_schema(attributes: Iterable[str]) -> pa.Schema:
    """Facts carry one text column per attribute the policy reads (null when absent)."""
    return pa.schema([*_FACT_BASE, *((a, pa.string()) for a in sorted(attributes))])


# One row per evaluated person: the exact total in hundredths of a point.
RESULT_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("total_centi", pa.int64()),
        ("grade", pa.string()),
        ("points", pa.int64()),
    ]
)
# One row per (person, dimension); score null when the dimension is not applicable.
DIMENSION_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("dimension", pa.string()),
        ("score_centi", pa.int64()),
        ("included", pa.bool_()),
    ]
)
# One row per (person, indicator). status: scored | not_applicable | exempt. The value is
# num/den (den 1 for counts); num, den and points are null unless scored.
INDICATOR_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("indicator", pa.string()),
        ("status", pa.string()),
        ("num", pa.int64()),
        ("den", pa.int64()),
        ("points", pa.int64()),
        ("included", pa.bool_()),
    ]
)


@dataclass(frozen=True)
class Frame:
    """What was known at one cut date: persons, facts (with policy attributes), children."""

    persons: pa.Table
    facts: pa.Table
    children: pa.Table

    @classmethod
    def from_rows(
        cls,
        persons: Iterable[Mapping[str, object]],
        facts: Iterable[Mapping[str, object]],
        children: Iterable[Mapping[str, object]],
        attributes: Iterable[str],
    ) -> Frame:
        """Build a frame from plain rows (tests, explanations of one person)."""
        return cls(
            pa.Table.from_pylist(list(persons), schema=PERSON_SCHEMA),
            pa.Table.from_pylist(list(facts), schema=facts_schema(attributes)),
            pa.Table.from_pylist(list(children), schema=CHILDREN_SCHEMA),
        )


@dataclass(frozen=True)
class Outcome:
    """The evaluation of a frame at a cut date, sorted by person (and dimension/indicator)."""

    results: pa.Table
    dimensions: pa.Table
    indicators: pa.Table
