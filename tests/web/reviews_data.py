"""Review rows for the web tests: a doubtful pair made of the person every route reads."""

from __future__ import annotations

import json

import sqlalchemy as sa

from fpcredit.store import schema as s
from fpcredit.store.db import utc_now
from tests.web.conftest import Web


def review_of(w: Web, status: str = "pending", person: int | None = None) -> int:
    """A new review pairing one of a person's own mentions with that person (default
    `w.inside`, in its county): accepting it moves nothing."""
    lk, r = s.links, s.link_reviews
    pid = w.inside.id if person is None else person
    with w.store.engine.begin() as conn:
        mention = conn.scalar(
            sa.select(lk.c.mention_id).where(lk.c.person_id == pid).order_by(lk.c.mention_id)
        )
        values = {
            "mention_id": mention,
            "candidate_person_id": pid,
            "probability": 0.5,
            "model_version": "test",
            "comparison": json.dumps({"name": 8.0, "region": 2.5, "kin": 0.0}),
            "status": status,
            "created_at": utc_now(),
        }
        if status != "pending":
            values |= {"decided_by": "county:someone", "decided_at": utc_now(), "reason": "test"}
        return int(conn.execute(r.insert().values(**values).returning(r.c.id)).scalar_one())
