"""The receiving side: verify, open and check each message, write its fact and link it to the
person, all in one transaction per batch; the caller acknowledges only after the commit.

Exactly once in effect: a message already in `exchange_inbox` (a redelivery after a crash, a
second publication) is acknowledged and changes nothing. A message that fails a check is
quarantined with its reason; one whose person this province does not know yet waits, also in
quarantine, and is linked by `resolve_waiting` once the person arrives.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.exchange import writes
from fpcredit.exchange.identity import Identity, partners
from fpcredit.exchange.message import Opened, Rejected, open_message
from fpcredit.exchange.writes import SOURCE, Delivery
from fpcredit.guard.keys.crypto import Vault
from fpcredit.store import schema as s
from fpcredit.store.bulk import lock_for_ingestion
from fpcredit.store.db import Store, utc_now

__all__ = ["SOURCE", "BatchReport", "Delivery", "resolve_waiting", "take"]

UNKNOWN_SENDER: Final = "00"


@dataclass
class BatchReport:
    """What one batch did; received == accepted + waiting + rejected + duplicates."""

    received: int = 0
    accepted: int = 0
    waiting: int = 0
    rejected: int = 0
    duplicates: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, other: BatchReport) -> None:
        for name in ("received", "accepted", "waiting", "rejected", "duplicates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, count in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count


def _item(row: int, d: Delivery, me: Identity, registry: Any) -> writes.Item:
    try:
        opened = open_message(d.data, me, registry)
        return writes.Item(d, row, opened.sender, opened.id, opened.sent_at, opened=opened)
    except Rejected as r:
        head = r.header
        sender = str(head.get("from", ""))
        sender = sender if len(sender) == 2 and sender.isdigit() else UNKNOWN_SENDER
        msg = str(head.get("id", ""))
        msg = msg if 0 < len(msg) <= 64 and msg.isalnum() else writes.sha(d.data)[:32]
        try:
            sent_at = dt.datetime.fromisoformat(str(head["sent_at"]))
        except (KeyError, ValueError):
            sent_at = utc_now()
        return writes.Item(d, row, sender, msg, sent_at, reason=r.reason)


def _seen(conn: sa.Connection, items: Sequence[writes.Item]) -> set[tuple[str, str]]:
    inbox = s.exchange_inbox
    ids = sorted({i.message_id for i in items})
    found: set[tuple[str, str]] = set()
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            sa.select(inbox.c.sender, inbox.c.message_id).where(
                inbox.c.message_id.in_(ids[start : start + 500])
            )
        ).all()
        found.update((r.sender, r.message_id) for r in rows)
    return found


def _persons(conn: sa.Connection, vault: Vault, items: Sequence[writes.Item]) -> None:
    """Find each opened item's person by the blind index of her ID number (deterministic, as
    the ID pass of linkage); none or more than one person: the item waits."""
    opened = [i for i in items if i.opened is not None]
    if not opened:
        return
    ids = [i.opened.subject.get("id_number") for i in opened if i.opened is not None]
    bidx = vault.blind_index_many(ids, "id_number")
    m, lk, p = s.mentions, s.links, s.persons
    wanted = sorted({b for b in bidx if b is not None})
    owners: dict[bytes, set[int]] = {}
    for start in range(0, len(wanted), 500):
        rows = conn.execute(
            sa.select(m.c.id_number_bidx, lk.c.person_id)
            .join(lk, lk.c.mention_id == m.c.id)
            .join(p, p.c.id == lk.c.person_id)
            .where(m.c.id_number_bidx.in_(wanted[start : start + 500]), p.c.merged_into.is_(None))
            .distinct()
        ).all()
        for b, person in rows:
            owners.setdefault(bytes(b), set()).add(int(person))
    for item, b in zip(opened, bidx, strict=True):
        found = owners.get(bytes(b), set()) if b is not None else set()
        if len(found) == 1:
            item.person_id = next(iter(found))
        else:
            item.reason = "person_unknown" if not found else "person_ambiguous"


def _copies(conn: sa.Connection, items: Sequence[writes.Item]) -> list[writes.Item]:
    """Items whose record version is already here (the same body under another message id):
    taken as duplicates, never written twice."""
    ready = [i for i in items if i.opened is not None and i.reason is None]
    if not ready:
        return []
    r = s.records
    keys = sorted({writes.record_of(i.opened)[0] for i in ready if i.opened is not None})
    stored: set[tuple[str, str]] = set()
    for start in range(0, len(keys), 500):
        rows = conn.execute(
            sa.select(r.c.record_key, r.c.row_hash).where(
                r.c.source == SOURCE, r.c.record_key.in_(keys[start : start + 500])
            )
        ).all()
        stored.update((k, h) for k, h in rows)
    copies = []
    for item in ready:
        assert item.opened is not None
        version = writes.record_of(item.opened)
        if version in stored:
            copies.append(item)
        stored.add(version)
    return copies


def take(
    store: Store,
    vault: Vault,
    me: Identity,
    deliveries: Sequence[Delivery],
    stream: str,
    *,
    refuse: str | None = None,
) -> BatchReport:
    """Take one batch in one transaction; acknowledge the deliveries only after this returns.
    With `refuse`, every new message of the batch is quarantined with that reason (a message
    the store would not take alone: it must not block the stream behind it)."""
    report = BatchReport(received=len(deliveries))
    if not deliveries:
        return report
    with store.engine.begin() as conn:
        lock_for_ingestion(conn)
        registry = partners(conn)
        items = [_item(n, d, me, registry) for n, d in enumerate(deliveries, start=1)]
        if refuse is not None:
            for item in items:
                item.opened, item.reason = None, refuse
        seen = _seen(conn, items)
        fresh: list[writes.Item] = []
        for item in items:
            key = (item.sender, item.message_id)
            if key in seen:
                report.duplicates += 1
                continue
            seen.add(key)
            fresh.append(item)
        _persons(conn, vault, fresh)
        copies = _copies(conn, fresh)
        copied = {id(i) for i in copies}
        fresh = [i for i in fresh if id(i) not in copied]
        now = utc_now()
        ingestion = writes.ingestion_row(conn, stream, deliveries, now)
        accepted = [i for i in fresh if i.reason is None]
        waiting = [i for i in fresh if i.opened is not None and i.reason is not None]
        rejected = [i for i in fresh if i.opened is None]
        records = writes.write_facts(conn, vault, accepted, ingestion, now)
        writes.quarantine(conn, vault, [*waiting, *rejected], ingestion, now)
        inbox = [
            *(("accepted", i, records.get(i.row)) for i in accepted),
            *(("waiting", i, None) for i in waiting),
            *(("rejected", i, None) for i in rejected),
            *(("duplicate", i, None) for i in copies),
        ]
        writes.inbox_rows(conn, vault, inbox, now)
        report.accepted, report.waiting, report.rejected = (
            len(accepted),
            len(waiting),
            len(rejected),
        )
        report.duplicates += len(copies)
        for i in (*waiting, *rejected):
            assert i.reason is not None
            report.reasons[i.reason] = report.reasons.get(i.reason, 0) + 1
        conn.execute(
            s.ingestions.update()
            .where(s.ingestions.c.id == ingestion)
            .values(
                accepted=report.accepted,
                duplicates=report.duplicates,
                quarantined=report.waiting + report.rejected,
            )
        )
        writes.sync(conn)
    return report


def resolve_waiting(store: Store, vault: Vault, me: Identity) -> int:
    """Link the waiting messages whose person has arrived since; returns how many."""
    inbox, later = s.exchange_inbox, s.exchange_inbox.alias("later")
    done = (
        sa.select(later.c.id)
        .where(
            later.c.sender == inbox.c.sender,
            later.c.message_id == inbox.c.message_id,
            later.c.outcome == "linked",
        )
        .exists()
    )
    with store.engine.begin() as conn:
        lock_for_ingestion(conn)
        rows = conn.execute(
            sa.select(inbox).where(inbox.c.outcome == "waiting", ~done).order_by(inbox.c.id)
        ).all()
        if not rows:
            return 0
        items = []
        for n, row in enumerate(rows, start=1):
            doc = json.loads(vault.decrypt(row.body_enc, "exchange_body") or "{}")
            opened = _reopened(row.sender, row.message_id, doc)
            delivery = Delivery(b"", int(row.stream_seq))
            items.append(
                writes.Item(delivery, n, row.sender, row.message_id, row.sent_at, opened=opened)
            )
        _persons(conn, vault, items)
        ready = [i for i in items if i.reason is None]
        if not ready:
            return 0
        now = utc_now()
        ingestion = writes.ingestion_row(conn, "waiting", [i.delivery for i in ready], now)
        records = writes.write_facts(conn, vault, ready, ingestion, now)
        conn.execute(
            s.ingestions.update().where(s.ingestions.c.id == ingestion).values(accepted=len(ready))
        )
        writes.inbox_rows(conn, vault, [("linked", i, records.get(i.row)) for i in ready], now)
        q = s.quarantine
        keys = [f"{i.sender}/{i.message_id}" for i in ready]
        conn.execute(q.delete().where(q.c.source == SOURCE, q.c.record_key.in_(keys)))
        qi = s.quality_issues
        conn.execute(qi.delete().where(qi.c.source == SOURCE, qi.c.record_key.in_(keys)))
        writes.sync(conn)
        return len(ready)


def _reopened(sender: str, msg: str, doc: dict[str, Any]) -> Opened:
    body = json.loads(doc["body"])
    return Opened(
        id=msg,
        sender=sender,
        kind=doc["kind"],
        sent_at=dt.datetime.fromisoformat(doc["sent_at"]),
        source=body["source"],
        record_key=body["record_key"],
        role=body["role"],
        subject=body["subject"],
        fact=body["fact"],
        body=doc["body"].encode(),
    )
