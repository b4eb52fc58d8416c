"""The service's in-memory results (evaluate/results.py): every served value as the file has it."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from fpcredit.config import Settings
from fpcredit.evaluate.results import Results
from fpcredit.evaluate.run import file_sha256
from fpcredit.guard.trail.log import record_rows
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now
from tests.clocks import Seconds

DAY = dt.date(2026, 6, 30)
SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("total", pa.decimal128(7, 2)),
        ("grade", pa.string()),
        ("points", pa.int64()),
        ("policy_id", pa.string()),
        ("policy_version", pa.string()),
        ("policy_sha256", pa.string()),
        ("score_date", pa.date32()),
        ("grade_date", pa.date32()),
        ("dim_basic", pa.decimal128(7, 2)),
        ("B01_score", pa.int32()),
        ("B01_value", pa.float64()),  # not served: explain shows values
        ("R05_score", pa.int64()),
    ]
)


def _publish(store: Store, home: Path, rows: list[dict[str, Any]], name: str) -> None:
    path = home / "evaluations" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: r["person_id"])
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)
    with store.engine.begin() as conn:
        made = conn.execute(
            s.evaluations.insert().values(
                kind="official",
                as_of=DAY,
                score_date=DAY,
                grade_date=DAY,
                known_at=utc_now(),
                policy_id="default",
                policy_version="1",
                policy_sha256="0" * 64,
                persons=len(rows),
                path=f"evaluations/{name}",
                summary="{}",
                created_at=utc_now(),
                results_sha256=file_sha256(path),
            )
        ).inserted_primary_key
        assert made is not None
        record_rows(
            conn, "evaluations", made[0], made[0], "test", "publish", keys_dir=store.keys_dir
        )


_centi = st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=2, allow_nan=False))
_score = st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))


@st.composite
def _rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(st.lists(st.integers(1, 2**62), min_size=1, max_size=30, unique=True))
    return [
        {
            "person_id": pid,
            "total": draw(_centi),
            "grade": draw(st.sampled_from(["A", "B", "C", "D", None])),
            "points": draw(st.one_of(st.none(), st.integers(-(10**9), 10**9))),
            "policy_id": "default",
            "policy_version": "1",
            "policy_sha256": "0" * 64,
            "score_date": DAY,
            "grade_date": DAY,
            "dim_basic": draw(_centi),
            "B01_score": draw(_score),
            "B01_value": 1.5,
            "R05_score": draw(_score),
        }
        for pid in ids
    ]


def _expected(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "B01_value"}
    for k in ("total", "dim_basic"):
        out[k] = None if row[k] is None else f"{Decimal(row[k]):.2f}"
    return out


@examples(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=_rows())
def test_each_row_is_served_as_stored(
    store: Store, tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    home = tmp_path / f"h{time.monotonic_ns()}"
    with store.engine.begin() as conn:
        conn.execute(s.evaluations.delete())
    _publish(store, home, rows, "e.parquet")
    results = Results(store, home)
    for row in rows:
        got = results.person(row["person_id"])
        assert got == _expected(row)
        assert list(got) == [c for c in SCHEMA.names if c != "B01_value"]  # the file's order
    known = {r["person_id"] for r in rows}
    for pid in (0, max(known) + 1, min(known) - 1):
        if pid not in known:
            assert results.person(pid) is None


def test_a_newer_official_evaluation_replaces_the_old(store: Store, settings: Settings) -> None:
    home = settings.home
    first = [{**_blank(7), "grade": "B"}]
    _publish(store, home, first, "one.parquet")
    clock = Seconds()
    results = Results(store, home, recheck_s=1.0, clock=clock)
    assert results.due()  # nothing read yet: the first lookup would ask the store
    assert results.person(7)["grade"] == "B"  # type: ignore[index]
    assert not results.due()
    _publish(store, home, [{**_blank(7), "grade": "A"}, _blank(8)], "two.parquet")
    assert results.person(8) is None  # not rechecked yet
    clock.advance(0.99)
    assert not results.due() and results.person(8) is None
    clock.advance(0.01)
    assert results.due()
    assert results.person(7)["grade"] == "A"  # type: ignore[index]
    assert results.person(8) is not None


def _blank(pid: int) -> dict[str, Any]:
    return {
        "person_id": pid,
        "total": Decimal("50.00"),
        "grade": "C",
        "points": 0,
        "policy_id": "default",
        "policy_version": "1",
        "policy_sha256": "0" * 64,
        "score_date": DAY,
        "grade_date": DAY,
        "dim_basic": None,
        "B01_score": 1,
        "B01_value": 1.0,
        "R05_score": None,
    }
