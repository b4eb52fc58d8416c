"""The digests of `persons` and `links` (guard/trail/seal.py) a link run moves, in its transaction.

A run may touch most of a province's rows, so its part is taken in bulk: the touched rows as
they were (read through the run's own transaction, where they still are), the new links from
the run's frame (what it writes is exactly what it has), the touched persons as written (read
back through the transaction). Each table's new digest is appended to the trail before the
commit: a link run that commits is on the trail, and one that does not leaves no digest.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from fpcredit.guard.trail.seal import EMPTY, RowSealer, canon
from fpcredit.guard.trail.sealing import digest_rows, keys_of, record_digest
from fpcredit.store.db import Store

__all__ = ["LinkSeal", "ids_table"]


class LinkSeal:
    """The digests a link run moves: call `links_before` and `persons_before` before writing,
    `links_written` and `persons_after` after, then `record`."""

    def __init__(self, store: Store) -> None:
        self.keys_dir: Path = keys_of(store)
        self.sealer = RowSealer.of(self.keys_dir)
        self.links = EMPTY
        self.persons = EMPTY

    def links_before(self, conn: sa.Connection, src: str) -> None:
        """Subtract the links of the mentions listed in `src` (a table of `mention_id`s)."""
        where = f"WHERE mention_id IN (SELECT mention_id FROM {src})"
        self.links -= digest_rows(conn, "links", where, {}, self.sealer)

    def links_written(self, links: pl.DataFrame, run_id: int) -> None:
        """Add the links the run writes: its frame's columns and the run's id."""
        frame = links.select(
            pl.col("mention_id").cast(pl.Int64),
            pl.col("person_id").cast(pl.Int64),
            pl.col("pass").cast(pl.String),
            pl.col("probability").cast(pl.Float64),
            pl.lit(run_id, dtype=pl.Int64).alias("run_id"),
        )
        table = frame.to_arrow().cast(canon("links").arrow_schema)
        self.links += self.sealer.digest_arrow("links", table)

    def persons_before(self, conn: sa.Connection, where: str) -> None:
        self.persons -= digest_rows(conn, "persons", where, {}, self.sealer)

    def persons_after(self, conn: sa.Connection, where: str) -> None:
        self.persons += digest_rows(conn, "persons", where, {}, self.sealer)

    def record(self, conn: sa.Connection, mode: str) -> None:
        """Append both tables' new digests (each only when it moved)."""
        for table, delta in (("persons", self.persons), ("links", self.links)):
            if delta != EMPTY:
                record_digest(conn, table, delta, self.keys_dir, "link", f"link_{mode}")


@contextmanager
def ids_table(conn: sa.Connection, name: str, ids: pl.Series) -> Iterator[str]:
    """A temporary table `name` of the given ids (column `id`), for `WHERE id IN (…)`."""
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    conn.execute(sa.text(f"CREATE TEMPORARY TABLE {name} (id BIGINT PRIMARY KEY)"))
    values = [{"id": int(i)} for i in ids.unique().to_list()]
    if values:
        conn.execute(sa.text(f"INSERT INTO {name} (id) VALUES (:id)"), values)
    yield name
    conn.execute(sa.text(f"DROP TABLE {name}"))
