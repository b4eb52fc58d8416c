"""A link run's large row sets, staged in a side file before its transaction (SQLite)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from fpcredit.errors import StoreError
from fpcredit.messages import text
from fpcredit.store.db import Store, atomic

__all__ = ["STAGE", "STAGE_MIN", "Stage"]

STAGE = "fp_stage"
# Below this many rows, filling a temporary table row by row costs less than a side file.
STAGE_MIN = 20_000


class Stage:
    """A run's large row sets, written before its transaction begins (SQLite only).

    Filling a temporary table from Python costs some 3 µs a row: a minute for a province's
    16 million links. ADBC's bulk ingestion writes Arrow columns to SQLite from C, but
    through a connection of its own, so the rows go to a side database file next to the
    store (no journal: it is scratch) and the writing connection attaches it. SQLite cannot
    attach a database inside a transaction, hence: stage first, then write. The file holds
    person ids and link passes, never names or ID numbers in clear, is readable by its owner
    only, and is deleted when the write ends, committed or not.
    """

    def __init__(self, store: Store) -> None:
        database = store.engine.url.database
        on_file = store.dialect == "sqlite" and bool(database) and database != ":memory:"
        self.path = Path(f"{database}.link-stage") if on_file else None
        self.staged: set[str] = set()

    def put(self, name: str, frame: pl.DataFrame, *, minimum: int | None = None) -> None:
        """Stage `frame` as table `name` if it has at least `minimum` rows (by default, enough
        to be worth it)."""
        least = STAGE_MIN if minimum is None else minimum
        if self.path is None or frame.height < least:
            return
        import adbc_driver_sqlite.dbapi as adbc

        if not self.staged:
            self._remove()
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        table = frame.with_columns(
            pl.col(pl.Categorical).cast(pl.String), pl.col(pl.Date).cast(pl.String)
        ).to_arrow(compat_level=pl.CompatLevel.oldest())
        # The driver ingests in one transaction of its own; the pragmas need none open.
        with adbc.connect(f"file:{self.path}", autocommit=True) as side, side.cursor() as cur:
            cur.execute("PRAGMA journal_mode=OFF")
            cur.fetchall()
            cur.execute("PRAGMA synchronous=OFF")
            cur.adbc_ingest(name, table, mode="create")
        self.staged.add(name)

    def put_links(self, links: pl.DataFrame) -> None:
        """Stage the links and, whenever they are staged, every person they name: the check
        that stands in for the foreign key reads that list (see `writing`)."""
        self.put("links", links)
        if "links" in self.staged:
            persons = links.select(pl.col("person_id").alias("id")).unique()
            self.put("link_persons", persons, minimum=0)

    @contextmanager
    def writing(self, store: Store) -> Iterator[sa.Connection]:
        """One transaction on a connection that sees the stage as `fp_stage`.

        With staged links, SQLite's per-row foreign-key check is off for this transaction (it
        doubled the time of rewriting a province's links) and one set-based check stands in
        for it before the commit: every person the links name exists (`check_links`)."""
        try:
            with store.engine.connect() as conn:
                raw = conn.connection.driver_connection
                if self.staged:
                    raw.execute(f"ATTACH DATABASE ? AS {STAGE}", (str(self.path),))  # type: ignore[union-attr]
                try:
                    # Atomic with the person index's drop and rebuild.
                    with atomic(conn, check_keys="links" not in self.staged):
                        yield conn
                finally:
                    if self.staged:
                        raw.execute(f"DETACH DATABASE {STAGE}")  # type: ignore[union-attr]
        finally:
            self._remove()

    def check_links(self, conn: sa.Connection) -> None:
        """Refuse to commit links to a person that does not exist (see `writing`)."""
        if "links" not in self.staged:
            return
        missing = conn.scalar(
            sa.text(
                f"SELECT count(*) FROM {STAGE}.link_persons AS _s "
                "WHERE NOT EXISTS (SELECT 1 FROM persons WHERE persons.id = _s.id)"
            )
        )
        if missing:
            raise StoreError(text("link.write_orphans", n=missing))

    def _remove(self) -> None:
        if self.path is not None:
            for path in (self.path, Path(f"{self.path}-journal")):
                path.unlink(missing_ok=True)
