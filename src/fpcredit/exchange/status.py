"""`exchange status`: what waits to be sent, what came in and how, and how late."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from fpcredit.exchange.identity import Identity, partners
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = ["exchange_status", "latencies"]


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latencies(conn: sa.Connection, last: int = 10_000) -> list[float]:
    """Seconds from the sender's commit to ours, of the newest `last` messages taken."""
    inbox = s.exchange_inbox
    rows = conn.execute(
        sa.select(inbox.c.sent_at, inbox.c.received_at)
        .where(inbox.c.outcome == "accepted")
        .order_by(inbox.c.id.desc())
        .limit(last)
    ).all()
    return [(r.received_at - r.sent_at).total_seconds() for r in rows]


def exchange_status(store: Store, me: Identity | None) -> dict[str, Any]:
    """Counts that reconcile: queued == sent + pending; received == accepted + waiting +
    linked later + rejected (a message taken again is dropped before the inbox)."""
    o, sent, inbox = s.exchange_outbox, s.exchange_sent, s.exchange_inbox
    with store.engine.connect() as conn:
        queued = conn.scalar(sa.select(sa.func.count()).select_from(o)) or 0
        unsent = (
            sa.select(o.c.to_province, sa.func.count(), sa.func.min(o.c.created_at))
            .outerjoin(sent, sent.c.message_id == o.c.message_id)
            .where(sent.c.id.is_(None))
            .group_by(o.c.to_province)
        )
        pending_by = {to: (n, oldest) for to, n, oldest in conn.execute(unsent).all()}
        outcomes: dict[str, int] = {
            str(k): int(n)
            for k, n in conn.execute(
                sa.select(inbox.c.outcome, sa.func.count()).group_by(inbox.c.outcome)
            ).all()
        }
        reasons: dict[str, int] = {
            str(k): int(n)
            for k, n in conn.execute(
                sa.select(inbox.c.reason, sa.func.count())
                .where(inbox.c.outcome.in_(("waiting", "rejected")))
                .group_by(inbox.c.reason)
            ).all()
        }
        last = conn.scalar(sa.select(sa.func.max(inbox.c.received_at)))
        lat = latencies(conn)
        registry = partners(conn)
    oldest = min((t for _, t in pending_by.values()), default=None)
    now = utc_now()
    waiting = outcomes.get("waiting", 0) - outcomes.get("linked", 0)
    return {
        "province": me.province if me else None,
        "partners": [
            {"province": p.province, "added_at": _iso(p.added_at)} for p in registry.values()
        ],
        "outbox": {
            "queued": queued,
            "sent": queued - sum(n for n, _ in pending_by.values()),
            "pending": sum(n for n, _ in pending_by.values()),
            "pending_by_province": {k: v[0] for k, v in sorted(pending_by.items())},
            "lag_s": round((now - oldest).total_seconds(), 3) if oldest else 0.0,
        },
        "inbox": {
            "received": sum(outcomes.get(k, 0) for k in ("accepted", "waiting", "rejected")),
            "accepted": outcomes.get("accepted", 0),
            "waiting": waiting,
            "linked_later": outcomes.get("linked", 0),
            "rejected": outcomes.get("rejected", 0),
            # The same record version again under another message id: acknowledged, not
            # written (copies under the same id are dropped before the inbox, uncounted).
            "duplicates": outcomes.get("duplicate", 0),
            "reasons": {str(k): v for k, v in sorted(reasons.items())},
            "last_received_at": _iso(last),
            "latency_p50_s": _round(_quantile(lat, 0.50)),
            "latency_p99_s": _round(_quantile(lat, 0.99)),
        },
    }


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat(sep=" ", timespec="seconds") if t else None


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)
