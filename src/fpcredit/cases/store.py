"""Reading cases and their steps: one case, a person's cases, a clerk's queue."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from fpcredit.store import schema as s

__all__ = ["CaseRow", "Step", "fetch_cases", "is_overdue"]

_C, _S = s.cases, s.case_steps


@dataclass(frozen=True)
class Step:
    """One step of a case, as the person and the clerk see it."""

    step: str
    outcome: str | None
    actor: str
    at: dt.datetime
    note: dict[str, Any]


@dataclass(frozen=True)
class CaseRow:
    """A case with its steps, oldest first."""

    id: int
    kind: str
    person_id: int
    fact_id: int | None
    source: str | None
    region: str | None
    opened_at: dt.datetime
    due_on: dt.date
    state: str
    detail: dict[str, Any]
    steps: list[Step] = field(default_factory=list)

    def outcome(self) -> str | None:
        """The decision's outcome, once decided."""
        return next((st.outcome for st in self.steps if st.step == "decided"), None)


def is_overdue(case: CaseRow, today: dt.date) -> bool:
    """Open after its due date is over."""
    return case.state == "open" and today > case.due_on


def _json(raw: str | None) -> dict[str, Any]:
    value = json.loads(raw) if raw else {}
    return value if isinstance(value, dict) else {}


def fetch_cases(
    conn: sa.Connection,
    *,
    case_id: int | None = None,
    person_id: int | None = None,
    kind: str | None = None,
    state: str | None = None,
    source: str | None = None,
    region_prefix: str | None = None,
    limit: int = 500,
) -> list[CaseRow]:
    """Cases matching every filter given, newest first, each with its steps."""
    query = sa.select(_C).order_by(_C.c.id.desc()).limit(limit)
    for column, value in (
        (_C.c.id, case_id),
        (_C.c.person_id, person_id),
        (_C.c.kind, kind),
        (_C.c.state, state),
        (_C.c.source, source),
    ):
        if value is not None:
            query = query.where(column == value)
    if region_prefix:
        query = query.where(_C.c.region.startswith(region_prefix, autoescape=True))
    rows = conn.execute(query).all()
    steps: dict[int, list[Step]] = defaultdict(list)
    ids = [int(r.id) for r in rows]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found = conn.execute(sa.select(_S).where(_S.c.case_id.in_(chunk)).order_by(_S.c.id)).all()
        for st in found:
            steps[int(st.case_id)].append(
                Step(st.step, st.outcome, st.actor, st.at, _json(st.note))
            )
    return [
        CaseRow(
            int(r.id),
            r.kind,
            int(r.person_id),
            None if r.fact_id is None else int(r.fact_id),
            r.source,
            r.region,
            r.opened_at,
            r.due_on,
            r.state,
            _json(r.detail),
            steps[int(r.id)],
        )
        for r in rows
    ]
