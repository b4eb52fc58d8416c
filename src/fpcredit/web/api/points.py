"""The points ledger over HTTP: my balance and entries, the catalogue, redemptions, cancellation."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, HTTPException, Path, Query
from pydantic import BaseModel, Field

from fpcredit.evaluate.active import active_policy
from fpcredit.incentives.points import PointsError, account_of, balance, cancel, lines, redeem
from fpcredit.messages import text
from fpcredit.web.api.views import UtcTime
from fpcredit.web.deps import MAX_ID, PROBLEMS, CurrentCaller, Problem, ServicesDep, invalid

router = APIRouter(tags=["points"], responses=PROBLEMS)

KEY: Final = re.compile(r"[A-Za-z0-9_.:-]{8,64}")
# A refusal's status by PointsError.code.
STATUS: Final = {"key_reused": 409, "closed": 409, "insufficient": 409, "not_found": 404,
                 "not_provider": 403}  # fmt: skip
_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The Idempotency-Key header is missing or invalid."},
    409: {
        "model": Problem,
        "description": "Not enough points, the service is closed, or the key was used for "
        "another request.",
    },
}


class Name(BaseModel):
    zh: str
    en: str


class RedeemableView(BaseModel):
    id: str
    name: Name
    department: str
    price: int
    valid_from: dt.date
    valid_until: dt.date | None
    open_today: bool


class Catalogue(BaseModel):
    redeemables: list[RedeemableView]


class EntryView(BaseModel):
    entry_id: int
    txn_id: str
    kind: str  # earning | redemption | reversal
    amount: int  # points: > 0 in, < 0 out
    at: UtcTime
    evaluation_id: int | None
    redemption_id: int | None


class PointsView(BaseModel):
    balance: int
    entries: list[EntryView]  # newest first
    next_before: int | None  # pass as `before` for the next page; None: no more


class RedemptionRequest(BaseModel):
    redeemable: str = Field(min_length=1, max_length=40)


class RedemptionView(BaseModel):
    redemption_id: int
    redeemable: str
    department: str
    price: int
    txn_id: str
    created_at: UtcTime


class CancellationView(BaseModel):
    redemption_id: int
    status: str  # cancelled
    txn_id: str  # the reversal's
    refunded: int
    cancelled_at: UtcTime


@router.get("/v1/redeemables", response_model=Catalogue)
def redeemables(services: ServicesDep) -> Catalogue:
    """The services points can be exchanged for, from the active policy."""
    today = dt.datetime.now(dt.UTC).date()
    items = active_policy(services.store).policy.redeemables
    return Catalogue(
        redeemables=[
            RedeemableView(
                id=r.id,
                name=Name(zh=r.name.zh, en=r.name.en),
                department=r.department,
                price=r.price,
                valid_from=r.valid_from,
                valid_until=r.valid_until,
                open_today=r.open_on(today),
            )
            for r in items
        ]
    )


@router.get("/v1/me/points", response_model=PointsView)
def my_points(
    caller: CurrentCaller,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> PointsView:
    """My points balance and my ledger entries, newest first, a page at a time."""
    assert caller.person_id is not None
    with services.store.engine.connect() as conn:
        account = account_of(conn, person_id=caller.person_id)
        have = balance(conn, account)
        page = lines(conn, account, limit + 1, before)
    more = len(page) > limit
    page = page[:limit]
    return PointsView(
        balance=have,
        entries=[EntryView(**vars(line)) for line in page],
        next_before=page[-1].entry_id if more else None,
    )


@router.post(
    "/v1/me/redemptions", response_model=RedemptionView, status_code=201, responses=_REFUSALS
)
def my_redemption(
    body: RedemptionRequest,
    caller: CurrentCaller,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> RedemptionView:
    """Exchange points for a service. The Idempotency-Key header binds the request: sent again
    with the same body it answers what it answered first, with another body 409."""
    assert caller.person_id is not None
    if idempotency_key is None:
        raise HTTPException(400, text("points.key_missing"))
    if not KEY.fullmatch(idempotency_key):
        raise HTTPException(400, text("points.key_invalid"))
    principal = caller.principal
    try:
        done, _ = redeem(
            services.store, caller.person_id, body.redeemable, idempotency_key,
            active_policy(services.store).policy.redeemables,
            actor=f"{principal.role.value}:{principal.subject}",
        )  # fmt: skip
    except PointsError as e:
        if e.code == "unknown":
            raise invalid(["body", "redeemable"], str(e)) from None
        raise HTTPException(STATUS[e.code], str(e)) from None
    return RedemptionView(
        redemption_id=done.id, redeemable=done.redeemable, department=done.department,
        price=done.price, txn_id=done.txn_id, created_at=done.created_at,
    )  # fmt: skip


@router.post("/v1/redemptions/{redemption_id}/cancel", response_model=CancellationView)
def cancel_redemption(
    redemption_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    caller: CurrentCaller,
    services: ServicesDep,
) -> CancellationView:
    """The providing department cancels a redemption it cannot serve: the points go back by a
    new reversing entry. Cancelling again answers the same reversal."""
    principal = caller.principal
    try:
        done = cancel(
            services.store, redemption_id, principal.source,
            actor=f"{principal.role.value}:{principal.subject}",
        )  # fmt: skip
    except PointsError as e:
        raise HTTPException(STATUS[e.code], str(e)) from None
    return CancellationView(
        redemption_id=done.redemption_id, status="cancelled", txn_id=done.txn_id,
        refunded=done.refunded, cancelled_at=done.cancelled_at,
    )  # fmt: skip
