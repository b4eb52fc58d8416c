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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from fpcredit.collect.adapters import Adapter, get_adapter
from fpcredit.collect.readers import FeedTable, read_feed
from fpcredit.collect.validate import KEY, ROW, Validated, validate
from fpcredit.collect.write import HASH, Plan, write_plan
from fpcredit.errors import FeedError, StoreError
from fpcredit.guard.keys.crypto import Vault
from fpcredit.messages import text
from fpcredit.standard.elements import Standard, load_standard
from fpcredit.store import schema as s
from fpcredit.store.bulk import lock_for_ingestion, next_id
from fpcredit.store.db import Store, utc_now

__all__ = ["FileReport", "Ingested", "Progress", "first_ingestion", "ingest_file", "ingest_once"]
log = logging.getLogger(__name__)

Progress = Callable[[str], None]


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


def _existing(conn: sa.Connection, source: str) -> tuple[set[tuple[str, str]], set[str], set[str]]:
    rows = conn.execute(
        sa.select(s.records.c.record_key, s.records.c.row_hash).where(s.records.c.source == source)
    ).all()
    accepted = {(k, h) for k, h in rows}
    keys = {k for k, _ in rows}
    q = conn.execute(sa.select(s.quarantine.c.row_hash).where(s.quarantine.c.source == source))
    return accepted, keys, set(q.scalars())


def _plan(conn: sa.Connection, v: Validated, source: str) -> Plan:
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
    return Plan(
        accepted=accepted,
        quarantined=quarantined,
        new_quarantined=new_quarantined,
        issues=v.issues,
        duplicates=good.height - accepted.height,
        superseded_keys=sorted(corrected),
    )


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
    return _ingest(store, vault, source, path, progress, mappings_dir).report


@dataclass(frozen=True)
class Ingested:
    """An ingestion as `ingest_once` answers it: the report, the id of its `ingestions` row,
    and whether the file had been ingested before (`replayed`: then `report` is that first
    ingestion's, as stored, and nothing was written)."""

    report: FileReport
    ingestion_id: int
    replayed: bool


def ingest_once(
    store: Store,
    vault: Vault,
    source: str,
    path: Path,
    *,
    name: str | None = None,
    sha256: str | None = None,
    progress: Progress | None = None,
    mappings_dir: Path | None = None,
) -> Ingested:
    """`ingest_file`, idempotent on the file's bytes: a file whose SHA-256 an ingestion of the
    same source already has is answered with the first such ingestion's report, and nothing is
    written. Looked up before the file is read (a re-send costs no validation) and again under
    the ingestion lock in the transaction that would write, so two concurrent sends of one
    file write it once. `name` is what the report and the `ingestions` row call the file
    (default: its path); `sha256` its hash when the caller has it (computed otherwise)."""
    digest = sha256 or _file_hash(path)
    with _write_failures(), store.engine.connect() as conn:
        first = first_ingestion(conn, source, digest)
    if first is not None:
        return first
    return _ingest(
        store, vault, source, path, progress, mappings_dir, once=True, name=name, sha256=digest
    )


def first_ingestion(conn: sa.Connection, source: str, sha256: str) -> Ingested | None:
    """The first ingestion of a file with this SHA-256 for `source`, its report as stored
    (`path` as it was recorded then), or None."""
    i = s.ingestions
    row = conn.execute(
        sa.select(i)
        .where(i.c.source == source, i.c.file_sha256 == sha256)
        .order_by(i.c.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    report = FileReport(
        path=row.path,
        source=row.source,
        rows=row.rows,
        accepted=row.accepted,
        duplicates=row.duplicates,
        quarantined=row.quarantined,
        flagged=row.flagged,
        dropped_fields=[str(f) for f in json.loads(row.dropped_fields)],
    )
    return Ingested(report, int(row.id), replayed=True)


@contextmanager
def _write_failures() -> Iterator[None]:
    """A database that refuses (locked past the timeout, unreachable) as one StoreError."""
    try:
        yield
    except sa.exc.OperationalError as e:
        # Only the driver's own first line: SQLAlchemy's text would quote parameters.
        reason = str(e.orig).splitlines()[0] if e.orig else type(e).__name__
        raise StoreError(text("store.write_failed", reason=reason)) from e


def _ingest(
    store: Store,
    vault: Vault,
    source: str,
    path: Path,
    progress: Progress | None,
    mappings_dir: Path | None,
    *,
    once: bool = False,
    name: str | None = None,
    sha256: str | None = None,
) -> Ingested:
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
    with _write_failures():
        done = _store(
            store,
            vault,
            adapter,
            std,
            validated,
            path,
            started,
            feed.rows,
            dropped,
            once=once,
            name=name,
            sha256=sha256,
        )
    counts = {k: v for k, v in done.report.as_json().items() if k != "path"}
    log.info("%s %s", "replayed" if done.replayed else "ingested", counts)
    return done


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
    *,
    once: bool = False,
    name: str | None = None,
    sha256: str | None = None,
) -> Ingested:
    """The one transaction of an ingestion. With `once`, a file this source had ingested
    before (same SHA-256, looked up after the lock) is answered with that ingestion instead."""
    source = adapter.source
    shown = str(path) if name is None else name
    digest = sha256 or _file_hash(path)
    with store.engine.begin() as conn:
        lock_for_ingestion(conn)
        if once:
            first = first_ingestion(conn, source, digest)
            if first is not None:
                return first
        plan = _plan(conn, validated, source)
        ingestion_id = next_id(conn, s.ingestions)
        report = FileReport(
            path=shown,
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
                path=shown,
                file_sha256=digest,
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
        write_plan(conn, vault, plan, adapter, ingestion_id)
    return Ingested(report, ingestion_id, replayed=False)


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


def _flagged_rows(plan: Plan) -> int:
    """Accepted rows that carry at least one flagged field."""
    flags = plan.issues.filter(pl.col("action") == "flagged")[ROW]
    return int(plan.accepted.filter(pl.col(ROW).is_in(flags.implode())).height)


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
