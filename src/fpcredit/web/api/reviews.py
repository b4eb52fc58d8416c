"""Clerical review of doubtful links (人工复核, R4) over HTTP; manual merge and unmerge.

The library is link/review.py (the CLI's `fpcredit review`); these routes put the gate in front
of it. A clerk sees and decides only the pairs whose candidate person, or the record's mention,
lies in their region: any other is answered 404 as if it did not exist, the refusal on the
trail (as the case queue does). Names are masked and birth dates shown as years unless a role
that may asks `reveal` (then on the trail as `unmasked`); each person read is on the trail. A
decision is kept with the clerk (`role:username`), the time and the reason, and is itself a
change entry of the trail (link_decisions). docs/services.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from fpcredit.guard.access import Principal
from fpcredit.guard.masking import mask_birth_date, mask_name, may_reveal, today
from fpcredit.link.file import locate
from fpcredit.link.review import ReviewError, accept, merge, reject, show_review, unmerge
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.web.api.views import UtcTime
from fpcredit.web.deps import (
    MAX_ID,
    PROBLEMS,
    CurrentCaller,
    PersonId,
    Problem,
    PurposeQuery,
    Services,
    ServicesDep,
    audit,
)

__all__ = ["persons_router", "router"]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    400: {
        "model": Problem,
        "description": "The decision cannot be carried out (a sentence says why).",
    },
    409: {"model": Problem, "description": "The review was already decided."},
}
router = APIRouter(prefix="/v1/reviews", tags=["reviews"], responses=_RESPONSES)
persons_router = APIRouter(prefix="/v1/persons", tags=["reviews"], responses=_RESPONSES)

ReviewId = Annotated[int, Path(ge=1, le=MAX_ID, description="A review id.")]
Reason = Annotated[
    str,
    Field(min_length=2, max_length=500, pattern=r"^[^\x00]*$",
          description="Why (kept with the decision)."),
]  # fmt: skip
Reveal = Annotated[
    bool, Query(description="Ask for names and birth dates in clear (only some roles may; logged).")
]
Status = Literal["pending", "accepted", "rejected", "stale"]

# Which of the library's comparisons stands beside which field (link/linkage.yaml): `region`
# compares the hukou and residence counties together.
_COMPARISON = {
    "name": "name",
    "sex": "sex",
    "birth_date": "birth_date",
    "hukou_region": "region",
    "residence_region": "region",
}


class ReviewItem(BaseModel):
    """One doubtful pair in the queue; the name masked."""

    id: int
    status: str
    probability: float
    mention_id: int
    source: str
    record_key: str
    role: str
    mention_person_id: int | None
    candidate_person_id: int
    name: str | None


class ReviewQueue(BaseModel):
    total: int = Field(description="Pairs of this status in the caller's region.")
    reviews: list[ReviewItem]


class FieldView(BaseModel):
    """A field of both sides; `weight` is the match weight (Splink's, log2 of the Bayes factor)
    of the comparison that field takes part in."""

    field: str
    record: str | int | None
    person: str | int | None
    person_source: str | None
    comparison: str | None
    weight: float | None


class EvidenceView(BaseModel):
    """A comparison that stands beside no field shown (mother, kin, ID number)."""

    comparison: str
    weight: float


class ReviewDetail(BaseModel):
    """Both sides of a doubtful pair, field by field, each with its match weight."""

    id: int
    status: str
    probability: float
    model_version: str
    masked: bool = Field(description="Names masked, birth dates as years (unless revealed).")
    source: str
    record_key: str
    role: str
    mention_id: int = Field(description="The record's mention (what an unmerge splits off).")
    mention_person_id: int | None
    candidate_person_id: int
    fields: list[FieldView]
    evidence: list[EvidenceView]
    decided_by: str | None
    decided_at: UtcTime | None
    reason: str | None


class Decision(BaseModel):
    """`accept`: the record is the candidate person (its file joins the candidate's);
    `reject`: it is not, and no relink will join them."""

    action: Literal["accept", "reject"]
    reason: Reason


class Decided(BaseModel):
    review: int
    status: str
    person_id: int | None
    decided_by: str
    reason: str


class Merge(BaseModel):
    other: int = Field(ge=1, le=MAX_ID, description="The person whose records join this one.")
    reason: Reason


class Merged(BaseModel):
    person_id: int
    merged: int
    mentions_moved: int


class Unmerge(BaseModel):
    mention_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=1000, description="Mentions of this person to split off."
    )
    reason: Reason


class Unmerged(BaseModel):
    person_id: int
    new_person_id: int
    mentions_moved: int


def _actor(caller: CurrentCaller) -> str:
    return f"{caller.principal.role.value}:{caller.principal.subject}"


def _query() -> sa.Select[Any]:
    r, m, rec, lk, p = s.link_reviews, s.mentions, s.records, s.links, s.persons
    return (
        sa.select(
            r.c.id,
            r.c.status,
            r.c.probability,
            r.c.mention_id,
            r.c.candidate_person_id,
            rec.c.source,
            rec.c.record_key,
            m.c.role,
            m.c.name_enc,
            lk.c.person_id.label("mention_person_id"),
            p.c.hukou_region,
            p.c.residence_region,
            m.c.hukou_region.label("m_hukou"),
            m.c.residence_region.label("m_residence"),
        )
        .join(m, m.c.id == r.c.mention_id)
        .join(rec, rec.c.id == m.c.record_id)
        .join(p, p.c.id == r.c.candidate_person_id)
        .outerjoin(lk, lk.c.mention_id == m.c.id)
    )


def _scope(prefix: str) -> sa.ColumnElement[bool]:
    """A pair inside the scope `prefix` (region codes are digits: no LIKE wildcard in them)."""
    if not prefix:
        return sa.true()
    p, m, like = s.persons, s.mentions, prefix + "%"
    regions = (p.c.hukou_region, p.c.residence_region, m.c.hukou_region, m.c.residence_region)
    return sa.or_(*(c.like(like) for c in regions))


def _covers(principal: Principal, row: Any) -> bool:
    return principal.covers(row.hukou_region, row.residence_region, row.m_hukou, row.m_residence)


def _persons(row: Any) -> list[int]:
    return sorted({int(p) for p in (row.candidate_person_id, row.mention_person_id) if p})


def _pair(services: Services, caller: CurrentCaller, review_id: int) -> Any:
    """The review if it exists and lies in the caller's region; else 404 (a refusal on the
    trail when it exists outside)."""
    with services.store.engine.connect() as conn:
        row = conn.execute(_query().where(s.link_reviews.c.id == review_id)).first()
    if row is None:
        raise HTTPException(404, text("link.review_unknown", id=review_id))
    if not _covers(caller.principal, row):
        audit(services, caller.principal, caller.rule, "refused_region", caller.purpose,
              int(row.candidate_person_id))  # fmt: skip
        raise HTTPException(404, text("link.review_unknown", id=review_id))
    return row


@router.get("", response_model=ReviewQueue)
def queue(
    purpose: PurposeQuery,
    caller: CurrentCaller,
    services: ServicesDep,
    status: Status = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ReviewQueue:
    """The doubtful pairs of my region, most doubtful first; names masked. Each person listed
    is put on the trail."""
    r = s.link_reviews
    where = sa.and_(r.c.status == status, _scope(caller.principal.scope))
    query = _query().where(where).order_by(r.c.probability.desc(), r.c.id)
    counted = (
        sa.select(sa.func.count())
        .select_from(r)
        .join(s.mentions, s.mentions.c.id == r.c.mention_id)
        .join(s.persons, s.persons.c.id == r.c.candidate_person_id)
        .where(where)
    )
    with services.store.engine.connect() as conn:
        rows = conn.execute(query.limit(limit).offset(offset)).all()
        total = int(conn.scalar(counted) or 0)
    for person_id in sorted({p for row in rows for p in _persons(row)}):
        audit(services, caller.principal, caller.rule, "allowed", caller.purpose, person_id)
    vault = services.vault
    items = []
    for row in rows:
        name = vault.decrypt(row.name_enc, "name")
        items.append(
            ReviewItem(
                id=row.id,
                status=row.status,
                probability=round(row.probability, 4),
                mention_id=row.mention_id,
                source=row.source,
                record_key=row.record_key,
                role=row.role,
                mention_person_id=row.mention_person_id,
                candidate_person_id=row.candidate_person_id,
                name=mask_name(name) if name else name,
            )
        )
    return ReviewQueue(total=total, reviews=items)


def _masked(field: str, value: Any, on: dt.date) -> Any:
    if value is None:
        return None
    if field == "name":
        return mask_name(str(value))
    if field == "birth_date":
        return mask_birth_date(dt.date.fromisoformat(str(value)), on)
    return value


def _fields(detail: dict[str, Any], clear: bool) -> tuple[list[FieldView], list[EvidenceView]]:
    weights: dict[str, float] = detail["weights"]
    on = today()
    fields = []
    for f in detail["fields"]:
        name = f["field"]
        comparison = _COMPARISON.get(name)
        fields.append(
            FieldView(
                field=name,
                record=f["record"] if clear else _masked(name, f["record"], on),
                person=f["person"] if clear else _masked(name, f["person"], on),
                person_source=f["person_source"],
                comparison=comparison if comparison in weights else None,
                weight=weights.get(comparison) if comparison else None,
            )
        )
    beside = set(_COMPARISON.values())
    evidence = [EvidenceView(comparison=k, weight=v) for k, v in weights.items() if k not in beside]
    return fields, evidence


@router.get("/{review_id}", response_model=ReviewDetail)
def show(
    review_id: ReviewId,
    purpose: PurposeQuery,
    caller: CurrentCaller,
    services: ServicesDep,
    reveal: Reveal = False,
) -> ReviewDetail:
    """Both sides of a pair of my region, field by field with each field's match weight; names
    masked and birth dates as years unless `reveal` by a role that may."""
    row = _pair(services, caller, review_id)
    try:
        detail = show_review(services.store, services.vault, review_id)
    except ReviewError as e:
        raise HTTPException(404, str(e)) from None
    clear = reveal and may_reveal(caller.principal.role)
    outcome = "unmasked" if clear else "allowed"
    for person_id in _persons(row):
        audit(services, caller.principal, caller.rule, outcome, caller.purpose, person_id)
    fields, evidence = _fields(detail, clear)
    return ReviewDetail(
        id=detail["id"],
        status=detail["status"],
        probability=detail["probability"],
        model_version=detail["model_version"],
        masked=not clear,
        **detail["record"],
        mention_id=row.mention_id,
        mention_person_id=detail["mention_person_id"],
        candidate_person_id=detail["candidate_person_id"],
        fields=fields,
        evidence=evidence,
        decided_by=detail["decided_by"],
        decided_at=detail["decided_at"],
        reason=detail["reason"],
    )


@router.post("/{review_id}/decision", response_model=Decided)
def decide(
    review_id: ReviewId,
    body: Decision,
    purpose: PurposeQuery,
    caller: CurrentCaller,
    services: ServicesDep,
) -> Decided:
    """Decide a pair of my region: the record is (`accept`) or is not (`reject`) the candidate
    person. Kept with who, when and why; a pair already decided is refused (409)."""
    row = _pair(services, caller, review_id)
    if row.status != "pending":
        raise HTTPException(409, text("link.review_decided", id=review_id, status=row.status))
    actor = _actor(caller)
    act = accept if body.action == "accept" else reject
    try:
        done = act(services.store, services.vault, review_id, actor, body.reason)
    except ReviewError as e:  # decided meanwhile, or the candidate merged away
        raise HTTPException(400, str(e)) from None
    for person_id in _persons(row):
        audit(services, caller.principal, caller.rule, "allowed", caller.purpose, person_id)
    return Decided(
        review=review_id,
        status=done["status"],
        person_id=done["person_id"],
        decided_by=actor,
        reason=body.reason,
    )


@persons_router.post("/{person_id}/merge", response_model=Merged)
def merge_persons(
    person_id: PersonId,
    body: Merge,
    purpose: PurposeQuery,
    caller: CurrentCaller,
    services: ServicesDep,
) -> Merged:
    """Two files are one person: `other`'s records join this person, and `other`'s id points
    here from now on. Both persons must be in my region."""
    assert caller.person_id is not None
    other = locate(services.store, body.other)
    if other is None:
        raise HTTPException(404, text("web.person_unknown"))
    if not caller.principal.covers(other.hukou_region, other.residence_region):
        audit(services, caller.principal, caller.rule, "refused_region", caller.purpose,
              other.person_id)  # fmt: skip
        raise HTTPException(404, text("web.person_unknown"))
    try:
        done = merge(services.store, services.vault, caller.person_id, other.person_id,
                     _actor(caller), body.reason)  # fmt: skip
    except ReviewError as e:
        raise HTTPException(400, str(e)) from None
    audit(services, caller.principal, caller.rule, "allowed", caller.purpose, other.person_id)
    return Merged(**done)


def _records_of(
    services: Services, person_id: int, mention_ids: list[int]
) -> list[tuple[str, str]]:
    """The (source, record key) of each mention, all of which must be this person's."""
    m, rec, lk = s.mentions, s.records, s.links
    query = (
        sa.select(m.c.id, rec.c.source, rec.c.record_key)
        .join(rec, rec.c.id == m.c.record_id)
        .join(lk, lk.c.mention_id == m.c.id)
        .where(lk.c.person_id == person_id, m.c.id.in_(sorted(set(mention_ids))))
    )
    with services.store.engine.connect() as conn:
        rows = conn.execute(query).all()
    missing = sorted(set(mention_ids) - {int(r.id) for r in rows})
    if missing:
        shown = ", ".join(str(i) for i in missing[:10])
        raise HTTPException(400, text("web.review_mentions_not_person", id=person_id,
                                      mentions=shown))  # fmt: skip
    return sorted({(r.source, r.record_key) for r in rows})


@persons_router.post("/{person_id}/unmerge", response_model=Unmerged)
def unmerge_person(
    person_id: PersonId,
    body: Unmerge,
    purpose: PurposeQuery,
    caller: CurrentCaller,
    services: ServicesDep,
) -> Unmerged:
    """Split the records of these mentions off this person into a new person (its other
    mentions in the same records go with them)."""
    assert caller.person_id is not None
    records = _records_of(services, caller.person_id, body.mention_ids)
    try:
        done = unmerge(services.store, services.vault, caller.person_id, records,
                       _actor(caller), body.reason)  # fmt: skip
    except ReviewError as e:
        raise HTTPException(400, str(e)) from None
    audit(services, caller.principal, caller.rule, "allowed", caller.purpose,
          int(done["new_person_id"]))  # fmt: skip
    return Unmerged(**done)
