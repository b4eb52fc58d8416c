"""The embedded batch engine: DuckDB in process, over Arrow tables (no server, no extension)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from fpcredit.compute.base import Engine, EngineErrors

__all__ = ["ERRORS", "DuckDBEngine"]

# Every error DuckDB raises (parser, binder, conversion, out of memory, …) derives from this.
ERRORS: EngineErrors = (duckdb.Error,)


class DuckDBEngine(Engine):
    """One in-memory DuckDB connection; tables registered from Arrow without copying."""

    name = "duckdb"
    errors = ERRORS

    def __init__(self, threads: int | None = None) -> None:
        self._con = duckdb.connect(":memory:")
        self._tables: dict[str, pa.Table] = {}
        if threads:
            self._con.execute(f"SET threads = {int(threads)}")
        # The frame is read once per statement; insertion order is not needed by any result.
        self._con.execute("SET preserve_insertion_order = false")

    def _register(self, name: str, table: pa.Table) -> None:
        self._con.register(name, table)

    def _materialise(self, name: str, sql: str) -> None:
        # Held as Arrow rather than a temp table: DuckDB compresses every column of a table it
        # stores, which costs more than the query for the wide per-person rows.
        table = self._con.sql(sql).to_arrow_table()
        self._tables[name] = table
        self._con.register(name, table)

    def _arrow(self, sql: str) -> pa.Table:
        return self._con.sql(sql).to_arrow_table()

    def _close(self) -> None:
        self._con.close()
