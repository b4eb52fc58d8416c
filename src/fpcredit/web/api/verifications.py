"""Department verification (R20, 可用不可见): a person or a list, eligible or not, nothing more."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from fpcredit.guard.access import Purpose, Role
from fpcredit.guard.auth.clients import client_incentives
from fpcredit.guard.trail.log import Event
from fpcredit.incentives.catalogue import in_force
from fpcredit.incentives.pseudonyms import TOKEN_PATTERN, Pseudonyms
from fpcredit.incentives.verification import (
    ACTION,
    MAX_BATCH_ROWS,
    Answer,
    BatchRow,
    Department,
    VerificationError,
    Verifier,
)
from fpcredit.messages import text
from fpcredit.web.api.views import UtcTime
from fpcredit.web.deps import PROBLEMS, CurrentCaller, Services, ServicesDep, invalid

__all__ = ["BATCH_MAX_BODY_BYTES", "router"]

# The batch route's own body limit (FPCREDIT_MAX_BODY_BYTES, 64 KiB, holds for every other
# route): an enrolment list of 50,000 parents is about 5 MB of JSON.
BATCH_MAX_BODY_BYTES: Final = 16 * 1024 * 1024

router = APIRouter(prefix="/v1/verifications", tags=["verifications"], responses=PROBLEMS)

IdNumber = Annotated[str | None, Field(default=None, min_length=1, max_length=32)]
Token = Annotated[str | None, Field(default=None, max_length=40)]


class IncentiveVerificationRequest(BaseModel):
    """Exactly one of `id_number` and `person_token` (the one this department was given)."""

    model_config = ConfigDict(extra="forbid")

    id_number: IdNumber = None
    person_token: Token = None
    incentive: str = Field(min_length=1, max_length=40)
    purpose: str = Field(min_length=1, max_length=32, description="incentive_verification")


class IncentiveVerification(BaseModel):
    """The whole answer: no score, no grade, no name, no other department's data."""

    model_config = ConfigDict(extra="forbid")

    eligible: bool
    verification_id: str
    expires_at: UtcTime
    person_token: str = Field(pattern=TOKEN_PATTERN)


class VerificationRow(BaseModel):
    """One row: an ID number, a token, or a name and birth date (sex, region help to match)."""

    model_config = ConfigDict(extra="forbid")

    id_number: IdNumber = None
    person_token: Token = None
    name: str | None = Field(default=None, max_length=64)
    birth_date: str | None = Field(default=None, max_length=16)
    sex: str | None = Field(default=None, max_length=8)
    region: str | None = Field(default=None, max_length=12)


class VerificationBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incentive: str = Field(min_length=1, max_length=40)
    purpose: str = Field(min_length=1, max_length=32, description="incentive_verification")
    rows: list[VerificationRow] = Field(max_length=MAX_BATCH_ROWS)


class VerificationRowResult(BaseModel):
    """One row's answer (`row` counts from 0): the four fields, or `error` saying why not."""

    model_config = ConfigDict(extra="forbid")

    row: int
    eligible: bool | None = None
    verification_id: str | None = None
    expires_at: UtcTime | None = None
    person_token: str | None = Field(default=None, pattern=TOKEN_PATTERN)
    error: str | None = None


class VerificationBatchAnswer(BaseModel):
    results: list[VerificationRowResult]


def _verifier(request: Request, services: ServicesDep) -> Verifier:
    """The app's verifier, made at its first use (its token keys are read once)."""
    made: Verifier | None = getattr(request.app.state, "verifier", None)
    if made is None:
        store = services.store
        made = Verifier(
            store,
            services.vault,
            Pseudonyms(services.settings.keys_dir),
            services.results.person,
            lambda: in_force(store),
        )
        request.app.state.verifier = made
    return made


VerifierDep = Annotated[Verifier, Depends(_verifier)]


def _department(caller: CurrentCaller, services: Services) -> Department:
    principal = caller.principal
    if principal.role is not Role.DEPARTMENT or principal.source is None:
        raise HTTPException(403, text("incentive.not_department"))
    return Department(
        principal.subject,
        principal.source,
        client_incentives(services.store, principal.subject),
        principal.purposes,
    )


def _refused(e: VerificationError) -> HTTPException:
    if e.status == 422:
        return invalid(["body", e.field], str(e))
    return HTTPException(e.status, str(e))


def _events(caller: CurrentCaller, answers: list[Answer]) -> list[Event]:
    """One access entry per person verified: the citizen's access log shows who checked."""
    actor = f"{caller.principal.role.value}:{caller.principal.subject}"
    purpose = Purpose.INCENTIVE_VERIFICATION.value
    return [
        Event(actor, ACTION, outcome="allowed", subject=str(a.person_id), purpose=purpose)
        for a in answers
    ]


@router.post("", response_model=IncentiveVerification)
def verify(
    body: IncentiveVerificationRequest,
    caller: CurrentCaller,
    services: ServicesDep,
    verifier: VerifierDep,
) -> IncentiveVerification:
    """Whether the person qualifies for the incentive now; the answer and the trail entry are
    written before it is given."""
    dept = _department(caller, services)
    try:
        answer = verifier.verify(
            dept, body.incentive, body.purpose, body.id_number, body.person_token
        )
    except VerificationError as e:
        raise _refused(e) from None
    services.commits.append(_events(caller, [answer])[0])
    return IncentiveVerification(
        eligible=answer.eligible,
        verification_id=answer.verification_id,
        expires_at=answer.expires_at,
        person_token=answer.person_token,
    )


@router.post("/batch", response_model=VerificationBatchAnswer, response_model_exclude_none=True)
async def verify_batch(
    body: VerificationBatch,
    caller: CurrentCaller,
    services: ServicesDep,
    verifier: VerifierDep,
) -> VerificationBatchAnswer:
    """Every row of a list answered, in order, nothing dropped (body up to 16 MiB)."""
    dept = await run_in_threadpool(_department, caller, services)
    rows = [BatchRow(**item.model_dump()) for item in body.rows]
    try:
        answered = await run_in_threadpool(
            verifier.verify_batch, dept, body.incentive, body.purpose, rows
        )
    except VerificationError as e:
        raise _refused(e) from None
    done = [r.answer for r in answered if r.answer is not None]
    if done:
        await run_in_threadpool(services.trail.append_many, _events(caller, done))
    results = [
        VerificationRowResult(
            row=r.row,
            eligible=r.answer.eligible,
            verification_id=r.answer.verification_id,
            expires_at=r.answer.expires_at,
            person_token=r.answer.person_token,
        )
        if r.answer is not None
        else VerificationRowResult(row=r.row, error=r.error)
        for r in answered
    ]
    return VerificationBatchAnswer(results=results)
