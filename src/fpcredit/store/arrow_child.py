"""The reader process of `store.arrow`: one query on a SQLite store, streamed back as Arrow IPC.

Run by its path (`python -P …/arrow_child.py`) with a JSON request on stdin (`database`, `sql`,
`schema` as a base64 IPC schema). It answers with one Arrow IPC stream on stdout, or with the
reason on stderr and exit status 1. It imports nothing of fpcredit (the package's imports cost
half a second), and it opens the store read-only: it can neither write nor checkpoint it.
"""

from __future__ import annotations

import base64
import json
import sys

import pyarrow as pa

__all__ = ["conform", "main"]

# SQLite's driver infers each column's type from the first batch, so a column that is NULL in
# the whole first batch would be typed wrongly; one batch for the whole result avoids that.
_BATCH_ROWS = str(10**9)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table`'s columns cast to `schema`, copied into memory of Arrow's own.

    The copy matters: a driver frees a result only when every buffer of it is released, so
    one column kept zero-copy (as Polars keeps numbers) would hold all the others, text and
    bytes included, for as long as it lives."""
    if table.num_rows == 0:
        return schema.empty_table()
    columns = []
    for i, field in enumerate(schema):
        column = table.column(i)
        if column.null_count == len(column):  # typed from nothing but NULLs by the driver
            columns.append(pa.nulls(len(column), field.type))
        else:
            columns.append(pa.concat_arrays(column.cast(field.type).chunks))
    return pa.Table.from_arrays(columns, schema=schema)


def _query(database: str, sql: str, schema: pa.Schema) -> pa.Table:
    import adbc_driver_sqlite.dbapi as sqlite

    with sqlite.connect(f"file:{database}?mode=ro") as conn, conn.cursor() as cur:
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": _BATCH_ROWS})
        cur.execute(sql)
        return conform(cur.fetch_arrow_table(), schema)


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(request["schema"])))
    try:
        table = _query(request["database"], request["sql"], schema)
    except Exception as exc:  # the driver raises its own DB-API error tree; the parent words it
        sys.stderr.write((str(exc).splitlines() or [type(exc).__name__])[0] + "\n")
        return 1
    with pa.ipc.new_stream(sys.stdout.buffer, schema) as writer:
        writer.write_table(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
