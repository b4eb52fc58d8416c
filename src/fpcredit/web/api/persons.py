"""Staff and department reads of a person: search, file, credit result and its explanation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from fpcredit.errors import InvalidIdNumber
from fpcredit.link.file import find_persons, person_file
from fpcredit.messages import text
from fpcredit.standard.idcard import normalize
from fpcredit.web.api.views import (
    CreditView,
    ExplanationView,
    PersonView,
    person_view,
)
from fpcredit.web.deps import (
    PROBLEMS,
    AsOf,
    CurrentCaller,
    PersonId,
    PurposeQuery,
    ServicesDep,
    audit,
    invalid,
)
from fpcredit.web.reads import credit_of, explanation, file_of

router = APIRouter(prefix="/v1/persons", tags=["persons"], responses=PROBLEMS)

Reveal = Annotated[
    bool, Query(description="Ask for unmasked identifiers (only some roles may; always logged).")
]


class Search(BaseModel):
    """Exactly one of the two: an ID number, or a full name (exact match by blind index)."""

    id_number: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, min_length=1, max_length=64)


class SearchResult(BaseModel):
    persons: list[PersonView]


@router.post("/search", response_model=SearchResult)
def search(
    body: Search, purpose: PurposeQuery, caller: CurrentCaller, services: ServicesDep
) -> SearchResult:
    """Find persons by ID number or full name, within the caller's region; results masked."""
    if bool(body.id_number) == bool(body.name):
        raise invalid(["body"], text("web.search_one_key"))
    number = None
    if body.id_number:
        try:
            number = normalize(body.id_number)
        except InvalidIdNumber as e:
            raise invalid(["body", "id_number"], text("web.id_invalid", reason=e.reason)) from None
    found = []
    for pid in find_persons(services.store, services.vault, number, body.name):
        file = person_file(services.store, services.vault, pid)
        if file is None or not caller.principal.covers(file.hukou_region, file.residence_region):
            continue
        audit(services, caller.principal, caller.rule, "allowed", caller.purpose, pid)
        found.append(person_view(file, caller.principal.role, reveal=False))
    return SearchResult(persons=found)


@router.get("/{person_id}", response_model=PersonView)
def read(
    person_id: PersonId,
    purpose: PurposeQuery,
    caller: CurrentCaller,
    services: ServicesDep,
    reveal: Reveal = False,
) -> PersonView:
    """A person's file, masked by role unless `reveal` is asked by a role that may."""
    assert caller.person_id is not None
    view = file_of(services, caller.person_id, caller.principal.role, reveal)
    if not view.masked:
        audit(services, caller.principal, caller.rule, "unmasked", caller.purpose, view.person_id)
    return view


@router.get("/{person_id}/credit", response_model=CreditView)
async def credit(
    person_id: PersonId, purpose: PurposeQuery, caller: CurrentCaller, services: ServicesDep
) -> Response:
    """The person's total, grade, points and scores in the latest official evaluation."""
    assert caller.person_id is not None
    return await credit_of(services, caller.person_id)


@router.get("/{person_id}/explanation", response_model=ExplanationView)
def explain(
    person_id: PersonId,
    purpose: PurposeQuery,
    caller: CurrentCaller,
    services: ServicesDep,
    as_of: AsOf = None,
    reveal: Reveal = False,
) -> ExplanationView:
    """Each indicator's value, points, weight and facts; the fewest actions to a better grade.

    Dates by month unless `reveal` is asked by a role that may (then to the day, logged)."""
    assert caller.person_id is not None
    view = explanation(services, caller.person_id, as_of, caller.principal.role, reveal)
    if view.date_precision == "day":
        audit(services, caller.principal, caller.rule, "unmasked", caller.purpose, view.person_id)
    return view
