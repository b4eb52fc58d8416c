"""The batch-engine seam: register Arrow tables, materialise SQL, read results back, and wrap
whatever an engine raises into one `ComputeError` naming the step and its SQL.

Logic lives in pure functions that emit SQL (`evaluate/compile/`); an engine only runs it.
Timing and error wrapping live here, once, so that each engine is a few lines. The linkage's
Splink backends (`link/backends.py`) wrap their calls with the same `wrapped`.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, final

import pyarrow as pa

from fpcredit.errors import ComputeError, FpcreditError
from fpcredit.messages import text

__all__ = ["Engine", "EngineErrors", "wrapped"]

log = logging.getLogger(__name__)

EngineErrors = tuple[type[BaseException], ...]
# How far down an exception's chain of causes an engine's error is looked for: Splink wraps
# the engine's error once, pyspark's converters once more.
_CHAIN_DEPTH = 8


def _engine_error(error: BaseException, errors: EngineErrors) -> BaseException | None:
    """The first of `errors` in the chain that led to `error`, if any."""
    seen: BaseException | None = error
    for _ in range(_CHAIN_DEPTH):
        if seen is None:
            return None
        if isinstance(seen, errors):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


@contextmanager
def wrapped(engine: str, errors: EngineErrors, step: str, sql: str = "") -> Iterator[None]:
    """Run one step, turning an error of the engine's own (`errors`, raised directly or as the
    cause of another, e.g. Splink's) into one `ComputeError` naming `step`, `engine` and `sql`.

    An `FpcreditError` passes unchanged: it was wrapped already (steps nest), or it says
    something else (no Java). Any other error is a fault of ours, not the engine's: it passes
    too, so that it keeps its own type and traceback."""
    try:
        yield
    except FpcreditError:
        raise
    except Exception as e:
        cause = _engine_error(e, errors)
        if cause is None:
            raise
        message = text("compute.failed", step=step, engine=engine, error=type(cause).__name__)
        raise ComputeError(message, engine=engine, step=step, sql=sql) from e


class Engine(ABC):
    """Run SQL over registered tables. Subclasses implement the four `_` methods and name the
    exceptions their engine raises in `errors`."""

    name = "engine"
    errors: ClassVar[EngineErrors] = ()

    @final
    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table queryable as `name` (replacing any table of that name)."""
        with wrapped(self.name, self.errors, f"register {name}"):
            self._register(name, table)

    @final
    def materialise(self, name: str, sql: str) -> None:
        """Store the result of `sql` as table `name` for later statements."""
        started = time.perf_counter()
        with wrapped(self.name, self.errors, name, sql):
            self._materialise(name, sql)
        log.debug("%s: %s in %.3f s", self.name, name, time.perf_counter() - started)

    @final
    def arrow(self, sql: str) -> pa.Table:
        """The result of a query as an Arrow table."""
        started = time.perf_counter()
        with wrapped(self.name, self.errors, "query", sql):
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
