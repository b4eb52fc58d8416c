"""The citizen's data-subject requests: the export of their file (JSON, PDF) and feedback."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, StringConstraints

from fpcredit.errors import FpcreditError
from fpcredit.evaluate.active import active_policy
from fpcredit.incentives.catalogue import find
from fpcredit.messages import language
from fpcredit.store.db import utc_now
from fpcredit.subjects.feedback import ABOUT, COMPLAINT_MAX, Feedback, FeedbackError, submit
from fpcredit.subjects.pdf import render_pdf
from fpcredit.web.api.views import CreditView, PersonView, UtcTime
from fpcredit.web.deps import PROBLEMS, CurrentCaller, ServicesDep, invalid
from fpcredit.web.reads import credit_of, explanation, file_of

__all__ = ["router"]

router = APIRouter(prefix="/v1/me", tags=["me"], responses=PROBLEMS)

ACCESS_COUNTED = 1000  # the newest entries of the access log the export summarises
ACCESS_LISTED = 20  # of which the newest are listed one by one


class DimensionLine(BaseModel):
    dimension: str
    name: str
    score: str | None


class IndicatorLine(BaseModel):
    indicator: str
    name: str
    status: str
    points: int | None


class ExplanationSummary(BaseModel):
    """The explanation's headline: the result, each dimension's score, each indicator's line."""

    as_of: str
    score_date: str
    grade_date: str
    policy: dict[str, str]
    total: str | None
    grade: str | None
    points: int | None
    dimensions: list[DimensionLine]
    indicators: list[IndicatorLine]


class AccessLine(BaseModel):
    at: UtcTime
    actor: str
    action: str
    purpose: str | None
    outcome: str


class AccessSummary(BaseModel):
    """Who read the file: the newest entries counted by action, the very newest listed."""

    counted: int = Field(description=f"Entries counted: the newest, at most {ACCESS_COUNTED}.")
    by_action: dict[str, int]
    newest: list[AccessLine]


class ExportView(BaseModel):
    """What the platform holds about the citizen, as their own views show it (PIPL art. 45)."""

    generated_at: UtcTime
    language: Literal["zh", "en"]
    file: PersonView
    credit: CreditView | None = Field(description="Null when not evaluated yet.")
    explanation: ExplanationSummary | None = Field(description="Null when not evaluated yet.")
    access_log: AccessSummary


Format = Annotated[
    Literal["json", "pdf"], Query(description="`json` (default) or `pdf` (Chinese, or English)")
]

_PDF = "application/pdf"
_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The export: JSON, or with `format=pdf` a PDF document.",
        "content": {_PDF: {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _summary(report: dict[str, Any]) -> ExplanationSummary:
    return ExplanationSummary(
        as_of=report["as_of"],
        score_date=report["score_date"],
        grade_date=report["grade_date"],
        policy={k: str(v) for k, v in report["policy"].items()},
        total=report["total"],
        grade=report["grade"],
        points=report["points"],
        dimensions=[
            DimensionLine(dimension=d["dimension"], name=d["name"], score=d["score"])
            for d in report["dimensions"]
        ],
        indicators=[
            IndicatorLine(
                indicator=i["indicator"], name=i["name"], status=i["status"], points=i["points"]
            )
            for i in report["indicators"]
        ],
    )


def _access(services: ServicesDep, person_id: int) -> AccessSummary:
    page = services.trail.for_subject(str(person_id), limit=ACCESS_COUNTED)
    entries = [p.entry for p in page.entries]
    counts = Counter(e.action for e in entries)
    return AccessSummary(
        counted=len(entries),
        by_action=dict(sorted(counts.items())),
        newest=[
            AccessLine(
                at=e.at, actor=e.actor, action=e.action, purpose=e.purpose, outcome=e.outcome
            )
            for e in entries[:ACCESS_LISTED]
        ],
    )


def _document(
    services: ServicesDep, caller: CurrentCaller, credit: CreditView | None
) -> ExportView:
    person_id = caller.person_id
    assert person_id is not None
    role = caller.principal.role
    summary = None
    if credit is not None:
        summary = _summary(explanation(services, person_id, None, role, reveal=False).model_dump())
    return ExportView(
        generated_at=utc_now().replace(microsecond=0),
        language=language(),
        file=file_of(services, person_id, role, reveal=False),
        credit=credit,
        explanation=summary,
        access_log=_access(services, person_id),
    )


@router.get(
    "/export",
    response_model=ExportView,
    responses=_EXPORT_RESPONSES,
)
async def my_export(
    caller: CurrentCaller, services: ServicesDep, format: Format = "json"
) -> Response:
    """My file as the departments hold it, my latest grade and its explanation, and who read my
    data: as JSON, or as a PDF in my language (PIPL art. 45). The export is on my access log."""
    assert caller.person_id is not None
    try:
        answer = await credit_of(services, caller.person_id)
        credit: CreditView | None = CreditView.model_validate_json(bytes(answer.body))
    except HTTPException as e:
        if e.status_code != 404:
            raise
        credit = None
    doc = await run_in_threadpool(_document, services, caller, credit)
    if format == "json":
        return Response(doc.model_dump_json(), media_type="application/json")
    try:
        pdf = await run_in_threadpool(render_pdf, doc.model_dump(mode="json"))
    except FpcreditError as e:
        raise HTTPException(503, str(e)) from None
    name = f"fpcredit-export-{caller.person_id}.pdf"
    return Response(
        pdf, media_type=_PDF, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


Satisfaction = Annotated[int, Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")]
Ref = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
    Field(description="The incentive's id, or the case's id."),
]


class FeedbackIn(BaseModel):
    """Satisfaction with an incentive or a case, and an optional complaint (stored sealed)."""

    about: Literal["incentive", "case"]
    ref: Ref
    satisfaction: Satisfaction
    complaint: str | None = Field(
        None, max_length=COMPLAINT_MAX, description=f"At most {COMPLAINT_MAX} characters."
    )


class FeedbackOut(BaseModel):
    id: int
    about: Literal["incentive", "case"]
    ref: str
    satisfaction: int
    complaint: bool = Field(description="Whether a complaint was recorded (its text is not shown).")
    received_at: UtcTime


@router.post("/feedback", response_model=FeedbackOut, status_code=201)
def my_feedback(body: FeedbackIn, caller: CurrentCaller, services: ServicesDep) -> FeedbackOut:
    """Tell how satisfied I am with an incentive or a case (1–5), and complain if I must."""
    assert caller.person_id is not None
    assert body.about in ABOUT

    def known(about: str, ref: str) -> bool:
        # An incentive must be in the active catalogue; a case id is the cases' own to check.
        return about != "incentive" or find(active_policy(services.store), ref) is not None

    try:
        stored: Feedback = submit(
            services.store,
            services.vault,
            caller.person_id,
            about=body.about,
            ref=body.ref,
            satisfaction=body.satisfaction,
            complaint=body.complaint,
            known=known,
        )
    except FeedbackError as e:
        raise invalid(["body", e.field], str(e)) from None
    return FeedbackOut(
        id=stored.id,
        about=body.about,
        ref=stored.ref,
        satisfaction=stored.satisfaction,
        complaint=stored.complaint,
        received_at=stored.created_at,
    )
