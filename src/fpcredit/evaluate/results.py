"""Per-person lookups in the latest official evaluation, held in memory for the service."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["Results"]


class Results:
    """The rows of the newest official evaluation, by person id.

    The evaluation's Parquet file is sorted by person id (evaluate.run.wide), so a lookup is a
    binary search. Whether a newer evaluation exists is asked at most every `recheck_s` seconds,
    so lookups cost no database round trip.
    """

    def __init__(self, store: Store, home: Path, recheck_s: float = 5.0) -> None:
        self._store = store
        self._home = home
        self._recheck_s = recheck_s
        self._lock = threading.Lock()
        self._run: dict[str, Any] | None = None
        self._columns: dict[str, Any] = {}
        self._ids: np.ndarray[Any, np.dtype[np.int64]] = np.empty(0, dtype=np.int64)
        self._checked = -float("inf")

    def _refresh(self) -> None:
        now = time.monotonic()
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
                    table = pq.read_table(path)
                    self._ids = table.column("person_id").to_numpy().astype(np.int64)
                    # Column arrays, so that a lookup reads one item of each (no row slicing).
                    self._columns = {
                        name: _values(table.column(name))
                        for name in table.column_names
                        if _served(name)
                    }
                    self._run = dict(row)
            self._checked = now

    def run(self) -> dict[str, Any] | None:
        """The evaluation the lookups come from (its `evaluations` row), or None."""
        self._refresh()
        return self._run

    def person(self, person_id: int) -> dict[str, Any] | None:
        """One person's row: total, grade, points, policy, dimensions and indicator scores."""
        self._refresh()
        ids, columns = self._ids, self._columns
        at = int(np.searchsorted(ids, person_id))
        if at >= len(ids) or ids[at] != person_id:
            return None
        return {name: _plain(values[at]) for name, values in columns.items()}


# The columns a lookup returns: totals, grade, points, provenance, dimension and indicator scores
# (the per-indicator values and statuses stay in the file; `explain` shows them).
_SERVED = frozenset(
    {"person_id", "total", "grade", "points", "policy_id", "policy_version", "policy_sha256",
     "score_date", "grade_date"}
)  # fmt: skip


def _served(name: str) -> bool:
    return name in _SERVED or name.startswith("dim_") or name.endswith("_score")


@dataclass(frozen=True)
class _Numbers:
    """A numeric column held as float64 (NaN for null): a million values in 8 MB, not 30."""

    values: np.ndarray[Any, np.dtype[np.float64]]
    integer: bool
    places: int | None  # decimal places of a DECIMAL column, shown as text

    def __getitem__(self, at: int) -> Any:
        value = float(self.values[at])
        if value != value:  # NaN: a null
            return None
        if self.integer:
            return int(value)
        return f"{value:.{self.places}f}" if self.places is not None else value


def _values(column: pa.ChunkedArray) -> Any:
    """A column held compactly: numbers as float64 (exact for these sizes), the rest as lists."""
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_floating(kind):
        places = kind.scale if pa.types.is_decimal(kind) else None
        floats = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        return _Numbers(np.asarray(floats, dtype=np.float64), pa.types.is_integer(kind), places)
    return column.to_pylist()


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value
