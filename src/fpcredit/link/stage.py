"""A link run's large row sets, staged in a side file before its transaction (SQLite), and the
statements that write a frame's rows from there, or from a temporary table filled now."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from fpcredit.errors import StoreError
from fpcredit.messages import text
from fpcredit.store.bulk import bulk_insert
from fpcredit.store.db import Store, atomic

__all__ = ["STAGE", "STAGE_MIN", "Stage", "insert_from", "rows", "update_from"]

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

    def __init__(self, store: Store, minimum: int = STAGE_MIN) -> None:
        database = store.engine.url.database
        on_file = store.dialect == "sqlite" and bool(database) and database != ":memory:"
        self.path = Path(f"{database}.link-stage") if on_file else None
        self.minimum = minimum
        self.staged: set[str] = set()

    def put(self, name: str, frame: pl.DataFrame, *, minimum: int | None = None) -> None:
        """Stage `frame` as table `name` if it has at least `minimum` rows (by default the
        stage's `minimum`: enough to be worth it)."""
        least = self.minimum if minimum is None else minimum
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


def _temp_table(conn: sa.Connection, name: str, columns: Sequence[tuple[str, str]]) -> sa.Table:
    cols = ", ".join(f"{c} {t}" for c, t in columns)
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    conn.execute(sa.text(f"CREATE TEMPORARY TABLE {name} ({cols})"))
    return sa.Table(name, sa.MetaData(), *[sa.Column(c) for c, _ in columns])


def _types(conn: sa.Connection) -> dict[str, str]:
    pg = conn.dialect.name == "postgresql"
    return {
        "int": "BIGINT",
        "text": "TEXT",
        "bytes": "BYTEA" if pg else "BLOB",
        "float": "DOUBLE PRECISION" if pg else "REAL",
        "date": "DATE",
        "time": "TIMESTAMP",
    }


_COLUMN_KINDS = {
    "id": "int",
    "mention_id": "int",
    "person_id": "int",
    "pass": "text",
    "probability": "float",
    "run_id": "int",
    "mentions": "int",
    "name_enc": "bytes",
    "name_bidx": "bytes",
    "id_number_enc": "bytes",
    "id_number_bidx": "bytes",
    "sex": "int",
    "birth_date": "date",
    "updated_at": "time",
    "merged_into": "int",
}


def update_from(
    conn: sa.Connection,
    target: str,
    frame: pl.DataFrame,
    *,
    stage: Stage | None = None,
    name: str = "update",
    consts: dict[str, Any] | None = None,
) -> None:
    """UPDATE target from a frame keyed by `id` (SQLite ≥ 3.33 and PostgreSQL both know
    UPDATE … FROM); `consts` are the same for every row, bound once instead of per row."""
    if frame.is_empty():
        return
    consts = consts or {}
    with rows(conn, frame, stage, name) as src:
        sets = [f"{c} = _s.{c}" for c in frame.columns if c != "id"]
        sets += [f"{c} = :{c}" for c in consts]
        conn.execute(
            sa.text(
                f"UPDATE {target} SET {', '.join(sets)} FROM {src} AS _s WHERE {target}.id = _s.id"
            ),
            consts,
        )


def insert_from(
    conn: sa.Connection,
    target: sa.Table,
    frame: pl.DataFrame,
    *,
    stage: Stage | None = None,
    name: str = "insert",
    consts: dict[str, Any] | None = None,
) -> None:
    """INSERT a frame's rows into target, with `consts` in every row."""
    if frame.is_empty():
        return
    consts = consts or {}
    cols = [*frame.columns, *consts]
    values = [*frame.columns, *(f":{c}" for c in consts)]
    with rows(conn, frame, stage, name) as src:
        conn.execute(
            sa.text(
                f"INSERT INTO {target.name} ({', '.join(cols)}) "
                f"SELECT {', '.join(values)} FROM {src}"
            ),
            consts,
        )


@contextmanager
def rows(conn: sa.Connection, frame: pl.DataFrame, stage: Stage | None, name: str) -> Iterator[str]:
    """The table a statement reads the frame's rows from: the stage's copy if it has one, else
    a temporary table filled now (and dropped afterwards)."""
    if stage is not None and name in stage.staged:
        yield f"{STAGE}.{name}"
        return
    types = _types(conn)
    tmp = f"_fp_{name}"
    cols = [(c, types[_COLUMN_KINDS.get(c, "text")]) for c in frame.columns]
    table = _temp_table(conn, tmp, cols)
    bulk_insert(conn, table, frame.columns, frame.iter_rows())
    yield tmp
    conn.execute(sa.text(f"DROP TABLE {tmp}"))
