"""Per-person lookups in the latest official evaluation, held in memory for the service."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from fpcredit.evaluate.run import results_refused
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["Results"]


class Results:
    """The rows of the newest official evaluation, by person id.

    The evaluation's Parquet file is sorted by person id (evaluate.run.wide), so a lookup is a
    binary search. Whether a newer evaluation exists is asked at most every `recheck_s` seconds,
    so lookups cost no database round trip.
    """

    def __init__(
        self,
        store: Store,
        home: Path,
        recheck_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock  # seconds, monotonic; a test moves its own
        self._home = home
        self._recheck_s = recheck_s
        self._lock = threading.Lock()
        self._run: dict[str, Any] | None = None
        self._rows = _Rows({})
        self._ids: np.ndarray[Any, np.dtype[np.int64]] = np.empty(0, dtype=np.int64)
        self._checked = -float("inf")
        # Why the newest evaluation is not served (its file or row was changed), or None.
        self.refused: str | None = None

    def due(self) -> bool:
        """Whether the next lookup would first ask the store for a newer evaluation (and maybe
        read its file): a caller on an event loop runs `run()` in a thread first."""
        return self._clock() - self._checked >= self._recheck_s

    def _refresh(self) -> None:
        now = self._clock()
        if now - self._checked < self._recheck_s:
            return
        with self._lock:
            if now - self._checked < self._recheck_s:
                return
            e = s.evaluations
            query = sa.select(e).where(e.c.kind == "official").order_by(e.c.id.desc()).limit(1)
            with self._store.engine.connect() as conn:
                row = conn.execute(query).mappings().first()
            if row is not None and (self._run is None or self._run["id"] != row["id"]):
                path = self._home / row["path"]
                if path.exists():
                    self._load(row, path)
            self._checked = now

    def _load(self, row: Any, path: Path) -> None:
        """Hold the evaluation's rows in memory, once its file and row are vouched for; a
        changed one is refused (nothing is served until a good evaluation is stored)."""
        with self._store.engine.connect() as conn:
            refused = results_refused(conn, row, path)
        if refused is not None:
            self.refused, self._run = refused, None
            self._rows, self._ids = _Rows({}), np.empty(0, dtype=np.int64)
            return
        table = pq.read_table(path)
        self._ids = table.column("person_id").to_numpy().astype(np.int64)
        self._rows = _Rows(
            {name: table.column(name) for name in table.column_names if _served(name)}
        )
        self._run, self.refused = dict(row), None

    def run(self) -> dict[str, Any] | None:
        """The evaluation the lookups come from (its `evaluations` row), or None."""
        self._refresh()
        return self._run

    def person(self, person_id: int) -> dict[str, Any] | None:
        """One person's row: total, grade, points, policy, dimensions and indicator scores."""
        self._refresh()
        ids = self._ids
        at = int(ids.searchsorted(person_id))
        if at >= len(ids) or ids[at] != person_id:
            return None
        return self._rows.row(at, person_id)


# The columns a lookup returns: totals, grade, points, provenance, dimension and indicator scores
# (the per-indicator values and statuses stay in the file; `explain` shows them).
_SERVED = frozenset(
    {"person_id", "total", "grade", "points", "policy_id", "policy_version", "policy_sha256",
     "score_date", "grade_date"}
)  # fmt: skip


def _served(name: str) -> bool:
    return name in _SERVED or name.startswith("dim_") or name.endswith("_score")


class _Rows:
    """The served columns, held compactly: the numeric ones as one float64 matrix (a million
    persons' scores in 8 bytes each, exact at these sizes, NaN for null), read a row at a time
    in one call; the others as lists."""

    def __init__(self, columns: dict[str, pa.ChunkedArray]) -> None:
        numeric: list[np.ndarray[Any, np.dtype[np.float64]]] = []
        # Per served column, in order: (name, position in the matrix, or -1 for a list, or -2 for
        # the id; integer; decimal places).
        self._plan: list[tuple[str, int, bool, int | None]] = []
        self._lists: dict[str, list[Any]] = {}
        for name, column in columns.items():
            kind = column.type
            if name == "person_id":  # the key: served as asked, never through a float
                self._plan.append((name, -2, True, None))
                continue
            if pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_floating(kind):
                places = kind.scale if pa.types.is_decimal(kind) else None
                floats = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
                self._plan.append((name, len(numeric), pa.types.is_integer(kind), places))
                numeric.append(np.asarray(floats, dtype=np.float64))
            else:
                self._plan.append((name, -1, False, None))
                self._lists[name] = column.to_pylist()
        self._matrix = np.column_stack(numeric) if numeric else np.empty((0, 0))

    def row(self, at: int, person_id: int) -> dict[str, Any]:
        """Row `at`, the person `person_id` (the id as looked up, not as a float)."""
        numbers = self._matrix[at].tolist() if self._matrix.size else []
        out: dict[str, Any] = {}
        for name, pos, integer, places in self._plan:
            if pos == -2:
                out[name] = person_id
                continue
            if pos < 0:
                out[name] = _plain(self._lists[name][at])
                continue
            value = numbers[pos]
            if value != value:  # NaN: a null
                out[name] = None
            elif integer:
                out[name] = int(value)
            else:
                out[name] = f"{value:.{places}f}" if places is not None else value
        return out


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value
