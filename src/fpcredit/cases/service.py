"""The case service: open, decide, close and alert on objections, repairs, corrections, reviews.

Every write is one transaction holding the rows, their trail entries (`record_rows`), a fact's
disputed state (`Trail.record_fact_state`) when it changes, and the notification announcing it
(notify/outbox.py). The clock is injected, so tests move time; due dates are counted in
working days (cases/calendar.py) on China Standard Time dates. docs/services.md.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.cases.calendar import Calendar, default_calendar
from fpcredit.cases.store import CaseRow, fetch_cases, is_overdue
from fpcredit.errors import FpcreditError
from fpcredit.evaluate.compile.dates import add_months
from fpcredit.evaluate.policy_model import Policy
from fpcredit.guard.trail.log import Trail, record_rows
from fpcredit.messages import text
from fpcredit.notify.outbox import Param, enqueue
from fpcredit.store import schema as s
from fpcredit.store.db import local_day, utc_now

__all__ = [
    "KINDS",
    "OUTCOMES",
    "CaseError",
    "Cases",
    "Clock",
    "Restate",
]

Clock = Callable[[], dt.datetime]
# The person's total and grade after a case closed ({"as_of", "total", "grade"}), or None.
Restate = Callable[[int], Mapping[str, Any] | None]
KINDS: Final = ("objection", "repair", "correction", "review")
OUTCOMES: Final[dict[str, tuple[str, ...]]] = {
    "objection": ("uphold", "correct", "reject"),
    "repair": ("approve", "refuse"),
    "correction": ("correct", "reject"),
    "review": ("confirm", "revise"),
}
REVIEW_AUDIENCE: Final = "clerk"  # a review has no providing department: the clerks' queue
_C, _S, _F = s.cases, s.case_steps, s.facts
_PURPOSE: Final = "objection_handling"

_IN_FILE = sa.text(
    """
SELECT f.id, f.source, f.kind, f.event_date, f.attrs, f.superseded_at
FROM facts f JOIN links l ON l.mention_id = f.subject_mention_id
WHERE f.id = :fact AND (l.person_id = :person OR l.person_id IN (
  SELECT cl.person_id FROM facts b
  JOIN mentions p ON p.record_id = b.record_id AND p.role IN ('mother', 'father')
  JOIN links pl ON pl.mention_id = p.id
  JOIN mentions c ON c.record_id = b.record_id AND c.role = 'child'
  JOIN links cl ON cl.mention_id = c.id
  WHERE b.kind = 'birth_registration' AND pl.person_id = :person))
"""
)


class CaseError(FpcreditError):
    """A refused case request, with the HTTP status the service answers it with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class _Fact:
    id: int
    source: str
    kind: str
    event_date: dt.date
    attrs: dict[str, Any]


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


