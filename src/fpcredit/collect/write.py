"""Writing one ingestion's plan: records, mentions (identifiers encrypted), facts, quarantine,
quality issues, the exchange's outbox and the trail's change entries, in the caller's
transaction (collect/ingest.py holds it and the ingestion lock)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa

from fpcredit.collect.adapters import Adapter
from fpcredit.collect.validate import KEY, KIND, ROW
from fpcredit.exchange.outbox import enqueue_records
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.log import record_rows
from fpcredit.standard.elements import COMMON_FIELDS
from fpcredit.store import schema as s
from fpcredit.store.bulk import bulk_insert, next_id, sync_sequences
from fpcredit.store.db import utc_now
from fpcredit.store.versions import supersede

__all__ = ["HASH", "Plan", "write_plan"]

HASH = "_row_hash"
# Dates go to the driver as text in SQLAlchemy's own storage format: converting a million
# date objects one by one in the driver costs more than the insert itself.
EVENT = pl.col("fact.event_date").cast(pl.String).alias("_event")
RECORDED = pl.col("fact.recorded_at").dt.strftime("%Y-%m-%d %H:%M:%S%.6f").alias("_recorded")
MENTION_FIELDS = s.PLAIN_PERSON_FIELDS


@dataclass
class Plan:
    """Rows split into their destinations."""

    accepted: pl.DataFrame
    quarantined: pl.DataFrame
    # Quarantined rows not stored before (a re-sent bad row is counted, not stored twice).
    new_quarantined: pl.DataFrame
    issues: pl.DataFrame
    duplicates: int
    superseded_keys: list[str]


def _insert(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Insert a frame whose column names are the table's."""
    bulk_insert(conn, table, frame.columns, frame.iter_rows())


def _binary(name: str, values: list[bytes | None]) -> pl.Series:
    return pl.Series(name, values, dtype=pl.Binary)


class _Writer:
    """Writes one ingestion's rows inside a single transaction."""

    def __init__(self, conn: sa.Connection, vault: Vault, source: str, ingestion_id: int) -> None:
        self.conn, self.vault, self.source, self.ingestion_id = conn, vault, source, ingestion_id

    def _provenance(self) -> list[pl.Expr]:
        return [
            pl.lit(self.source).alias("source"),
            pl.col(KEY).alias("record_key"),
            pl.col(HASH).alias("row_hash"),
        ]

    def records(self, acc: pl.DataFrame, first_id: int) -> pl.DataFrame:
        acc = acc.with_columns(pl.int_range(first_id, first_id + acc.height).alias("_rid"))
        rows = acc.select(
            pl.col("_rid").alias("id"),
            *self._provenance(),
            pl.col(KIND).alias("kind"),
            EVENT.alias("event_date"),
            RECORDED.alias("recorded_at"),
            pl.lit(self.ingestion_id).alias("ingestion_id"),
            pl.col(ROW).alias("row_number"),
        )
        _insert(self.conn, s.records, rows)
        return acc

    def mentions(self, acc: pl.DataFrame, roles: list[str], subject: str, first_id: int) -> Any:
        parts = []
        for role in roles:
            part = acc.select(
                pl.col("_rid").alias("record_id"),
                pl.lit(role).alias("role"),
                pl.col(f"{role}.id_number").alias("id_number"),
                pl.col(f"{role}.id_number#status").alias("id_status"),
                pl.col(f"{role}.id_number#reason").alias("id_reason"),
                *[
                    _opt(acc, f"{role}.{f}", f)
                    for f in ("name", *MENTION_FIELDS, "phone", "address")
                ],
            )
            present = pl.col("name").is_not_null() | pl.col("id_status").ne("missing")
            parts.append(part if role == subject else part.filter(present))
        men = pl.concat(parts, how="vertical_relaxed")
        men = men.with_columns(pl.int_range(first_id, first_id + men.height).alias("id"))
        ids, names, v = men["id_number"].to_list(), men["name"].to_list(), self.vault
        rows = men.with_columns(
            _binary("id_number_enc", v.encrypt_many(ids, "id_number")),
            _binary("id_number_bidx", v.blind_index_many(ids, "id_number")),
            _binary("name_enc", v.encrypt_many(names, "name")),
            _binary("name_bidx", v.blind_index_many(names, "name")),
            _binary("phone_enc", v.encrypt_many(men["phone"].to_list(), "phone")),
            _binary("address_enc", v.encrypt_many(men["address"].to_list(), "address")),
            pl.col("sex").cast(pl.Int16, strict=False),
        ).drop("id_number", "name", "phone", "address")
        _insert(self.conn, s.mentions, rows)
        return men.filter(pl.col("role") == subject).select(
            pl.col("record_id").alias("_rid"), pl.col("id").alias("_mid")
        )

    def facts(
        self, acc: pl.DataFrame, subjects: pl.DataFrame, attrs: list[str], first: int
    ) -> None:
        fields = [pl.col(f"fact.{a}").cast(pl.String).alias(a) for a in attrs]
        rows = acc.join(subjects, on="_rid", how="left").select(
            pl.int_range(first, first + acc.height).alias("id"),
            pl.col("_rid").alias("record_id"),
            pl.col("_mid").alias("subject_mention_id"),
            pl.col(KIND).alias("kind"),
            *self._provenance(),
            EVENT.alias("event_date"),
            RECORDED.alias("recorded_at"),
            pl.struct(fields).struct.json_encode().alias("attrs"),
            pl.lit(False).alias("disputed"),
        )
        _insert(self.conn, s.facts, rows)

    def quarantine(
        self, bad: pl.DataFrame, reasons: pl.DataFrame, first_id: int, raw_columns: list[str]
    ) -> None:
        bad = bad.join(reasons, on=ROW, how="left")
        payload = bad.select(pl.struct(raw_columns).struct.json_encode()).to_series().to_list()
        now = utc_now()
        rows = bad.select(
            pl.int_range(first_id, first_id + bad.height).alias("id"),
            pl.lit(self.ingestion_id).alias("ingestion_id"),
            *self._provenance(),
            pl.col(ROW).alias("row_number"),
            "rule",
            "field",
            _binary("row_enc", self.vault.encrypt_many(payload, "quarantine_row")),
            pl.lit(now).alias("created_at"),
        )
        _insert(self.conn, s.quarantine, rows)

    def issues(self, issues: pl.DataFrame, frame: pl.DataFrame, first_id: int) -> None:
        joined = issues.join(frame.select(ROW, KEY, HASH, "_rid"), on=ROW, how="left")
        rows = joined.select(
            pl.int_range(first_id, first_id + joined.height).alias("id"),
            pl.lit(self.ingestion_id).alias("ingestion_id"),
            *self._provenance(),
            pl.col(ROW).alias("row_number"),
            "field",
            "rule",
            "action",
            pl.col("_rid").alias("record_id"),
        )
        _insert(self.conn, s.quality_issues, rows)


