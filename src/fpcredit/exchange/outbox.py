"""Messages to other provinces, written in the transaction of the facts they carry."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from fpcredit.exchange.identity import load_identity, partners
from fpcredit.exchange.message import message_id, seal_message
from fpcredit.guard.trail.log import record_rows
from fpcredit.standard.elements import COMMON_FIELDS, load_standard
from fpcredit.store import schema as s
from fpcredit.store.bulk import next_id
from fpcredit.store.db import utc_now

__all__ = ["enqueue_records"]
log = logging.getLogger(__name__)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def enqueue_records(
    conn: sa.Connection,
    keys_dir: Path | None,
    acc: pl.DataFrame,
    source: str,
    subject_role: str,
    columns: dict[str, str],
) -> int:
    """Write one outbox message per accepted record of `acc` whose subject's hukou lies in a
    partner province; returns how many. `acc` holds the ingestion's accepted rows (`_rid` and
    the standard's `role.element` / `fact.element` columns); `columns` names its key, row hash
    and kind columns. Nothing happens on a home without an exchange identity, or for a data set
    the standard does not mark for exchange."""
    hukou = f"{subject_role}.hukou_region"
    if keys_dir is None or acc.is_empty() or hukou not in acc.columns:
        return 0
    std = load_standard()
    kinds = [
        k
        for k in acc[columns["kind"]].unique().to_list()
        if k in std.datasets and std.datasets[k].exchange is not None
    ]
    me = load_identity(keys_dir) if kinds else None
    if me is None:
        return 0
    registry = partners(conn)
    targets = [p for p in registry if p != me.province]
    status = f"{subject_role}.id_number#status"
    chosen = acc.filter(
        pl.col(columns["kind"]).is_in(kinds)
        & pl.col(hukou).cast(pl.String).str.slice(0, 2).is_in(targets)
        & (pl.col(status) == "valid" if status in acc.columns else pl.lit(True))
    )
    if chosen.is_empty():
        return 0
    now = utc_now()
    first = next_id(conn, s.exchange_outbox)
    rows = []
    for offset, row in enumerate(chosen.iter_rows(named=True)):
        kind = str(row[columns["kind"]])
        marks = std.datasets[kind].exchange
        assert marks is not None
        key, row_hash = str(row[columns["key"]]), str(row[columns["hash"]])
        to = str(row[hukou])[:2]
        body = {
            "source": source,
            "record_key": key,
            "role": subject_role,
            "subject": {e: _text(row.get(f"{subject_role}.{e}")) for e in marks.subject},
            "fact": {e: _text(row.get(f"fact.{e}")) for e in (*COMMON_FIELDS, *marks.fact)},
        }
        msg = message_id(me.province, source, key, row_hash)
        rows.append(
            {
                "id": first + offset,
                "message_id": msg,
                "to_province": to,
                "kind": kind,
                "record_id": int(row["_rid"]),
                "envelope": seal_message(me, registry[to], msg, kind, body, now),
                "created_at": now,
            }
        )
    conn.execute(s.exchange_outbox.insert(), rows)
    last = first + len(rows) - 1
    record_rows(
        conn, "exchange_outbox", first, last, "exchange", "exchange_queued", keys_dir=keys_dir
    )
    log.info("exchange: %d messages queued", len(rows))
    return len(rows)


def pending(conn: sa.Connection, limit: int) -> list[Any]:
    """Outbox messages the stream has not acknowledged yet, oldest first."""
    o, sent = s.exchange_outbox, s.exchange_sent
    query = (
        sa.select(o.c.id, o.c.message_id, o.c.to_province, o.c.envelope, o.c.created_at)
        .outerjoin(sent, sent.c.message_id == o.c.message_id)
        .where(sent.c.id.is_(None))
        .order_by(o.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).all())