class Cases:
    """The cases of one store: `policy` gives the deadlines and severities in force."""

    def __init__(
        self,
        trail: Trail,
        policy: Callable[[], Policy],
        *,
        clock: Clock = utc_now,
        calendar: Calendar | None = None,
    ) -> None:
        self.trail = trail
        self.store = trail.store
        self.policy = policy
        self.clock = clock
        self.calendar = calendar or default_calendar()

    @property
    def _keys(self) -> Any:
        return self.store.keys_dir

    # -- writing -------------------------------------------------------------------------------

    def _insert(self, conn: sa.Connection, table: sa.Table, by: str, **values: Any) -> int:
        new = int(conn.execute(table.insert().returning(table.c.id).values(**values)).scalar_one())
        record_rows(conn, table.name, new, new, by, f"case_{table.name}", keys_dir=self._keys)
        return new

    def _step(
        self,
        conn: sa.Connection,
        case_id: int,
        step: str,
        actor: str,
        at: dt.datetime,
        outcome: str | None = None,
        note: Mapping[str, Any] | None = None,
    ) -> int:
        payload = json.dumps(dict(note or {}), ensure_ascii=False, sort_keys=True)
        return self._insert(
            conn, _S, actor, case_id=case_id, step=step, outcome=outcome, actor=actor, at=at,
            note=payload,
        )  # fmt: skip

    def _fact(self, conn: sa.Connection, person_id: int, fact_id: int) -> _Fact:
        row = conn.execute(_IN_FILE, {"fact": fact_id, "person": person_id}).first()
        if row is None:
            raise CaseError(404, text("case.fact_not_yours", fact=fact_id))
        if row.superseded_at is not None:
            raise CaseError(422, text("case.fact_superseded", fact=fact_id))
        attrs = json.loads(row.attrs) if row.attrs else {}
        return _Fact(int(row.id), row.source, row.kind, _date(row.event_date), attrs)

    def _region(self, conn: sa.Connection, person_id: int) -> str | None:
        p = s.persons
        region = conn.execute(sa.select(p.c.hukou_region).where(p.c.id == person_id)).scalar()
        return None if region is None else str(region)

    def _open(
        self,
        conn: sa.Connection,
        kind: str,
        person_id: int,
        fact: _Fact | None,
        detail: Mapping[str, Any],
        actor: str,
    ) -> int:
        now = self.clock()
        due = self.calendar.add_working_days(local_day(now), self.policy().cases.days(kind))
        values = {
            "kind": kind,
            "person_id": person_id,
            "fact_id": fact.id if fact else None,
            "source": fact.source if fact else None,
            "region": self._region(conn, person_id),
            "opened_at": now,
            "due_on": due,
            "detail": json.dumps(dict(detail), ensure_ascii=False, sort_keys=True),
            "state": "open",
        }
        try:
            with conn.begin_nested():
                case_id = self._insert(conn, _C, actor, **values)
        except sa.exc.IntegrityError:
            raise CaseError(409, text("case.already_open", fact=fact.id if fact else 0)) from None
        self._step(conn, case_id, "opened", actor, now, note={"due_on": due.isoformat()})
        params: dict[str, Param] = {"case_id": case_id, "kind": kind, "due_on": due.isoformat()}
        enqueue(conn, "case_opened", person_id=person_id, params=params, at=now)
        enqueue(conn, "case_opened", person_id=person_id, audience=fact.source if fact else
                REVIEW_AUDIENCE, params=params, at=now)  # fmt: skip
        return case_id

    def _one(self, case_id: int) -> CaseRow:
        with self.store.engine.connect() as conn:
            found = fetch_cases(conn, case_id=case_id)
        if not found:
            raise CaseError(404, text("case.unknown", case=case_id))
        return found[0]

    def object(self, person_id: int, fact_id: int, reason: str, actor: str) -> CaseRow:
        """Dispute one fact of the person's file: a case, and the fact out of the score at once."""
        with self.store.engine.begin() as conn:
            fact = self._fact(conn, person_id, fact_id)
            case_id = self._open(conn, "objection", person_id, fact, {"reason": reason}, actor)
            conn.execute(sa.update(_F).where(_F.c.id == fact.id).values(disputed=True))
            self.trail.record_fact_state(fact.id, True, actor, _PURPOSE, conn=conn)
        return self._one(case_id)

    def repair(self, person_id: int, fact_id: int, evidence: str, actor: str) -> CaseRow:
        """Apply for credit repair of a negative event once its minimum disclosure period is over
        (R15); 409 before then, and after its maximum (it no longer counts by itself)."""
        with self.store.engine.begin() as conn:
            fact = self._fact(conn, person_id, fact_id)
            severity = fact.attrs.get("severity")
            rule = next((r for k, r in self.policy().severities.items() if k == severity), None)
            if fact.kind != "credit_event" or rule is None:
                raise CaseError(422, text("case.not_negative", fact=fact.id))
            today = local_day(self.clock())
            start = add_months(fact.event_date, rule.min_months)
            if today < start:
                raise CaseError(409, text("case.repair_too_early", day=start.isoformat()))
            end = add_months(fact.event_date, rule.max_months)
            if today >= end:
                raise CaseError(409, text("case.repair_expired", day=end.isoformat()))
            detail = {"evidence": evidence, "eligible_from": start.isoformat()}
            case_id = self._open(conn, "repair", person_id, fact, detail, actor)
            self._step(conn, case_id, "evidence", actor, self.clock(), note={"evidence": evidence})
        return self._one(case_id)

    def correction(self, person_id: int, fact_id: int, what_is_wrong: str, actor: str) -> CaseRow:
        """Ask the providing department to correct a fact (PIPL art. 46)."""
        with self.store.engine.begin() as conn:
            fact = self._fact(conn, person_id, fact_id)
            detail = {"what_is_wrong": what_is_wrong}
            case_id = self._open(conn, "correction", person_id, fact, detail, actor)
        return self._one(case_id)

    def review(
        self, person_id: int, reason: str, snapshot: Mapping[str, Any], actor: str
    ) -> CaseRow:
        """Ask a clerk to review the grade (PIPL art. 24), the explanation's numbers attached."""
        with self.store.engine.begin() as conn:
            detail = {"reason": reason, "explanation": dict(snapshot)}
            case_id = self._open(conn, "review", person_id, None, detail, actor)
        return self._one(case_id)

    def decide(
        self, case_id: int, outcome: str, reason: str, actor: str, note: Mapping[str, Any]
    ) -> CaseRow:
        """A clerk's decision: the `decided` step, and the fact's state it implies."""
        case = self._one(case_id)
        if outcome not in OUTCOMES[case.kind]:
            raise CaseError(
                422, text("case.bad_outcome", outcome=outcome,
                          allowed=", ".join(OUTCOMES[case.kind]))
            )  # fmt: skip
        if case.state != "open" or case.outcome() is not None:
            raise CaseError(409, text("case.already_decided", case=case_id))
        now = self.clock()
        try:
            with self.store.engine.begin() as conn:
                self._step(conn, case_id, "decided", actor, now, outcome,
                           {"reason": reason, **note})  # fmt: skip
                if case.kind == "objection" and outcome == "reject" and case.fact_id is not None:
                    conn.execute(
                        sa.update(_F).where(_F.c.id == case.fact_id).values(disputed=False)
                    )
                    self.trail.record_fact_state(case.fact_id, False, actor, _PURPOSE, conn=conn)
        except sa.exc.IntegrityError:
            raise CaseError(409, text("case.already_decided", case=case_id)) from None
        return self._one(case_id)

    def close(self, case_id: int, actor: str, restate: Restate | None = None) -> CaseRow:
        """Close a decided case: the person re-evaluated (a `restated` step with the total and
        grade after), the case closed and the person told the outcome, in one transaction."""
        case = self._one(case_id)
        outcome = case.outcome()
        if outcome is None:
            raise CaseError(409, text("case.not_decided", case=case_id))
        if case.state != "open":
            return case
        after = restate(case.person_id) if restate else None
        now = self.clock()
        try:
            with self.store.engine.begin() as conn:
                if after is not None:
                    self._step(conn, case_id, "restated", actor, now, note=after)
                self._step(conn, case_id, "closed", actor, now, outcome)
                conn.execute(sa.update(_C).where(_C.c.id == case_id).values(state="closed"))
                enqueue(
                    conn, "case_outcome", person_id=case.person_id, at=now,
                    params={"case_id": case_id, "kind": case.kind, "outcome": outcome},
                )  # fmt: skip
        except sa.exc.IntegrityError:  # closed meanwhile by another call
            pass
        return self._one(case_id)

    def overdue(self) -> int:
        """Alert once on every open case past its due date: an `overdue` step and a `case_step`
        notification to the providing department. Idempotent; returns the alerts raised."""
        now = self.clock()
        today = local_day(now)
        alerted = sa.select(_S.c.id).where(_S.c.case_id == _C.c.id, _S.c.step == "overdue").exists()
        with self.store.engine.connect() as conn:
            due = conn.execute(
                sa.select(_C.c.id, _C.c.person_id, _C.c.kind, _C.c.source, _C.c.due_on)
                .where(_C.c.state == "open", _C.c.due_on < today, ~alerted)
                .order_by(_C.c.id)
            ).all()
        raised = 0
        for row in due:
            try:
                with self.store.engine.begin() as conn:
                    note = {"due_on": _date(row.due_on).isoformat()}
                    self._step(conn, int(row.id), "overdue", "fpcredit", now, note=note)
                    enqueue(
                        conn, "case_step", person_id=int(row.person_id),
                        audience=row.source or REVIEW_AUDIENCE, at=now,
                        params={"case_id": int(row.id), "kind": row.kind, "step": "overdue",
                                "due_on": note["due_on"]},
                    )  # fmt: skip
                raised += 1
            except sa.exc.IntegrityError:  # another caller alerted first
                continue
        return raised

    # -- reading -------------------------------------------------------------------------------

    def of_person(self, person_id: int, case_id: int | None = None) -> list[CaseRow]:
        """The person's cases, newest first, each with every step."""
        with self.store.engine.connect() as conn:
            return fetch_cases(conn, person_id=person_id, case_id=case_id)

    def queue(
        self,
        region_prefix: str,
        *,
        kind: str | None = None,
        state: str | None = None,
        source: str | None = None,
        overdue: bool | None = None,
        limit: int = 200,
    ) -> list[CaseRow]:
        """A clerk's queue: the cases of persons in the region, filtered."""
        with self.store.engine.connect() as conn:
            rows = fetch_cases(
                conn, kind=kind, state=state, source=source, region_prefix=region_prefix,
                limit=limit if overdue is None else 10 * limit,
            )  # fmt: skip
        if overdue is not None:
            today = self.today()
            rows = [r for r in rows if is_overdue(r, today) == overdue][:limit]
        return rows

    def get(self, case_id: int) -> CaseRow:
        """One case (CaseError 404 when there is none)."""
        return self._one(case_id)

    def today(self) -> dt.date:
        """The service's day in China Standard Time."""
        return local_day(self.clock())
