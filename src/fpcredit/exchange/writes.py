"""The rows a batch of received messages writes, in the batch's transaction: its ingestion,
the accepted messages' records, mentions, facts and links, the quarantine with each refused
or waiting message's reason, the inbox rows by outcome, and their trail entries."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import sqlalchemy as sa

from fpcredit.exchange.identity import ExchangeError
from fpcredit.exchange.message import Opened
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.log import record_rows
from fpcredit.guard.trail.sealing import sealing
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.bulk import next_id, sync_sequences
from fpcredit.store.versions import supersede

__all__ = [
    "ACTOR",
    "SOURCE",
    "Delivery",
    "Item",
    "inbox_rows",
    "ingestion_row",
    "quarantine",
    "record_of",
    "sync",
    "write_facts",
]

SOURCE: Final = "exchange"  # the records' source: provenance "province P, message M"
ACTOR: Final = "exchange"


@dataclass(frozen=True)
class Delivery:
    """One message as the stream handed it over."""

    data: bytes
    stream_seq: int


@dataclass
class Item:
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


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


def record_of(o: Opened) -> tuple[str, str]:
    """The record key and row hash a message's fact is written under here."""
    return f"{o.sender}/{o.source}/{o.record_key}", sha(o.body)


def waiting_body(item: Item) -> str:
    assert item.opened is not None
    o = item.opened
    return json.dumps(
        {"kind": o.kind, "sent_at": o.sent_at.isoformat(), "body": o.body.decode()},
        ensure_ascii=False,
    )


def sync(conn: sa.Connection) -> None:
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


def ingestion_row(
    conn: sa.Connection, stream: str, deliveries: Sequence[Delivery], now: dt.datetime
) -> int:
    """The batch's row in `ingestions`, as a file's: the quarantine and records refer to it."""
    made = next_id(conn, s.ingestions)
    digest = hashlib.sha256(b"".join(sha(d.data).encode() for d in deliveries)).hexdigest()
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


def write_facts(
    conn: sa.Connection, vault: Vault, items: Sequence[Item], ingestion: int, now: dt.datetime
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
        key, row_hash = record_of(o)
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


def quarantine(
    conn: sa.Connection, vault: Vault, items: Sequence[Item], ingestion: int, now: dt.datetime
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
                "row_hash": sha(f"{item.sender}/{item.message_id}".encode()),
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


ACTIONS: Final = {
    "accepted": "exchange_received",
    "waiting": "exchange_waiting",
    "rejected": "exchange_rejected",
    "linked": "exchange_linked",
    "duplicate": "exchange_duplicate",
}


def inbox_rows(
    conn: sa.Connection,
    vault: Vault,
    rows: Sequence[tuple[str, Item, int | None]],
    now: dt.datetime,
) -> None:
    """The inbox rows, grouped by outcome so each group is one change entry of the trail."""
    if not rows:
        return
    first = next_id(conn, s.exchange_inbox)
    values = []
    for n, (outcome, item, record) in enumerate(rows):
        body = waiting_body(item) if outcome == "waiting" else None
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
                "sent_at": naive(item.sent_at),
                "received_at": now,
            }
        )
    conn.execute(s.exchange_inbox.insert(), values)
    start = first
    for n in range(1, len(rows) + 1):
        if n == len(rows) or rows[n][0] != rows[n - 1][0]:
            action = ACTIONS[rows[n - 1][0]]
            end = first + n - 1
            record_rows(conn, "exchange_inbox", start, end, ACTOR, action, keys_dir=keys_of(vault))
            start = end + 1
