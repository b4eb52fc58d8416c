"""The batch-engine interface: register Arrow tables, materialise SQL, read results back.

Logic lives in pure functions that emit SQL (`evaluate/compile/`); an engine only runs it.
Timing and error wrapping live here, once, so that each engine is a few lines.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from typing import Any, final

import pyarrow as pa

__all__ = ["Engine"]

log = logging.getLogger(__name__)


class Engine(ABC):
    """Run SQL over registered tables. Subclasses implement the four `_` methods."""

    name = "engine"

    @final
    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table queryable as `name` (replacing any table of that name)."""
        self._register(name, table)

    @final
    def materialise(self, name: str, sql: str) -> None:
        """Store the result of `sql` as table `name` for later statements."""
        started = time.perf_counter()
        self._materialise(name, sql)
        log.debug("%s: %s in %.3f s", self.name, name, time.perf_counter() - started)

    @final
    def arrow(self, sql: str) -> pa.Table:
        """The result of a query as an Arrow table."""
        started = time.perf_counter()
        table = self._arrow(sql)
        log.debug("%s: %s in %.3f s", self.name, "query", time.perf_counter() - started)
        return table

    @final
    def close(self) -> None:
        self._close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    @abstractmethod
    def _register(self, name: str, table: pa.Table) -> None: ...

    @abstractmethod
    def _materialise(self, name: str, sql: str) -> None: ...

    @abstractmethod
    def _arrow(self, sql: str) -> pa.Table: ...

    @abstractmethod
    def _close(self) -> None: ...
