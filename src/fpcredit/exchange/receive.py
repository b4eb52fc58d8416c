"""The receiving side: verify, open and check each message, write its fact and link it to the
person, all in one transaction per batch; the caller acknowledges only after the commit.

Exactly once in effect: a message already in `exchange_inbox` (a redelivery after a crash, a
second publication) is acknowledged and changes nothing. A message that fails a check is
quarantined with its reason; one whose person this province does not know yet waits, also in
quarantine, and is linked by `resolve_waiting` once the person arrives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.exchange.identity import ExchangeError, Identity, partners
from fpcredit.exchange.message import Opened, Rejected, open_message
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.log import record_rows
from fpcredit.guard.trail.sealing import sealing
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.bulk import lock_for_ingestion, next_id, sync_sequences
from fpcredit.store.db import Store, utc_now
from fpcredit.store.versions import supersede

__all__ = ["SOURCE", "BatchReport", "Delivery", "resolve_waiting", "take"]

SOURCE: Final = "exchange"  # the records' source: provenance "province P, message M"
ACTOR: Final = "exchange"
UNKNOWN_SENDER: Final = "00"


@dataclass(frozen=True)
class Delivery:
    """One message as the stream handed it over."""

    data: bytes
    stream_seq: int


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


@dataclass
class _Item:
    delivery: Delivery
    row: int
    sender: str
    message_id: str
    sent_at: dt.datetime
    opened: Opened | None = None
    reason: str | None = None
    person_id: int | None = None


def keys_of(vault: Vault) -> Path:
    """The vault's folder (the trail's MAC key is there): a vault without one cannot write."""
    if vault.keys_dir is None:
        raise ExchangeError(text("exchange.no_identity"))
    return vault.keys_dir


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _item(row: int, d: Delivery, me: Identity, registry: Any) -> _Item:
    try:
        opened = open_message(d.data, me, registry)
        return _Item(d, row, opened.sender, opened.id, opened.sent_at, opened=opened)
    except Rejected as r:
        head = r.header
        sender = str(head.get("from", ""))
        sender = sender if len(sender) == 2 and sender.isdigit() else UNKNOWN_SENDER
        msg = str(head.get("id", ""))
        msg = msg if 0 < len(msg) <= 64 and msg.isalnum() else _sha(d.data)[:32]
        try:
            sent_at = dt.datetime.fromisoformat(str(head["sent_at"]))
        except (KeyError, ValueError):
            sent_at = utc_now()
        return _Item(d, row, sender, msg, sent_at, reason=r.reason)


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


def _seen(conn: sa.Connection, items: Sequence[_Item]) -> set[tuple[str, str]]:
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


def _persons(conn: sa.Connection, vault: Vault, items: Sequence[_Item]) -> None:
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


def _record_of(o: Opened) -> tuple[str, str]:
    """The record key and row hash a message's fact is written under here."""
    return f"{o.sender}/{o.source}/{o.record_key}", _sha(o.body)


def _copies(conn: sa.Connection, items: Sequence[_Item]) -> list[_Item]:
    """Items whose record version is already here (the same body under another message id):
    taken as duplicates, never written twice."""
    ready = [i for i in items if i.opened is not None and i.reason is None]
    if not ready:
        return []
    r = s.records
    keys = sorted({_record_of(i.opened)[0] for i in ready if i.opened is not None})
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
        version = _record_of(item.opened)
        if version in stored:
            copies.append(item)
        stored.add(version)
    return copies


def _waiting_body(item: _Item) -> str:
    assert item.opened is not None
    o = item.opened
    return json.dumps(
        {"kind": o.kind, "sent_at": o.sent_at.isoformat(), "body": o.body.decode()},
        ensure_ascii=False,
    )


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
        fresh: list[_Item] = []
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
        ingestion = _ingestion(conn, stream, deliveries, now)
        accepted = [i for i in fresh if i.reason is None]
        waiting = [i for i in fresh if i.opened is not None and i.reason is not None]
        rejected = [i for i in fresh if i.opened is None]
        records = _write_facts(conn, vault, accepted, ingestion, now)
        _quarantine(conn, vault, [*waiting, *rejected], ingestion, now)
        inbox = [
            *(("accepted", i, records.get(i.row)) for i in accepted),
            *(("waiting", i, None) for i in waiting),
            *(("rejected", i, None) for i in rejected),
            *(("duplicate", i, None) for i in copies),
        ]
        _inbox(conn, vault, inbox, now)
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
        _sync(conn)
    return report


