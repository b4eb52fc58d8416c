"""Fast bulk writes inside an open transaction: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["bulk_insert", "lock_for_ingestion", "next_id", "sync_sequences"]

_INGEST_LOCK = 7_413_001  # arbitrary, fixed: serialises id allocation between ingestions


def bulk_insert(
    conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert many rows through the driver, skipping per-row SQLAlchemy overhead."""
    dbapi = conn.connection.driver_connection
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with dbapi.cursor() as cur, cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    cur = dbapi.cursor()  # type: ignore[union-attr]
    cur.executemany(f"INSERT INTO {table.name} ({cols}) VALUES ({marks})", rows)
    cur.close()


def lock_for_ingestion(conn: sa.Connection) -> None:
    """Take the store-wide write lock for the rest of the transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _INGEST_LOCK})
    else:
        # Any write takes SQLite's RESERVED lock; a no-op update is the cheapest write.
        conn.execute(sa.text("UPDATE ingestions SET id = id WHERE 0"))


def next_id(conn: sa.Connection, table: sa.Table) -> int:
    """The first free id (call only while holding the ingestion lock)."""
    return int(conn.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))) or 0) + 1


def sync_sequences(conn: sa.Connection, tables: Iterable[sa.Table]) -> None:
    """Move PostgreSQL's id sequences past explicitly inserted ids (SQLite needs nothing)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"
            )
        )
