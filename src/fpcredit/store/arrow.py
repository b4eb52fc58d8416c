"""Column-wise reads of the store into Arrow tables, for the batch engines (linkage, evaluation).

Row-at-a-time DB-API fetches cost seconds per million rows; the ADBC drivers hand over Arrow
batches from C. DuckDB cannot attach the store here (its sqlite/postgres extensions would be
downloaded at run time), so this is the bridge.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from fpcredit.errors import StoreError
from fpcredit.messages import text

__all__ = ["read_arrow"]

# SQLite's driver infers each column's type from the first batch, so a column that is NULL in
# the whole first batch would be typed wrongly; one batch for the whole result avoids that.
_SQLITE_BATCH = str(10**9)


def _connect(url: sa.URL) -> Any:
    if url.get_backend_name() == "sqlite":
        import adbc_driver_sqlite.dbapi as sqlite

        return sqlite.connect(f"file:{url.database}?mode=ro")
    import adbc_driver_postgresql.dbapi as pg

    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return pg.connect(libpq)


def read_arrow(url: sa.URL, sql: str, schema: pa.Schema) -> pa.Table:
    """Run one read-only query and return its result cast to `schema` (columns in order)."""
    try:
        with _connect(url) as conn, conn.cursor() as cur:
            if url.get_backend_name() == "sqlite":
                cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": _SQLITE_BATCH})
            cur.execute(sql)
            table: pa.Table = cur.fetch_arrow_table()
    except Exception as exc:  # the drivers raise their own DB-API error trees
        raise StoreError(text("store_read_failed", reason=str(exc).splitlines()[0])) from exc
    if table.num_rows == 0:
        return schema.empty_table()
    # Copied into memory of Arrow's own, column by column: the driver frees a result only when
    # every buffer of it is released, so one column kept zero-copy (as Polars keeps numbers)
    # would hold all the others, text and bytes included, for as long as it lives.
    columns = [
        pa.concat_arrays(table.column(i).cast(field.type).chunks) for i, field in enumerate(schema)
    ]
    return pa.Table.from_arrays(columns, schema=schema)
