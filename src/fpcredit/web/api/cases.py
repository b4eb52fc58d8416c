"""Cases over HTTP: the citizen's objections, repairs, corrections and reviews; the clerks' queue.

A citizen opens cases on their own file and sees every step (`/v1/me/...`); a staff clerk sees
and decides the cases of persons inside their region (`/v1/cases`), any other is answered 404
as if it did not exist (and the refusal is on the trail). Deciding closes the case: the person
is re-evaluated (a `restated` step) and told the outcome. docs/services.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from fpcredit.cases.service import OUTCOMES, CaseError
from fpcredit.cases.store import CaseRow, is_overdue
from fpcredit.guard.masking import Dates
from fpcredit.messages import text
from fpcredit.web.api.views import UtcTime
from fpcredit.web.deps import (
    MAX_ID,
    PROBLEMS,
    CurrentCaller,
    Problem,
    Services,
    ServicesDep,
    audit,
)

__all__ = ["me_router", "router"]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    409: {"model": Problem, "description": "A case already open, decided, or too early."},
}
me_router = APIRouter(prefix="/v1/me", tags=["cases"], responses=_RESPONSES)
router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=_RESPONSES)

# Free text of a case: no NUL (PostgreSQL refuses it in text), bounded.
Words = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]
FactId = Annotated[int, Field(ge=1, le=MAX_ID, description="A fact id from the explanation.")]
CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="A case id.")]
Kind = Literal["objection", "repair", "correction", "review"]
Outcome = Literal["uphold", "correct", "reject", "approve", "refuse", "confirm", "revise"]
Note = dict[str, str | int | bool | None]


class StepView(BaseModel):
    step: str
    outcome: str | None
    actor: str
    at: UtcTime
    note: dict[str, Any]


class CaseView(BaseModel):
    """A case and every step of it; `due_on` is the last working day of its deadline."""

    id: int
    kind: str
    person_id: int
    fact_id: int | None
    source: str | None
    opened_at: UtcTime
    due_on: dt.date
    state: str
    overdue: bool
    outcome: str | None
    detail: dict[str, Any]
    steps: list[StepView]


class CaseList(BaseModel):
    today: dt.date  # the service's working day (China Standard Time)
    cases: list[CaseView]


class Objection(BaseModel):
    fact_id: FactId
    reason: Words


class Repair(BaseModel):
    fact_id: FactId
    evidence: Words


class Correction(BaseModel):
    fact_id: FactId
    what_is_wrong: Words


class Review(BaseModel):
    reason: Words


class Decision(BaseModel):
    """outcome by kind — objection: uphold | correct | reject; repair: approve | refuse;
    correction: correct | reject; review: confirm | revise. `corrected`: the department's
    corrected value, required for an objection answered `correct`."""

    outcome: Outcome
    reason: Words
    corrected: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")] | None = (
        None
    )


def _view(case: CaseRow, today: dt.date) -> CaseView:
    return CaseView(
        id=case.id,
        kind=case.kind,
        person_id=case.person_id,
        fact_id=case.fact_id,
        source=case.source,
        opened_at=case.opened_at,
        due_on=case.due_on,
        state=case.state,
        overdue=is_overdue(case, today),
        outcome=case.outcome(),
        detail=case.detail,
        steps=[StepView(**vars(st)) for st in case.steps],
    )


def _refused(e: CaseError) -> HTTPException:
    return HTTPException(e.status, str(e))


def _actor(caller: CurrentCaller) -> str:
    return f"{caller.principal.role.value}:{caller.principal.subject}"


def _explained(services: Services, person_id: int) -> dict[str, Any] | None:
    """The person's total and grade now, as of the latest official evaluation's date."""
    run = services.results.run()
    if run is None:
        return None
    try:
        report = services.explainer.explain(person_id, run["as_of"], Dates(exact=False))
    except Exception:  # not evaluated, or the workers are down: the case still moves
        return None
    return {
        "as_of": str(run["as_of"]),
        "total": report.get("total"),
        "grade": report.get("grade"),
        "policy_sha256": report.get("policy", {}).get("sha256"),
    }


def _restated(services: Services, person_id: int) -> dict[str, Any] | None:
    after = _explained(services, person_id)
    if after is None:
        return None
    official = services.results.person(person_id) or {}
    return {**after, "official_total": official.get("total"),
            "official_grade": official.get("grade")}  # fmt: skip


# -- the citizen ---------------------------------------------------------------------------------


@me_router.get("/cases", response_model=CaseList)
def my_cases(caller: CurrentCaller, services: ServicesDep) -> CaseList:
    """Every case I opened, newest first, with every step and its deadline."""
    assert caller.person_id is not None
    services.cases.overdue()
    today = services.cases.today()
    found = services.cases.of_person(caller.person_id)
    return CaseList(today=today, cases=[_view(c, today) for c in found])


@me_router.get("/cases/{case_id}", response_model=CaseView)
def my_case(case_id: CaseId, caller: CurrentCaller, services: ServicesDep) -> CaseView:
    """One of my cases."""
    assert caller.person_id is not None
    found = services.cases.of_person(caller.person_id, case_id)
    if not found:
        raise HTTPException(404, text("case.unknown", case=case_id))
    return _view(found[0], services.cases.today())


@me_router.post("/objections", response_model=CaseView, status_code=201)
def object_to(body: Objection, caller: CurrentCaller, services: ServicesDep) -> CaseView:
    """Dispute one fact of my file (R23): it stops counting at once, until a clerk decides."""
    assert caller.person_id is not None
    try:
        case = services.cases.object(caller.person_id, body.fact_id, body.reason, _actor(caller))
    except CaseError as e:
        raise _refused(e) from None
    return _view(case, services.cases.today())


@me_router.post("/repairs", response_model=CaseView, status_code=201)
def apply_for_repair(body: Repair, caller: CurrentCaller, services: ServicesDep) -> CaseView:
    """Apply for credit repair of a negative event after its minimum disclosure period (R15)."""
    assert caller.person_id is not None
    try:
        case = services.cases.repair(caller.person_id, body.fact_id, body.evidence, _actor(caller))
    except CaseError as e:
        raise _refused(e) from None
    return _view(case, services.cases.today())


@me_router.post("/corrections", response_model=CaseView, status_code=201)
def request_correction(body: Correction, caller: CurrentCaller, services: ServicesDep) -> CaseView:
    """Ask the department that provided a fact to correct it (PIPL art. 46)."""
    assert caller.person_id is not None
    try:
        case = services.cases.correction(
            caller.person_id, body.fact_id, body.what_is_wrong, _actor(caller)
        )
    except CaseError as e:
        raise _refused(e) from None
    return _view(case, services.cases.today())


@me_router.post("/reviews", response_model=CaseView, status_code=201)
def request_review(body: Review, caller: CurrentCaller, services: ServicesDep) -> CaseView:
    """Ask a clerk to review my grade (PIPL art. 24), the explanation's numbers attached."""
    assert caller.person_id is not None
    snapshot = _explained(services, caller.person_id) or {}
    case = services.cases.review(caller.person_id, body.reason, snapshot, _actor(caller))
    return _view(case, services.cases.today())