def _sync(conn: sa.Connection) -> None:
    sync_sequences(
        conn,
        (
            s.ingestions,
            s.records,
            s.mentions,
            s.facts,
            s.quarantine,
            s.quality_issues,
            s.exchange_inbox,
        ),
    )


def _ingestion(
    conn: sa.Connection, stream: str, deliveries: Sequence[Delivery], now: dt.datetime
) -> int:
    """The batch's row in `ingestions`, as a file's: the quarantine and records refer to it."""
    made = next_id(conn, s.ingestions)
    digest = hashlib.sha256(b"".join(_sha(d.data).encode() for d in deliveries)).hexdigest()
    seqs = [d.stream_seq for d in deliveries]
    conn.execute(
        s.ingestions.insert().values(
            id=made,
            source=SOURCE,
            path=f"nats:{stream}#{min(seqs)}-{max(seqs)}",
            file_sha256=digest,
            standard_version="exchange/1",
            rows=len(deliveries),
            accepted=0,
            duplicates=0,
            quarantined=0,
            flagged=0,
            dropped_fields="[]",
            started_at=now,
            finished_at=now,
        )
    )
    return made


def _write_facts(
    conn: sa.Connection, vault: Vault, items: Sequence[_Item], ingestion: int, now: dt.datetime
) -> dict[int, int]:
    """Records, mentions, facts and links of accepted items; their record id by batch row."""
    if not items:
        return {}
    first_record, first_mention = next_id(conn, s.records), next_id(conn, s.mentions)
    first_fact = next_id(conn, s.facts)
    records, mentions, facts, links = [], [], [], []
    made: dict[int, int] = {}
    for n, item in enumerate(items):
        o = item.opened
        assert o is not None and item.person_id is not None
        rid, mid = first_record + n, first_mention + n
        made[item.row] = rid
        key, row_hash = _record_of(o)
        event = dt.date.fromisoformat(str(o.fact["event_date"]))
        recorded = dt.datetime.fromisoformat(str(o.fact["recorded_at"]))
        common = {"source": SOURCE, "record_key": key, "row_hash": row_hash, "kind": o.kind}
        records.append(
            {
                "id": rid,
                **common,
                "event_date": event,
                "recorded_at": recorded,
                "ingestion_id": ingestion,
                "row_number": item.row,
            }
        )
        sub = o.subject
        birth = sub.get("birth_date")
        mentions.append(
            {
                "id": mid,
                "record_id": rid,
                "role": o.role,
                "id_number_enc": vault.encrypt(sub.get("id_number"), "id_number"),
                "id_number_bidx": vault.blind_index(sub.get("id_number"), "id_number"),
                "id_status": "valid",
                "id_reason": None,
                "name_enc": vault.encrypt(sub.get("name"), "name"),
                "name_bidx": vault.blind_index(sub.get("name"), "name"),
                "sex": int(sex) if (sex := sub.get("sex")) else None,
                "birth_date": dt.date.fromisoformat(birth) if birth else None,
                "hukou_region": sub.get("hukou_region"),
            }
        )
        attrs = {k: v for k, v in o.fact.items() if k not in ("event_date", "recorded_at")}
        facts.append(
            {
                "id": first_fact + n,
                "record_id": rid,
                "subject_mention_id": mid,
                **common,
                "event_date": event,
                "recorded_at": recorded,
                "attrs": json.dumps(attrs, ensure_ascii=False, separators=(",", ":")),
                "disputed": False,
            }
        )
        links.append({"mention_id": mid, "person_id": item.person_id, "pass": "exchange"})
    conn.execute(s.records.insert(), records)
    conn.execute(s.mentions.insert(), mentions)
    conn.execute(s.facts.insert(), facts)
    # A corrected record sent again: its older version's knowledge interval closes (R7).
    supersede(conn, SOURCE, sorted({str(f["record_key"]) for f in facts}))
    keys = keys_of(vault)
    moved = f"WHERE mention_id BETWEEN {first_mention} AND {first_mention + len(items) - 1}"
    with sealing(conn, "links", moved, {}, keys, ACTOR, "exchange_linked"):
        conn.execute(s.links.insert(), [{**lk, "probability": 1.0} for lk in links])
    last = len(items) - 1
    record_rows(
        conn, "records", first_record, first_record + last, ACTOR, "exchange", keys_dir=keys
    )
    record_rows(conn, "facts", first_fact, first_fact + last, ACTOR, "exchange", keys_dir=keys)
    return made


