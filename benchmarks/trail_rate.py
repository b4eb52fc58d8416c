"""Audit-trail append rate on SQLite: one by one (each committed) and batched, with baselines.

    .venv/bin/python benchmarks/ledger_rate.py --single 3000 --batch 200000

Prints one JSON object. Next to each trail figure, the same number of bare INSERTs into a
one-column table of the same database, in the same process: one committed transaction per row
through SQLAlchemy for `single`, one driver executemany for `batch` — and, for `batch`, the very
rows the trail writes (precomputed, same columns — MAC, format and address included — and
subject index) inserted bare, which is the
ceiling of any design that stores one row per entry. The one-by-one run is
repeated with ``PRAGMA synchronous=FULL`` (an fsync per commit: durable across power loss, not
only across a killed process), and the finished log is verified once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.guard.trail.log import Event, Trail
from fpcredit.guard.trail.verify import verify
from fpcredit.store import schema as s
from fpcredit.store.bulk import bulk_insert
from fpcredit.store.db import Store, open_store, utc_now

_MD = sa.MetaData()
BASELINE = sa.Table("bench_baseline", _MD, sa.Column("x", sa.Integer))
# The trail's entry table again, with its subject-tag index: the same rows, inserted bare.
SHAPED = sa.Table(
    "bench_entries",
    _MD,
    *(
        sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
        for c in s.ledger_entries.columns
    ),
    sa.Index("ix_bench_entries_subject_tag", "subject_tag"),
)
ACCESS_COLUMNS = (
    "idx",
    "at",
    "actor",
    "action",
    "outcome",
    "subject_hash",
    "purpose",
    "leaf_hash",
    "subject_tag",
    "v",
    "address",
    "mac",
)


def _open(home: Path, full_sync: bool) -> tuple[Store, Settings]:
    settings = Settings(home=home)
    store = open_store(settings)
    if full_sync:
        # Runs after the store's own pragmas (listeners run in order), so it overrides NORMAL.
        sa.event.listen(store.engine, "connect", lambda c, _r: c.execute("PRAGMA synchronous=FULL"))
    store.upgrade()
    with store.engine.begin() as conn:
        _MD.create_all(conn)
    return store, settings


def _rate(n: int, seconds: float) -> dict[str, Any]:
    return {"n": n, "seconds": round(seconds, 3), "per_s": round(n / seconds)}


def _single(store: Store, trail: Trail, n: int) -> dict[str, Any]:
    start = time.perf_counter()
    for i in range(n):
        with store.engine.begin() as conn:
            conn.execute(BASELINE.insert().values(x=i))
    bare = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(n):
        trail.append("bench:clerk", "read", subject=f"p{i % 997}", purpose="credit_evaluation")
    mine = time.perf_counter() - start
    return {
        "bare_insert": _rate(n, bare),
        "ledger_append": _rate(n, mine),
        "ledger_vs_bare": round(bare / mine, 3),
    }


def _batch(store: Store, trail: Trail, n: int) -> dict[str, Any]:
    start = time.perf_counter()
    with store.engine.begin() as conn:
        bulk_insert(conn, BASELINE, ["x"], ((i,) for i in range(n)))
    bare = time.perf_counter() - start
    at = utc_now().isoformat(sep=" ", timespec="microseconds")
    subjects = [hashlib.sha256(f"p{i}".encode()).hexdigest() for i in range(100_003)]
    rows = [
        (
            i,
            at,
            "bench:svc",
            "read",
            "ok",
            subjects[i % 100_003],
            "credit_evaluation",
            hashlib.sha256(str(i).encode()).digest(),
            int(subjects[i % 100_003][:15], 16),
            2,
            None,
            hashlib.sha256(str(-i).encode()).digest(),
        )
        for i in range(n)
    ]
    start = time.perf_counter()
    with store.engine.begin() as conn:
        bulk_insert(conn, SHAPED, ACCESS_COLUMNS, rows)
    shaped = time.perf_counter() - start
    events = [
        Event("bench:svc", "read", subject=f"p{i % 100_003}", purpose="credit_evaluation")
        for i in range(n)
    ]
    start = time.perf_counter()
    trail.append_many(events)
    mine = time.perf_counter() - start
    return {
        "bare_insert": _rate(n, bare),
        "entry_rows_insert": _rate(n, shaped),
        "ledger_append_many": _rate(n, mine),
        "ledger_vs_bare": round(bare / mine, 3),
        "ledger_vs_entry_rows": round(shaped / mine, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--single", type=int, default=3000, help="one-by-one appends")
    parser.add_argument("--batch", type=int, default=200_000, help="entries in one batch")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store, settings = _open(Path(tmp) / "normal", full_sync=False)
        trail = Trail(store, settings)
        trail.append("bench:clerk", "warm_up")
        out["single_synchronous_normal"] = _single(store, trail, args.single)
        out["batch"] = _batch(store, trail, args.batch)
        trail.checkpoint()
        start = time.perf_counter()
        report = verify(store, settings)
        out["verify"] = {
            "ok": report["ok"],
            "entries": report["entries"],
            "seconds": round(time.perf_counter() - start, 2),
        }
        store.engine.dispose()
        store, settings = _open(Path(tmp) / "full", full_sync=True)
        trail = Trail(store, settings)
        trail.append("bench:clerk", "warm_up")
        out["single_synchronous_full"] = _single(store, trail, args.single)
        store.engine.dispose()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
