"""Where the Splink pass runs: DuckDB in process, or Spark in local mode (`compute/spark.py`).

Splink is handed its connection through its public constructors — our own DuckDB connection to
`DuckDBAPI(connection=…)`, our own Spark session to `SparkAPI(spark_session=…)` — and we keep
our handle to it, to read results back and to close it. Every call is wrapped once by
`compute.base.wrapped`: an engine's error becomes a `ComputeError` naming the step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar, Final, final

import duckdb
import pyarrow as pa
from splink import DuckDBAPI

from fpcredit.compute import duckdb as compute_duckdb
from fpcredit.compute import spark as compute_spark
from fpcredit.compute.base import EngineErrors, wrapped
from fpcredit.link.config import Backend

__all__ = ["BACKENDS", "SplinkBackend", "SplinkCall"]


class SplinkCall:
    """One Splink call's database API, and the engine under it for reading results back."""

    def __init__(
        self, backend: SplinkBackend, api: Any, read: Callable[[str], pa.Table], step: str
    ) -> None:
        self.backend, self.api, self._read, self._step = backend, api, read, step

    def register(self, table: pa.Table, name: str) -> Any:
        """`table` as a Splink data frame called `name` (once per name and call)."""
        return self.api.register(table, dataset_display_name=name)

    def arrow(self, sql: str, schema: pa.Schema) -> pa.Table:
        """The result of `sql` with `schema`: the same on every backend."""
        with wrapped(self.backend.name, self.backend.errors(), f"{self._step}: read", sql):
            return self._read(sql).cast(schema)


class SplinkBackend(ABC):
    """A place Splink runs. `name` is also the dialect of its SQL (`compute/dialects.py`)."""

    name: ClassVar[Backend]

    @final
    @contextmanager
    def call(self, step: str) -> Iterator[SplinkCall]:
        """A fresh Splink API for one call (`step` names it in errors): Splink caches a call's
        tables by name in its API, so nothing of one call may reach the next."""
        with wrapped(self.name, self.errors(), step), self._open(step) as call:
            yield call

    @abstractmethod
    def errors(self) -> EngineErrors:
        """The exceptions the engine raises, which `call` wraps."""

    @abstractmethod
    def _open(self, step: str) -> AbstractContextManager[SplinkCall]: ...


class _DuckDB(SplinkBackend):
    name = "duckdb"

    def errors(self) -> EngineErrors:
        return compute_duckdb.ERRORS

    @contextmanager
    def _open(self, step: str) -> Iterator[SplinkCall]:
        con = duckdb.connect(":memory:")
        try:
            con.sql("SET threads = 2")
            # DuckDB's allocator otherwise keeps what a scoring pass freed (gigabytes at a
            # million persons) until it next allocates; its background threads hand it back.
            con.sql("SET allocator_background_threads = true")
            # Names are decrypted in memory for comparison: never let DuckDB spill them to disk.
            con.sql("SET temp_directory = ''")
            api = DuckDBAPI(connection=con)
            yield SplinkCall(self, api, lambda sql: con.sql(sql).to_arrow_table(), step)
        finally:
            # Whatever the call computed goes with its database, now rather than when collected.
            con.close()


class _Spark(SplinkBackend):
    name = "spark"

    def errors(self) -> EngineErrors:
        return compute_spark.errors()

    @contextmanager
    def _open(self, step: str) -> Iterator[SplinkCall]:
        with compute_spark.spark_call() as session:
            from splink.backends.spark import SparkAPI

            make_api: Callable[..., Any] = SparkAPI  # untyped in Splink
            # Splink cuts the lineage of its intermediate tables with Parquet files in the
            # call's checkpoint directory (see `spark_call`).
            api = make_api(spark_session=session, break_lineage_method="parquet")
            # Spark marks every computed column nullable and may pick other widths: the
            # caller's schema makes it DuckDB's.
            yield SplinkCall(self, api, lambda sql: session.sql(sql).toArrow(), step)


BACKENDS: Final[dict[Backend, SplinkBackend]] = {"duckdb": _DuckDB(), "spark": _Spark()}
