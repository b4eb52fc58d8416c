"""The citizen's own file, credit, explanation and access log (who read my data, and why)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from fpcredit.messages import language
from fpcredit.notify.inbox import for_person
from fpcredit.web.api.audit import signed_head
from fpcredit.web.api.views import (
    CreditView,
    ExplanationView,
    PersonView,
    UtcTime,
)
from fpcredit.web.deps import PROBLEMS, AsOf, CurrentCaller, ServicesDep
from fpcredit.web.reads import credit_of, explanation, file_of

router = APIRouter(prefix="/v1/me", tags=["me"], responses=PROBLEMS)


class Access(BaseModel):
    """One read of the citizen's data, with its proof of inclusion in the signed log."""

    index: int
    at: UtcTime
    actor: str
    action: str
    outcome: str
    purpose: str | None
    leaf_hash: str
    inclusion_proof: list[str]


class AccessLog(BaseModel):
    tree_size: int
    root_hash: str
    checkpoint: str
    entries: list[Access]


class Notification(BaseModel):
    """One notification to the citizen, in the language of the request."""

    message_id: str
    kind: str
    created_at: UtcTime
    delivered: bool
    text: str


class Notifications(BaseModel):
    total: int
    limit: int
    offset: int
    notifications: list[Notification]


@router.get("", response_model=PersonView)
def me(caller: CurrentCaller, services: ServicesDep) -> PersonView:
    """My file as the departments hold it."""
    assert caller.person_id is not None
    return file_of(services, caller.person_id, caller.principal.role, reveal=False)


@router.get("/credit", response_model=CreditView)
async def my_credit(caller: CurrentCaller, services: ServicesDep) -> Response:
    """My total, grade and points in the latest official evaluation."""
    assert caller.person_id is not None
    return await credit_of(services, caller.person_id)


@router.get("/explanation", response_model=ExplanationView)
def my_explanation(
    caller: CurrentCaller,
    services: ServicesDep,
    as_of: AsOf = None,
) -> ExplanationView:
    """Why my grade is what it is, and what would raise it."""
    assert caller.person_id is not None
    return explanation(services, caller.person_id, as_of, caller.principal.role, reveal=False)


@router.get("/access-log", response_model=AccessLog)
def access_log(
    caller: CurrentCaller,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AccessLog:
    """Who read my data and why, newest first, each entry with its inclusion proof."""
    assert caller.person_id is not None
    note, head = signed_head(services)
    page = services.trail.for_subject(str(caller.person_id), size=head.size, limit=limit)
    newest = page.entries
    return AccessLog(
        tree_size=page.size,
        root_hash=page.root.hex(),
        checkpoint=note,
        entries=[
            Access(
                index=p.entry.idx,
                at=p.entry.at,
                actor=p.entry.actor,
                action=p.entry.action,
                outcome=p.entry.outcome,
                purpose=p.entry.purpose,
                leaf_hash=p.entry.leaf_hash.hex(),
                inclusion_proof=[h.hex() for h in p.proof],
            )
            for p in newest
        ],
    )


@router.get("/notifications", response_model=Notifications)
def my_notifications(
    caller: CurrentCaller,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Notifications:
    """What I was told (grade changes, eligibility, my cases), newest first, a page at a time."""
    assert caller.person_id is not None
    total, page = for_person(services.store, caller.person_id, language(), limit, offset)
    return Notifications(
        total=total,
        limit=limit,
        offset=offset,
        notifications=[Notification(**item) for item in page],
    )
