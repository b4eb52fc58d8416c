"""Ingesting a department file: read, validate, de-duplicate, encrypt, store — all or nothing.

Every input row ends in exactly one of accepted, duplicates or quarantined, and the file's
report says so. One file is one transaction: a crash or an unreadable file leaves the store
as it was, so running the same command again converges on the state of one clean run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from fpcredit.collect.adapters import Adapter, get_adapter
from fpcredit.collect.readers import FeedTable, read_feed
from fpcredit.collect.validate import KEY, KIND, ROW, Validated, validate
from fpcredit.errors import FeedError, StoreError
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.log import record_rows
from fpcredit.messages import text
from fpcredit.standard.elements import COMMON_FIELDS, Standard, load_standard
from fpcredit.store import schema as s
from fpcredit.store.bulk import bulk_insert, lock_for_ingestion, next_id, sync_sequences
from fpcredit.store.db import Store, utc_now

__all__ = ["FileReport", "Progress", "ingest_file"]
log = logging.getLogger(__name__)

Progress = Callable[[str], None]
HASH = "_row_hash"
# Dates go to the driver as text in SQLAlchemy's own storage format: converting a million
# date objects one by one in the driver costs more than the insert itself.
EVENT = pl.col("fact.event_date").cast(pl.String).alias("_event")
RECORDED = pl.col("fact.recorded_at").dt.strftime("%Y-%m-%d %H:%M:%S%.6f").alias("_recorded")
MENTION_FIELDS = s.PLAIN_PERSON_FIELDS


@dataclass(frozen=True)
class FileReport:
    """What happened to one file; rows == accepted + duplicates + quarantined."""

    path: str
    source: str
    rows: int
    accepted: int
    duplicates: int
    quarantined: int
    flagged: int
    dropped_fields: list[str]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _hashes(source: str, texts: Iterable[str]) -> list[str]:
    prefix = source.encode() + b"\x1e"
    return [hashlib.sha256(prefix + t.encode()).hexdigest() for t in texts]


def _row_hashes(frame: pl.DataFrame, columns: list[str], source: str) -> list[str]:
    # Hash only the columns the standard keeps, so a re-send with extra (dropped) columns is
    # recognised as the same row.
    joined = frame.select(
        pl.concat_str([pl.col(c).fill_null("\x00") for c in columns], separator="\x1f")
    ).to_series()
    return _hashes(source, joined)


def _prepare(feed: FeedTable, adapter: Adapter, std: Standard, path: Path) -> Validated:
    raw = pl.from_arrow(feed.table)
    assert isinstance(raw, pl.DataFrame)
    present = set(raw.columns)
    for column in adapter.required_columns(std):
        if column not in present:
            raise FeedError(str(path), text("feed.missing_column", column=column))
    mapping = adapter.mapping
    kept = [c for c in mapping.columns if c in present]
    raw = raw.select([ROW, *kept]).with_columns(
        pl.Series(HASH, _row_hashes(raw, kept, mapping.source), pl.String)
    )
    today = dt.date.today()
    return validate(raw, mapping, std, today, adapter.checks(today))


@dataclass
class _Plan:
    """Rows split into their destinations."""

    accepted: pl.DataFrame
    quarantined: pl.DataFrame
    # Quarantined rows not stored before (a re-sent bad row is counted, not stored twice).
    new_quarantined: pl.DataFrame
    issues: pl.DataFrame
    duplicates: int
    superseded_keys: list[str]


def _existing(conn: sa.Connection, source: str) -> tuple[set[tuple[str, str]], set[str], set[str]]:
    rows = conn.execute(
        sa.select(s.records.c.record_key, s.records.c.row_hash).where(s.records.c.source == source)
    ).all()
    accepted = {(k, h) for k, h in rows}
    keys = {k for k, _ in rows}
    q = conn.execute(sa.select(s.quarantine.c.row_hash).where(s.quarantine.c.source == source))
    return accepted, keys, set(q.scalars())


def _plan(conn: sa.Connection, v: Validated, source: str) -> _Plan:
    accepted_before, keys_before, quarantined_before = _existing(conn, source)
    bad_rows = v.issues.filter(pl.col("action") == "quarantined")[ROW].unique()
    frame = v.frame.with_columns(pl.col(ROW).is_in(bad_rows.implode()).alias("_bad"))
    good = frame.filter(~pl.col("_bad"))
    # A verbatim re-send (same key, same content) of a stored or earlier row is a duplicate.
    seen = pl.Series([f"{k}\x1f{h}" for k, h in accepted_before], dtype=pl.String)
    pair = pl.concat_str([pl.col(KEY), pl.col(HASH)], separator="\x1f")
    good = good.with_columns(
        (pair.is_in(seen.implode()) | pair.is_duplicated() & ~pair.is_first_distinct()).alias(
            "_dup"
        )
    )
    accepted = good.filter(~pl.col("_dup"))
    corrected = set(accepted[KEY].to_list()) & keys_before
    quarantined = frame.filter(pl.col("_bad"))
    stored = pl.Series(sorted(quarantined_before), dtype=pl.String)
    new_quarantined = quarantined.unique(HASH, keep="first", maintain_order=True).filter(
        ~pl.col(HASH).is_in(stored.implode())
    )
    return _Plan(
        accepted=accepted,
        quarantined=quarantined,
        new_quarantined=new_quarantined,
        issues=v.issues,
        duplicates=good.height - accepted.height,
        superseded_keys=sorted(corrected),
    )


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


def _supersede(conn: sa.Connection, source: str, keys: list[str]) -> None:
    """Close the knowledge interval of older versions of corrected records (R7)."""
    f, newer = s.facts, s.facts.alias("newer")
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        later = (
            sa.select(sa.func.min(newer.c.recorded_at))
            .where(
                newer.c.source == f.c.source,
                newer.c.record_key == f.c.record_key,
                newer.c.id > f.c.id,
            )
            .scalar_subquery()
        )
        conn.execute(
            f.update()
            .where(f.c.source == source, f.c.record_key.in_(chunk), f.c.superseded_at.is_(None))
            .values(superseded_at=later)
        )


def _write(
    conn: sa.Connection,
    vault: Vault,
    plan: _Plan,
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
        _supersede(conn, m.source, plan.superseded_keys)
    # The trail (R30): the new records and facts, hashed in the same transaction as written.
    actor = f"ingest:{m.source}"
    for table, first in ((s.records, first_record), (s.facts, first_fact)):
        last = next_id(conn, table) - 1
        if last >= first:
            record_rows(conn, table.name, first, last, actor, "ingest", keys_dir=vault.keys_dir)
    sync_sequences(conn, (s.records, s.mentions, s.facts, s.quarantine, s.quality_issues))


def _new_issues(plan: _Plan, acc: pl.DataFrame) -> pl.DataFrame:
    """Flags on newly accepted rows and reasons of quarantined rows not stored before."""
    fresh_bad = plan.new_quarantined[ROW]
    flags = plan.issues.filter(pl.col(ROW).is_in(acc[ROW].implode()))
    bad = plan.issues.filter(
        pl.col(ROW).is_in(fresh_bad.implode()) & (pl.col("action") == "quarantined")
    )
    return pl.concat([flags, bad])


def ingest_file(
    store: Store,
    vault: Vault,
    source: str,
    path: Path,
    progress: Progress | None = None,
    mappings_dir: Path | None = None,
) -> FileReport:
    """Ingest one file of a department source (packaged, or a mapping file in `mappings_dir`);
    FeedError if the file as a whole is unusable."""
    note = progress or (lambda _stage: None)
    adapter, std = get_adapter(source, mappings_dir), load_standard()
    started = utc_now()
    note("reading")
    feed = read_feed(path, adapter.mapping)
    note("validating")
    validated = _prepare(feed, adapter, std, path)
    validated = _with_broken(validated, feed, source)
    dropped = sorted(set(feed.table.column_names) - set(adapter.mapping.columns) - {ROW})
    note("writing")
    try:
        report = _store(store, vault, adapter, std, validated, path, started, feed.rows, dropped)
    except sa.exc.OperationalError as e:
        # Only the driver's own first line: SQLAlchemy's text would quote parameters.
        reason = str(e.orig).splitlines()[0] if e.orig else type(e).__name__
        raise StoreError(text("store.write_failed", reason=reason)) from e
    log.info("ingested %s", {k: v for k, v in report.as_json().items() if k != "path"})
    return report


def _store(
    store: Store,
    vault: Vault,
    adapter: Adapter,
    std: Standard,
    validated: Validated,
    path: Path,
    started: dt.datetime,
    rows: int,
    dropped: list[str],
) -> FileReport:
    """The one transaction of an ingestion."""
    source = adapter.source
    with store.engine.begin() as conn:
        lock_for_ingestion(conn)
        plan = _plan(conn, validated, source)
        ingestion_id = next_id(conn, s.ingestions)
        report = FileReport(
            path=str(path),
            source=source,
            rows=rows,
            accepted=plan.accepted.height,
            duplicates=plan.duplicates,
            quarantined=plan.quarantined.height,
            flagged=_flagged_rows(plan),
            dropped_fields=dropped,
        )
        conn.execute(
            s.ingestions.insert().values(
                id=ingestion_id,
                source=source,
                path=str(path),
                file_sha256=_file_hash(path),
                standard_version=std.version,
                started_at=started,
                finished_at=utc_now(),
                dropped_fields=json.dumps(dropped, ensure_ascii=False),
                **{
                    k: getattr(report, k)
                    for k in ("rows", "accepted", "duplicates", "quarantined", "flagged")
                },
            )
        )
        _write(conn, vault, plan, adapter, ingestion_id)
    return report


def _with_broken(v: Validated, feed: FeedTable, feed_source: str) -> Validated:
    """Add unparseable rows as quarantined rows with no typed values."""
    if not feed.broken:
        return v
    broken = pl.DataFrame(
        {
            ROW: [b.row_number for b in feed.broken],
            HASH: _hashes(feed_source, (b.raw for b in feed.broken)),
            "_raw": [b.raw for b in feed.broken],
        },
        schema={ROW: pl.Int64, HASH: pl.String, "_raw": pl.String},
    )
    frame = pl.concat([v.frame, broken], how="diagonal_relaxed")
    issues = pl.concat(
        [
            v.issues,
            broken.select(
                ROW,
                pl.lit("row").alias("field"),
                pl.lit("unparseable_row").alias("rule"),
                pl.lit("quarantined").alias("action"),
            ),
        ]
    )
    return Validated(frame, issues)


def _flagged_rows(plan: _Plan) -> int:
    """Accepted rows that carry at least one flagged field."""
    flags = plan.issues.filter(pl.col("action") == "flagged")[ROW]
    return int(plan.accepted.filter(pl.col(ROW).is_in(flags.implode())).height)


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
