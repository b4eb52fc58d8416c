"""Reading the notifications: a person's own, newest first; the operator's lists; a retry."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from fpcredit.messages import Language
from fpcredit.notify.channels import render
from fpcredit.notify.outbox import AUDIENCE_PERSON
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = ["for_person", "listing", "retry"]


def for_person(
    store: Store, person_id: int, lang: Language, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """(how many in all, one page) of the person's notifications, newest first, rendered."""
    n = s.notifications
    mine = sa.and_(n.c.person_id == person_id, n.c.audience == AUDIENCE_PERSON)
    with store.engine.connect() as conn:
        total = conn.scalar(sa.select(sa.func.count()).select_from(n).where(mine)) or 0
        rows = conn.execute(
            sa.select(n.c.message_id, n.c.kind, n.c.params, n.c.created_at, n.c.state)
            .where(mine)
            .order_by(n.c.created_at.desc(), n.c.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    page = [
        {
            "message_id": r.message_id,
            "kind": r.kind,
            "created_at": r.created_at,
            "delivered": r.state == "delivered",
            "text": render(r.kind, json.loads(r.params), lang),
        }
        for r in rows
    ]
    return int(total), page


def listing(store: Store, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Notifications newest first (of `state`, when given) as the operator sees them: kind,
    audience, internal person id, codes in the params, attempts, the last failure — no phone,
    name or ID number."""
    n = s.notifications
    query = sa.select(n).order_by(n.c.created_at.desc(), n.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(n.c.state == state)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "message_id": r.message_id,
            "kind": r.kind,
            "audience": r.audience,
            "person_id": r.person_id,
            "params": json.loads(r.params),
            "state": r.state,
            "attempts": r.attempts,
            "created_at": r.created_at.isoformat(),
            "next_attempt_at": r.next_attempt_at.isoformat(),
            "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None,
            "reason": r.last_error,
        }
        for r in rows
    ]


def retry(store: Store, message_id: str) -> bool:
    """Move a dead notification back to pending, due now, its attempts counted afresh;
    False when no dead notification has this id."""
    n = s.notifications
    with store.engine.begin() as conn:
        done = conn.execute(
            n.update()
            .where(n.c.message_id == message_id, n.c.state == "dead")
            .values(state="pending", attempts=0, next_attempt_at=utc_now(), lease_until=None)
        )
    return done.rowcount == 1
