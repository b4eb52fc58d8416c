"""Feedback intake (R18, seed §3.4): satisfaction with an incentive or a case, and complaints.

A complaint is free text a citizen wrote: it is sealed with the vault (field `complaint`) like
every other personal text and no report shows it — the report counts complaints and measures
satisfaction (the share of 4 and 5) by incentive or case and by region type (urban / rural).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.errors import FpcreditError
from fpcredit.guard.keys.crypto import Vault
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = [
    "ABOUT",
    "COMPLAINT_MAX",
    "SATISFIED",
    "TARGET",
    "Feedback",
    "FeedbackError",
    "feedback_report",
    "submit",
]

ABOUT: Final = ("incentive", "case")
COMPLAINT_MAX: Final = 500
SATISFIED: Final = frozenset({4, 5})  # "satisfied": 4 or 5 on the 1–5 scale
TARGET: Final = Decimal("0.85")  # the seed's satisfaction target (§3.4)
COMPLAINT_FIELD: Final = "complaint"
_F = s.feedback
_ABOUT_KEYS: Final = {"incentive": "subject.about_incentive", "case": "subject.about_case"}


class FeedbackError(FpcreditError):
    """Feedback that cannot be taken; `field` names the part of the request at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Feedback:
    """A stored feedback row, without the complaint's text."""

    id: int
    about: str
    ref: str
    satisfaction: int
    complaint: bool
    created_at: dt.datetime


def _clean_complaint(complaint: str | None) -> str | None:
    if complaint is None:
        return None
    if len(complaint) > COMPLAINT_MAX:
        raise FeedbackError("complaint", text("subject.complaint_too_long", limit=COMPLAINT_MAX))
    cleaned = complaint.strip()
    if not cleaned:
        raise FeedbackError("complaint", text("subject.complaint_blank"))
    return cleaned


def submit(
    store: Store,
    vault: Vault,
    person_id: int,
    *,
    about: str,
    ref: str,
    satisfaction: int,
    complaint: str | None = None,
    known: Callable[[str, str], bool] | None = None,
    now: dt.datetime | None = None,
) -> Feedback:
    """Store one person's feedback; `known(about, ref)`, when given, says whether the incentive
    or case exists (FeedbackError on `ref` otherwise). The complaint is sealed."""
    if about not in ABOUT:
        raise FeedbackError("about", text("subject.about_unknown", about=about))
    if not 1 <= satisfaction <= 5:
        raise FeedbackError("satisfaction", text("subject.satisfaction_range"))
    if known is not None and not known(about, ref):
        what = text(_ABOUT_KEYS[about])
        raise FeedbackError("ref", text("subject.ref_unknown", about=what, ref=ref))
    cleaned = _clean_complaint(complaint)
    at = now or utc_now()
    with store.engine.begin() as conn:
        region_type = conn.scalar(
            sa.select(s.persons.c.urban_rural).where(s.persons.c.id == person_id)
        )
        new_id = conn.execute(
            _F.insert()
            .returning(_F.c.id)
            .values(
                person_id=person_id,
                about=about,
                ref=ref,
                satisfaction=satisfaction,
                complaint_enc=vault.encrypt(cleaned, COMPLAINT_FIELD),
                region_type=region_type,
                created_at=at,
            )
        ).scalar_one()
    return Feedback(int(new_id), about, ref, satisfaction, cleaned is not None, at)


def _rate(satisfied: int, count: int) -> Decimal | None:
    if count == 0:
        return None
    return (Decimal(satisfied) / Decimal(count)).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)


def _line(about: str, ref: str, region: str | None, n: int, ok: int, c: int) -> dict[str, Any]:
    rate = _rate(ok, n)
    return {
        "about": about,
        "ref": ref,
        "region_type": region,
        "count": n,
        "satisfied": ok,
        "rate": None if rate is None else str(rate),
        "complaints": c,
    }


def feedback_report(
    store: Store, *, since: dt.date | None = None, until: dt.date | None = None
) -> dict[str, Any]:
    """Satisfaction by incentive or case and region type, and in all, for the governance
    reports: counts and rates (4–5 of 1–5, four decimals, exact) and complaints counted — never
    a complaint's text. `since`/`until` bound the day the feedback came in (inclusive)."""
    satisfied = sa.func.sum(sa.case((_F.c.satisfaction >= min(SATISFIED), 1), else_=0))
    complaints = sa.func.sum(sa.case((_F.c.complaint_enc.is_not(None), 1), else_=0))
    query = sa.select(
        _F.c.about, _F.c.ref, _F.c.region_type, sa.func.count(), satisfied, complaints
    ).group_by(_F.c.about, _F.c.ref, _F.c.region_type)
    if since is not None:
        query = query.where(_F.c.created_at >= dt.datetime.combine(since, dt.time()))
    if until is not None:
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time())
        query = query.where(_F.c.created_at < end)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    lines = sorted(
        (_line(a, r, g, int(n), int(ok or 0), int(c or 0)) for a, r, g, n, ok, c in rows),
        key=lambda x: (x["about"], x["ref"], x["region_type"] or ""),
    )
    count = sum(x["count"] for x in lines)
    ok = sum(x["satisfied"] for x in lines)
    rate = _rate(ok, count)
    return {
        "since": None if since is None else since.isoformat(),
        "until": None if until is None else until.isoformat(),
        "target": str(TARGET),
        "count": count,
        "satisfied": ok,
        "rate": None if rate is None else str(rate),
        "meets_target": None if rate is None else rate >= TARGET,
        "complaints": sum(x["complaints"] for x in lines),
        "lines": lines,
    }