def _quarantine(
    conn: sa.Connection, vault: Vault, items: Sequence[_Item], ingestion: int, now: dt.datetime
) -> None:
    if not items:
        return
    first = next_id(conn, s.quarantine)
    rows = []
    for n, item in enumerate(items):
        raw = item.delivery.data.decode("utf-8", errors="replace")
        rows.append(
            {
                "id": first + n,
                "ingestion_id": ingestion,
                "source": SOURCE,
                "record_key": f"{item.sender}/{item.message_id}",
                "row_number": item.row,
                # One row per message: a redelivered copy is found in the inbox first.
                "row_hash": _sha(f"{item.sender}/{item.message_id}".encode()),
                "rule": f"exchange_{item.reason}",
                "field": "message",
                "row_enc": vault.encrypt(raw, "quarantine_row"),
                "created_at": now,
            }
        )
    conn.execute(s.quarantine.insert(), rows)
    # And its quality issue, so `fpcredit quality list` names it with its reason.
    first_issue = next_id(conn, s.quality_issues)
    issues = [
        {
            "id": first_issue + n,
            "ingestion_id": ingestion,
            "source": SOURCE,
            "record_key": r["record_key"],
            "row_number": r["row_number"],
            "row_hash": r["row_hash"],
            "field": "message",
            "rule": r["rule"],
            "action": "quarantined",
            "record_id": None,
        }
        for n, r in enumerate(rows)
    ]
    conn.execute(s.quality_issues.insert(), issues)


_ACTIONS: Final = {
    "accepted": "exchange_received",
    "waiting": "exchange_waiting",
    "rejected": "exchange_rejected",
    "linked": "exchange_linked",
    "duplicate": "exchange_duplicate",
}


def _inbox(
    conn: sa.Connection,
    vault: Vault,
    rows: Sequence[tuple[str, _Item, int | None]],
    now: dt.datetime,
) -> None:
    """The inbox rows, grouped by outcome so each group is one change entry of the trail."""
    if not rows:
        return
    first = next_id(conn, s.exchange_inbox)
    values = []
    for n, (outcome, item, record) in enumerate(rows):
        body = _waiting_body(item) if outcome == "waiting" else None
        values.append(
            {
                "id": first + n,
                "sender": item.sender,
                "message_id": item.message_id,
                "stream_seq": item.delivery.stream_seq,
                "outcome": outcome,
                "reason": item.reason if outcome != "accepted" else None,
                "record_id": record,
                "person_id": item.person_id,
                "body_enc": vault.encrypt(body, "exchange_body") if body else None,
                "sent_at": _naive(item.sent_at),
                "received_at": now,
            }
        )
    conn.execute(s.exchange_inbox.insert(), values)
    start = first
    for n in range(1, len(rows) + 1):
        if n == len(rows) or rows[n][0] != rows[n - 1][0]:
            action = _ACTIONS[rows[n - 1][0]]
            end = first + n - 1
            record_rows(conn, "exchange_inbox", start, end, ACTOR, action, keys_dir=keys_of(vault))
            start = end + 1


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
            items.append(_Item(delivery, n, row.sender, row.message_id, row.sent_at, opened=opened))
        _persons(conn, vault, items)
        ready = [i for i in items if i.reason is None]
        if not ready:
            return 0
        now = utc_now()
        ingestion = _ingestion(conn, "waiting", [i.delivery for i in ready], now)
        records = _write_facts(conn, vault, ready, ingestion, now)
        conn.execute(
            s.ingestions.update().where(s.ingestions.c.id == ingestion).values(accepted=len(ready))
        )
        _inbox(conn, vault, [("linked", i, records.get(i.row)) for i in ready], now)
        q = s.quarantine
        keys = [f"{i.sender}/{i.message_id}" for i in ready]
        conn.execute(q.delete().where(q.c.source == SOURCE, q.c.record_key.in_(keys)))
        qi = s.quality_issues
        conn.execute(qi.delete().where(qi.c.source == SOURCE, qi.c.record_key.in_(keys)))
        _sync(conn)
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