def _opt(frame: pl.DataFrame, column: str, alias: str) -> pl.Expr:
    if column in frame.columns:
        return pl.col(column).cast(pl.String).alias(alias)
    return pl.lit(None, pl.String).alias(alias)


def _fact_attrs(adapter: Adapter) -> list[str]:
    """Fact elements kept as attributes (the mapping file is checked against the standard)."""
    mapped = [t.element for _, t in adapter.mapping.targets() if t.owner == "fact"]
    return [e for e in dict.fromkeys(mapped) if e not in COMMON_FIELDS]


def write_plan(
    conn: sa.Connection,
    vault: Vault,
    plan: Plan,
    adapter: Adapter,
    ingestion_id: int,
) -> None:
    m = adapter.mapping
    w = _Writer(conn, vault, m.source, ingestion_id)
    first_record, first_fact = next_id(conn, s.records), next_id(conn, s.facts)
    acc = w.records(plan.accepted, first_record)
    subjects = w.mentions(acc, m.roles(), m.subject, next_id(conn, s.mentions))
    w.facts(acc, subjects, _fact_attrs(adapter), first_fact)
    reasons = (
        plan.issues.filter(pl.col("action") == "quarantined")
        .unique(ROW, keep="first", maintain_order=True)
        .select(ROW, "field", "rule")
    )
    # Unparseable rows are kept verbatim (encrypted) in `_raw`: nothing is lost.
    raw_cols = [c for c in (*m.columns, "_raw") if c in plan.quarantined.columns]
    w.quarantine(plan.new_quarantined, reasons, next_id(conn, s.quarantine), raw_cols)
    new_issues = _new_issues(plan, acc)
    frame = pl.concat(
        [
            acc.select(ROW, KEY, HASH, "_rid"),
            plan.quarantined.select(ROW, KEY, HASH).with_columns(
                pl.lit(None, pl.Int64).alias("_rid")
            ),
        ]
    )
    w.issues(new_issues, frame, next_id(conn, s.quality_issues))
    if plan.superseded_keys:
        supersede(conn, m.source, plan.superseded_keys)
    # A migrant's fact for her hukou province (R8): queued with the fact, relayed later.
    enqueue_records(
        conn, vault.keys_dir, acc, m.source, m.subject, {"key": KEY, "hash": HASH, "kind": KIND}
    )
    # The trail (R30): the new records and facts, hashed in the same transaction as written.
    actor = f"ingest:{m.source}"
    for table, first in ((s.records, first_record), (s.facts, first_fact)):
        last = next_id(conn, table) - 1
        if last >= first:
            record_rows(conn, table.name, first, last, actor, "ingest", keys_dir=vault.keys_dir)
    sync_sequences(
        conn,
        (s.records, s.mentions, s.facts, s.quarantine, s.quality_issues, s.exchange_outbox),
    )


def _new_issues(plan: Plan, acc: pl.DataFrame) -> pl.DataFrame:
    """Flags on newly accepted rows and reasons of quarantined rows not stored before."""
    fresh_bad = plan.new_quarantined[ROW]
    flags = plan.issues.filter(pl.col(ROW).is_in(acc[ROW].implode()))
    bad = plan.issues.filter(
        pl.col(ROW).is_in(fresh_bad.implode()) & (pl.col("action") == "quarantined")
    )
    return pl.concat([flags, bad])
