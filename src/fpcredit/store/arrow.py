"""Column-wise reads of the store into Arrow tables, for the batch engines (linkage, evaluation).

Row-at-a-time DB-API fetches cost seconds per million rows; the ADBC drivers hand over Arrow
batches from C. DuckDB cannot attach the store here (its sqlite/postgres extensions would be
downloaded at run time), so this is the bridge.

On SQLite the ADBC driver never opens the store in a process that writes it. The driver
bundles a SQLite library of its own, and SQLite's locks are POSIX advisory locks, which belong
to the process: when the driver closed its file descriptor, the process lost every lock its
own (Python) SQLite connections held on the file, another process then believed it was alone,
checkpointed and deleted the write-ahead log, and this process went on writing into the
deleted file (SQLite's "How To Corrupt An SQLite Database File", §2.2.1). So a bulk read on
SQLite runs in a child process (`store/arrow_child.py`) that streams Arrow IPC back, and
small reads (one person's facts) go through the store's own connection.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any, Final

import pyarrow as pa
import sqlalchemy as sa

from fpcredit.errors import StoreError
from fpcredit.messages import text
from fpcredit.store import arrow_child
from fpcredit.store.arrow_child import conform
from fpcredit.store.schema import PLAIN_PERSON_FIELDS

__all__ = ["PLAIN_MENTION_COLUMNS", "PLAIN_MENTION_FIELDS", "fetch_arrow", "read_arrow"]

# A mention's person fields stored in plain text, as the batch reads (linkage, evaluation)
# select them from the mentions table `m` and type them: a date as ISO text, sex a number.
PLAIN_MENTION_COLUMNS: Final = ", ".join(
    f"CAST(m.{f} AS TEXT)" if f == "birth_date" else f"m.{f}" for f in PLAIN_PERSON_FIELDS
)
PLAIN_MENTION_FIELDS: Final = [
    pa.field(f, pa.int64() if f == "sex" else pa.string()) for f in PLAIN_PERSON_FIELDS
]


def read_arrow(url: sa.URL, sql: str, schema: pa.Schema) -> pa.Table:
    """Run one read-only query and return its result cast to `schema` (columns in order)."""
    if url.get_backend_name() == "sqlite":
        return _read_in_child(str(url.database), sql, schema)
    import adbc_driver_postgresql.dbapi as pg

    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with pg.connect(libpq) as conn, conn.cursor() as cur:
            cur.execute(sql)
            table: pa.Table = cur.fetch_arrow_table()
    except Exception as exc:  # the driver raises its own DB-API error tree
        raise StoreError(text("store.read_failed", reason=str(exc).splitlines()[0])) from exc
    return conform(table, schema)


def _read_in_child(database: str, sql: str, schema: pa.Schema) -> pa.Table:
    request = json.dumps(
        {
            "database": database,
            "sql": sql,
            "schema": base64.b64encode(schema.serialize().to_pybytes()).decode(),
        }
    ).encode()
    proc = subprocess.Popen(
        # -P: the script's folder must not shadow anything on the path (it holds db.py, …).
        [sys.executable, "-P", arrow_child.__file__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write(request)
        proc.stdin.close()
        table: pa.Table | None = None
        try:
            table = pa.ipc.open_stream(proc.stdout).read_all()
        except (pa.ArrowInvalid, OSError):
            table = None  # the child failed before or while streaming: its stderr says why
        reason = proc.stderr.read().decode("utf-8", "replace").strip()
    finally:
        code = proc.wait()
    if code != 0 or table is None:
        first = reason.splitlines()[-1] if reason else f"exit status {code}"
        raise StoreError(text("store.read_failed", reason=first))
    return table


def fetch_arrow(conn: sa.Connection, sql: str, schema: pa.Schema) -> pa.Table:
    """`read_arrow` through an open connection of the store: for small reads (one person's
    facts), where starting a reader process would cost more than the rows."""
    try:
        rows: Sequence[Any] = conn.exec_driver_sql(sql).fetchall()
    except sa.exc.SQLAlchemyError as exc:
        reason = str(exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc).splitlines()[0]
        raise StoreError(text("store.read_failed", reason=reason)) from exc
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = [_array(col, field) for col, field in zip(columns, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def _array(values: Sequence[Any], field: pa.Field) -> pa.Array:
    if pa.types.is_binary(field.type):  # PostgreSQL's driver may hand over memoryviews
        values = [None if v is None else bytes(v) for v in values]
    return pa.array(list(values), type=field.type)