# -- the clerk -----------------------------------------------------------------------------------


@router.get("", response_model=CaseList)
def queue(
    caller: CurrentCaller,
    services: ServicesDep,
    kind: Kind | None = None,
    state: Literal["open", "closed"] | None = None,
    overdue: bool | None = None,
    source: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CaseList:
    """The cases of persons in my region, newest first; `source` filters by the department that
    provided the fact. Each person listed is put on the trail."""
    services.cases.overdue()
    today = services.cases.today()
    found = services.cases.queue(
        caller.principal.scope, kind=kind, state=state, source=source, overdue=overdue,
        limit=limit,
    )  # fmt: skip
    for person_id in sorted({c.person_id for c in found}):  # each person read, on the trail
        audit(services, caller.principal, caller.rule, "allowed", caller.purpose, person_id)
    return CaseList(today=today, cases=[_view(c, today) for c in found])


@router.post("/{case_id}/decision", response_model=CaseView)
async def decide(
    case_id: CaseId, body: Decision, caller: CurrentCaller, services: ServicesDep
) -> CaseView:
    """Decide a case of my region and close it: the person is re-evaluated and told."""
    return await run_in_threadpool(_decide, case_id, body, caller, services)


def _decide(case_id: int, body: Decision, caller: CurrentCaller, services: Services) -> CaseView:
    cases = services.cases
    try:
        case = cases.get(case_id)
    except CaseError as e:
        raise _refused(e) from None
    if not caller.principal.covers(case.region):
        audit(services, caller.principal, caller.rule, "refused_region", caller.purpose,
              case.person_id)  # fmt: skip
        raise HTTPException(404, text("case.unknown", case=case_id))
    if body.outcome not in OUTCOMES[case.kind]:
        allowed = ", ".join(OUTCOMES[case.kind])
        raise HTTPException(422, text("case.bad_outcome", outcome=body.outcome, allowed=allowed))
    if case.kind == "objection" and body.outcome == "correct" and body.corrected is None:
        raise HTTPException(422, text("case.corrected_value_required"))
    note: Note = {} if body.corrected is None else {"corrected": body.corrected}
    actor = _actor(caller)
    try:
        decided = case.outcome()
        if case.state != "open" or decided is None:
            cases.decide(case_id, body.outcome, body.reason, actor, note)
        elif decided != body.outcome:
            raise CaseError(409, text("case.already_decided", case=case_id))
        # else: decided, not closed — the process stopped between the two transactions; the
        # same decision again finishes it instead of leaving the case open for good.
        closed = cases.close(case_id, actor, lambda pid: _restated(services, pid))
    except CaseError as e:
        raise _refused(e) from None
    audit(services, caller.principal, caller.rule, "allowed", caller.purpose, case.person_id)
    return _view(closed, cases.today())
